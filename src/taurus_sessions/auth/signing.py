"""SDK-HMAC-SHA256: the one canonicalizer, used by the service to verify and by the CLI to sign.

As the official SDKs build it: the method; the path, each segment percent-encoded (only ``~``
kept besides letters, digits and ``_.-``) with a trailing ``/``; the query as sorted ``key=value``
pairs encoded the same way; the signed headers as ``name:value`` lines (names lower-case, values
trimmed); a blank line; the signed header names joined by ``;``; the hex SHA-256 of the body.
The string to sign is ``SDK-HMAC-SHA256\\n<X-Sdk-Date>\\n<hex SHA-256 of the canonical request>``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote, urlsplit

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "X-Sdk-Date"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
CONTENT_SHA256_HEADER = "X-Sdk-Content-Sha256"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def _encode(text: str) -> str:
    return quote(text, safe="~")


def canonical_uri(path: str) -> str:
    encoded = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def parse_query(raw_query: str) -> list[tuple[str, str]]:
    """Pairs from a raw query string, decoded as the web framework decodes them for the verifier."""
    return parse_qsl(raw_query, keep_blank_values=True)


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in sorted(pairs))


def canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_sha256: str,
) -> str:
    """``headers`` has lower-case names; every name in ``signed_headers`` must be present."""
    lines = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            lines,
            ";".join(signed_headers),
            payload_sha256,
        ]
    )


def string_to_sign(sdk_date: str, canonical: str) -> str:
    return f"{ALGORITHM}\n{sdk_date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


def signature(secret_key: str, to_sign: str) -> str:
    return hmac.new(secret_key.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Authorization:
    access_key: str
    signed_headers: list[str]
    signature: str


_AUTHORIZATION = re.compile(
    r"SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]+)\s*"
)


def parse_authorization(value: str) -> Authorization | None:
    match = _AUTHORIZATION.fullmatch(value.strip())
    if match is None:
        return None
    signed = match.group(2).lower().split(";")
    if any(not name for name in signed):
        return None
    return Authorization(match.group(1), signed, match.group(3).lower())


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    access_key: str,
    secret_key: str,
    now: datetime | None = None,
) -> dict[str, str]:
    """Headers for an HTTP request signed as the SDKs sign it (``Host``, date and all given ones)."""
    parts = urlsplit(url)
    signed = {name: value for name, value in headers.items() if "_" not in name}
    signed["Host"] = parts.netloc
    signed[DATE_HEADER] = (now or datetime.now(UTC)).strftime(DATE_FORMAT)
    lower = {name.lower(): value for name, value in signed.items()}
    names = sorted(lower)
    payload = hashlib.sha256(body).hexdigest() if body else EMPTY_BODY_SHA256
    canonical = canonical_request(method, parts.path, parse_query(parts.query), lower, names, payload)
    proof = signature(secret_key, string_to_sign(signed[DATE_HEADER], canonical))
    signed["Authorization"] = (
        f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(names)}, Signature={proof}"
    )
    return signed

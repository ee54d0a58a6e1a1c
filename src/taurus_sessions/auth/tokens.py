"""IAM-style tokens behind two methods, ``issue`` and ``validate``.

A token is a Fernet token (AES-CBC + HMAC-SHA256) over a small JSON payload, so it cannot be
forged or altered without the key. Keys rotate: the newest key signs, every kept key verifies
(``MultiFernet``). Expiry is our own claim rather than Fernet's TTL, so that an expired token
(APIGW.0307) can be told apart from a forged one (APIGW.0301).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from taurus_sessions import metrics
from taurus_sessions.errors import AuthenticationFailed, TokenExpired

PAYLOAD_VERSION = 1
TICKET_KIND = "download"
OPENED_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    project_id: str
    methods: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime


class NoTokenKeys(RuntimeError):
    pass


class TokenProvider:
    def __init__(self, keys: Sequence[bytes], ttl_seconds: int, clock: Callable[[], float]) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._fernet = self._build(keys)
        # Tokens already opened (a client sends the same one on every call): skips the AES and
        # HMAC work. Expiry is still checked on every use; new keys empty the cache.
        self._opened: OrderedDict[str, TokenClaims] = OrderedDict()

    def __repr__(self) -> str:
        return "TokenProvider(<keys hidden>)"

    @staticmethod
    def _build(keys: Sequence[bytes]) -> MultiFernet:
        if not keys:
            raise NoTokenKeys("no token keys: run `taurus-sessions init` (or `keys rotate`) first")
        return MultiFernet([Fernet(key) for key in keys])

    def replace_keys(self, keys: Sequence[bytes]) -> None:
        self._fernet = self._build(keys)
        self._opened.clear()

    def issue(self, user_id: str, project_id: str, methods: Sequence[str]) -> tuple[str, TokenClaims]:
        now_ms = int(self._clock() * 1000)
        now = now_ms // 1000
        claims = TokenClaims(
            user_id=user_id,
            project_id=project_id,
            methods=tuple(methods),
            issued_at=datetime.fromtimestamp(now_ms / 1000, UTC),
            expires_at=datetime.fromtimestamp(now_ms / 1000 + self._ttl, UTC),
        )
        payload = {"v": PAYLOAD_VERSION, "u": user_id, "p": project_id, "m": list(methods)}
        # "n": the issue time in milliseconds, so that a password change invalidates the tokens
        # issued a moment before it and none issued a moment after.
        payload |= {"i": now, "n": now_ms, "e": now + self._ttl}
        token = self._fernet.encrypt_at_time(orjson.dumps(payload), now).decode()
        return token, claims

    def validate(self, token: str) -> TokenClaims:
        claims = self._opened.get(token)
        metrics.cache_lookup("token", claims is not None)
        if claims is None:
            claims = self._open(token)
            self._opened[token] = claims
            if len(self._opened) > OPENED_CACHE_SIZE:
                self._opened.popitem(last=False)
        if claims.expires_at.timestamp() <= self._clock():
            raise TokenExpired()
        return claims

    def sign_ticket(self, claims: dict[str, str]) -> str:
        """A short-lived ticket for a download link: signed and dated like a token, under the same
        rotating keys (so every replica honours it), and never taken for a token (its kind)."""
        payload = {"k": TICKET_KIND, **claims}
        return self._fernet.encrypt_at_time(orjson.dumps(payload), int(self._clock())).decode()

    def read_ticket(self, ticket: str, ttl_seconds: int) -> dict[str, Any] | None:
        """The ticket's claims, or None when it is forged, altered or older than ``ttl_seconds``."""
        try:
            raw = self._fernet.decrypt_at_time(ticket.encode("ascii"), ttl_seconds, int(self._clock()))
            payload = orjson.loads(raw)
        except (InvalidToken, UnicodeEncodeError, ValueError):
            return None
        return payload if isinstance(payload, dict) and payload.get("k") == TICKET_KIND else None

    def _open(self, token: str) -> TokenClaims:
        try:
            payload = orjson.loads(self._fernet.decrypt(token.encode("ascii")))
            claims = TokenClaims(
                user_id=str(payload["u"]),
                project_id=str(payload["p"]),
                methods=tuple(str(m) for m in payload["m"]),
                issued_at=datetime.fromtimestamp(int(payload.get("n", int(payload["i"]) * 1000)) / 1000, UTC),
                expires_at=datetime.fromtimestamp(int(payload["e"]), UTC),
            )
        except (InvalidToken, UnicodeEncodeError, ValueError, KeyError, TypeError) as exc:
            raise AuthenticationFailed(AuthenticationFailed.DECRYPT_FAIL) from exc
        if payload.get("v") != PAYLOAD_VERSION:
            raise AuthenticationFailed(AuthenticationFailed.DECRYPT_FAIL)
        return claims


def generate_key() -> bytes:
    return Fernet.generate_key()

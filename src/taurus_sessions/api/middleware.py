"""The outermost layer of every request, cheapest checks first: request id, client address, the
per-address throttle, the Host allow-list, the body cap, security headers on every answer, the
catch-all and the access log.

Pure ASGI (no per-request task or body buffering) because it wraps every call on the hot path.
Anything unexpected that escapes the routes ends here as DBS.108000, logged with the request id;
the log line never contains headers or bodies.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taurus_sessions import metrics
from taurus_sessions.api.responses import api_error_response
from taurus_sessions.auth.throttles import Buckets
from taurus_sessions.errors import ApiError, EntityTooLarge, InternalError, ParameterError, Throttled
from taurus_sessions.language import Language
from taurus_sessions.logs import request_id_var

log = logging.getLogger("taurus_sessions.access")

SCOPE_KEY = "taurus"

# Spec Part H: no inline script or style, never framed, no sniffing, no referrer. The API's JSON
# carries the same headers; a browser treats them alike.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_SECURITY_RAW = [
    (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in SECURITY_HEADERS.items()
]
_OURS = frozenset({b"x-request-id", *(name for name, _ in _SECURITY_RAW)})
_WILDCARD_LISTEN = {"", "0.0.0.0", "::", "[::]"}  # noqa: S104 (names, not a bind)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def host_name(host_header: str) -> str:
    """``Host`` without its port: ``[::1]:8080`` → ``::1``, ``db.example:80`` → ``db.example``."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


@dataclass(frozen=True)
class HostAllowList:
    """Host names this service answers to, so a web page whose name was rebound to 127.0.0.1 cannot
    drive the API from a browser (its requests carry its own name in ``Host``). Entries are names
    or addresses, ``*.example.com`` or ``*``; any port is fine. By default: the listen address,
    ``localhost`` and the loopback addresses; a wildcard listen address also admits any IP literal
    (a rebinding page always sends a name)."""

    names: frozenset[str]
    suffixes: tuple[str, ...] = ()
    any_ip: bool = False
    any_host: bool = False

    @classmethod
    def build(cls, allowed: Sequence[str], listen_host: str) -> HostAllowList:
        entries = [entry.strip().lower() for entry in allowed if entry.strip()]
        if not entries:
            entries = [listen_host.strip("[]").lower(), "localhost", "127.0.0.1", "::1"]
        return cls(
            names=frozenset(e for e in entries if not e.startswith("*")),
            suffixes=tuple(e[1:] for e in entries if e.startswith("*.")),
            any_ip=listen_host in _WILDCARD_LISTEN,
            any_host="*" in entries,
        )

    def admits(self, host_header: str | None) -> bool:
        if self.any_host:
            return True
        if not host_header:
            return False
        name = host_name(host_header)
        return name in self.names or name.endswith(self.suffixes) or (self.any_ip and _is_ip(name))


@dataclass(frozen=True)
class ClientAddress:
    """The client's address: the peer, or — behind proxies the operator trusts — the rightmost
    address in ``X-Forwarded-For`` that is not one of those proxies (entries further left were
    written by the client itself and prove nothing). It must parse as an IP address."""

    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(default=())

    @classmethod
    def build(cls, trusted_proxies: Sequence[str]) -> ClientAddress:
        return cls(tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies))

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    def of(self, scope: Scope) -> str | None:
        peer = scope.get("client")
        ip: str | None = peer[0] if peer else None
        if not ip or not self.trusted or not self._is_trusted(ip):
            return ip
        forwarded = _header(scope, b"x-forwarded-for")
        if not forwarded:
            return ip
        hops = [hop.strip() for hop in forwarded.split(",")]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop if _is_ip(hop) else ip
        return hops[0] if _is_ip(hops[0]) else ip

    def scheme_of(self, scope: Scope) -> str | None:
        """``https`` or ``http`` as a trusted proxy says the client spoke (X-Forwarded-Proto), so
        links the service writes into answers (catalog URLs, download links) use the client's
        scheme behind a TLS-terminating proxy; None when the peer is not trusted or says nothing."""
        peer = scope.get("client")
        if not peer or not self.trusted or not self._is_trusted(peer[0]):
            return None
        proto = (_header(scope, b"x-forwarded-proto") or "").split(",")[0].strip().lower()
        return proto if proto in ("http", "https") else None


def operation_of(scope: Scope) -> str:
    """The operation a request went to (its OpenAPI operation id, a mount's name), for metrics; a
    request no route took is "unmatched" (a path is never a label: strangers choose paths)."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    return str(getattr(route, "operation_id", None) or getattr(route, "name", None) or "unmatched")


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        trusted_proxies: Sequence[str] = (),
        source_limit: Buckets | None = None,
        allowed_hosts: HostAllowList | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.client_address = ClientAddress.build(trusted_proxies)
        self.source_limit = source_limit
        self.allowed_hosts = allowed_hosts

    def _refusal(self, scope: Scope, source: str | None) -> ApiError | None:
        """The cheap checks that come before any routing, in order."""
        if self.source_limit is not None and not self.source_limit.take(source or "-"):
            metrics.throttled("source")
            return Throttled()
        if self.allowed_hosts is not None and not self.allowed_hosts.admits(_header(scope, b"host")):
            return ParameterError("this service does not answer to the name in the Host header")
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return EntityTooLarge()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = os.urandom(16).hex()  # as random as uuid4().hex, a fifth of the cost
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        source = self.client_address.of(scope)
        scheme = self.client_address.scheme_of(scope)
        if scheme is not None:
            scope["scheme"] = scheme
        scope[SCOPE_KEY] = {"request_id": request_id, "source_ip": source, "started": started}
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # What MutableHeaders' assignments would leave (ours replace any the app set), in
                # one pass over the headers rather than one per assignment.
                headers = [item for item in message.get("headers", ()) if item[0].lower() not in _OURS]
                headers += _SECURITY_RAW
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message["headers"] = headers
            await send(message)

        received = 0
        limit = self.max_body_bytes

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise EntityTooLarge()
            return message

        try:
            refusal = self._refusal(scope, source)
            if refusal is not None:
                await self._send_error(scope, send_with_id, refusal)
            else:
                await self.app(scope, capped_receive, send_with_id)
        except Exception:
            log.exception("unhandled error", extra={"path": scope.get("path")})
            if status == 0:
                await self._send_error(scope, send_with_id, InternalError())
        finally:
            elapsed = time.perf_counter() - started
            operation = operation_of(scope)
            metrics.child(metrics.HTTP_REQUESTS, operation, str(status)).inc()
            metrics.child(metrics.HTTP_DURATION, operation).observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "client": source,
                },
            )
            request_id_var.reset(token)

    @staticmethod
    async def _send_error(scope: Scope, send: Send, exc: ApiError) -> None:
        language = Language.from_header(_header(scope, b"x-language"))
        response = api_error_response(exc, language)
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}

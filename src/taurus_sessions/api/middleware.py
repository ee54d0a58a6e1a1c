"""The outermost layer of every request: request id, client address, body cap, catch-all, access log.

Pure ASGI (no per-request task or body buffering) because it wraps every call on the hot path.
Anything unexpected that escapes the routes ends here as DBS.108000, logged with the request id;
the log line never contains headers or bodies.
"""

from __future__ import annotations

import ipaddress
import logging
import time
import uuid
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taurus_sessions.api.responses import api_error_response
from taurus_sessions.errors import EntityTooLarge, InternalError
from taurus_sessions.language import Language
from taurus_sessions.logs import request_id_var

log = logging.getLogger("taurus_sessions.access")

SCOPE_KEY = "taurus"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, trusted_proxies: Sequence[str] = ()) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    def _client_ip(self, scope: Scope) -> str | None:
        peer = scope.get("client")
        ip = peer[0] if peer else None
        if ip and self.trusted:
            try:
                trusted = any(ipaddress.ip_address(ip) in net for net in self.trusted)
            except ValueError:
                trusted = False
            forwarded = _header(scope, b"x-forwarded-for")
            if trusted and forwarded:
                return forwarded.split(",")[0].strip()[:64]
        return ip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        scope[SCOPE_KEY] = {"request_id": request_id, "source_ip": self._client_ip(scope), "started": started}
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
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
            length = _header(scope, b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                await self._send_error(scope, send_with_id, EntityTooLarge())
            else:
                await self.app(scope, capped_receive, send_with_id)
        except Exception:
            log.exception("unhandled error", extra={"path": scope.get("path")})
            if status == 0:
                await self._send_error(scope, send_with_id, InternalError())
        finally:
            log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    "client": scope[SCOPE_KEY]["source_ip"],
                },
            )
            request_id_var.reset(token)

    @staticmethod
    async def _send_error(scope: Scope, send: Send, exc: EntityTooLarge | InternalError) -> None:
        language = Language.from_header(_header(scope, b"x-language"))
        response = api_error_response(exc, language)
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}

"""A lean HTTP/1.1 keep-alive client on asyncio streams, for timing the service.

A general client (httpx) spends more time building requests and parsing responses than the raw
driver spends on a whole query; timing the service through it would charge the client's cost to the
service. This one writes a prepared request and reads one response, nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import orjson


class HttpError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return orjson.loads(self.body)


class HttpConnection:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        # uvicorn closes connections idle for 5 s; the loop has seen that FIN by the next call.
        if self._reader is not None and self._reader.at_eof():
            self.close()
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    def prepare(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> bytes:
        """The request bytes, built once so repeated calls time only the exchange."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")

    async def send(self, request: bytes) -> Response:
        reader, writer = await self._connect()
        writer.write(request)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.close()
            raise HttpError("connection closed before a response") from exc
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked(reader)
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, headers, body)

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader) -> bytes:
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return bytes(body)
            body += await reader.readexactly(size)
            if await reader.readexactly(2) != b"\r\n":
                raise HttpError("malformed chunk")

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> Response:
        return await self.send(self.prepare(method, path, headers, body))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def aclose(self) -> None:
        writer = self._writer
        self.close()
        if writer is not None:
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

"""The session holder: a separate process that keeps thousands of idle sessions open on a node.

It runs apart from the process that times the calls, so opening and holding sessions never steals
the event loop of a measurement. Requests and answers are JSON lines on stdin/stdout (passwords
travel there, never on a command line):

- ``{"op": "open", "host", "port", "user", "password", "database", "count"}`` → ``{"ids": [...]}``;
  with ``"statements": [...]`` each session then sends one of them (in turn) and leaves it running
- ``{"op": "close", "ids": [...]}`` → ``{"closed": n}`` (killed or not, the sockets are released)
- ``{"op": "close_all"}`` → ``{"closed": n}``; ``{"op": "quit"}`` ends the process.
"""

from __future__ import annotations

import asyncio
import resource
import socket
import sys
from typing import Any

import orjson

from bench import eventloop
from bench.wire import close_session, open_session, send_query

CONNECT_TIMEOUT = 10.0
CONNECT_CONCURRENCY = 32  # in-flight handshakes; more only queues up in the server's accept backlog


def raise_open_files_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Holder:
    def __init__(self) -> None:
        self.sessions: dict[int, socket.socket] = {}

    async def open(self, request: dict[str, Any]) -> dict[str, Any]:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        statements: list[str] | None = request.get("statements")

        async def one(index: int) -> tuple[socket.socket, int]:
            async with gate, asyncio.timeout(CONNECT_TIMEOUT):
                sock, thread_id = await open_session(
                    request["host"],
                    int(request["port"]),
                    request["user"],
                    request["password"],
                    request.get("database"),
                )
                if statements:
                    await send_query(sock, statements[index % len(statements)])
                return sock, thread_id

        count = int(request["count"])
        results = await asyncio.gather(*(one(index) for index in range(count)), return_exceptions=True)
        ids: list[int] = []
        errors: list[str] = []
        for result in results:
            if isinstance(result, BaseException):
                errors.append(f"{type(result).__name__}: {result}")
            else:
                sock, thread_id = result
                self.sessions[thread_id] = sock
                ids.append(thread_id)
        if errors:
            return {"ids": ids, "error": f"{len(errors)} sessions failed to open; first: {errors[0]}"}
        return {"ids": ids}

    def close(self, ids: list[int]) -> dict[str, Any]:
        closed = 0
        for thread_id in ids:
            sock = self.sessions.pop(int(thread_id), None)
            if sock is not None:
                close_session(sock)
                closed += 1
        return {"closed": closed}

    def close_all(self) -> dict[str, Any]:
        return self.close(list(self.sessions))


async def serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    holder = Holder()
    limit = raise_open_files_limit()
    _answer({"ready": True, "open_files_limit": limit})
    try:
        while line := await reader.readline():
            request = orjson.loads(line)
            op = request.get("op")
            try:
                if op == "open":
                    answer = await holder.open(request)
                elif op == "close":
                    answer = holder.close(request["ids"])
                elif op == "close_all":
                    answer = holder.close_all()
                elif op == "quit":
                    break
                else:
                    answer = {"error": f"unknown op {op!r}"}
            except Exception as exc:  # report to the caller rather than die with sessions open
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            _answer(answer)
    finally:
        holder.close_all()


def _answer(document: dict[str, Any]) -> None:
    sys.stdout.buffer.write(orjson.dumps(document) + b"\n")
    sys.stdout.buffer.flush()


def main() -> None:
    eventloop.run(serve())


if __name__ == "__main__":
    main()

"""The benchmark's handle on the session holder process (``bench.holder``)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import orjson

from bench.procs import PYTHON, child_env


class HolderError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Login:
    """Where and as whom the holder opens sessions."""

    host: str
    port: int
    user: str
    password: str
    database: str | None

    def __repr__(self) -> str:
        return f"Login({self.user}@{self.host}:{self.port}, password=<hidden>)"


class SessionHolder:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._lock = asyncio.Lock()

    @classmethod
    async def start(cls) -> SessionHolder:
        process = await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            "bench.holder",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=child_env(),
            limit=1 << 24,
        )
        holder = cls(process)
        ready = await holder._read()
        if not ready.get("ready"):
            await holder.stop()
            raise HolderError(f"session holder did not start: {ready}")
        return holder

    @property
    def pid(self) -> int:
        return self._process.pid

    async def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = await self._process.stdout.readline()
        if not line:
            raise HolderError(f"session holder exited (status {self._process.returncode})")
        answer: dict[str, Any] = orjson.loads(line)
        return answer

    async def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None
        async with self._lock:
            self._process.stdin.write(orjson.dumps(request) + b"\n")
            await self._process.stdin.drain()
            answer = await self._read()
        if "error" in answer:
            raise HolderError(str(answer["error"]))
        return answer

    async def open(self, login: Login, count: int, statements: list[str] | None = None) -> list[int]:
        """Open ``count`` idle sessions; their thread ids, in no particular order. With
        ``statements``, each session then runs one of them (in turn) and is left running it."""
        if count <= 0:
            return []
        request: dict[str, Any] = {
            "op": "open",
            "host": login.host,
            "port": login.port,
            "user": login.user,
            "password": login.password,
            "database": login.database,
            "count": count,
        }
        if statements:
            request["statements"] = statements
        answer = await self._call(request)
        ids = [int(i) for i in answer["ids"]]
        if len(ids) != count:
            raise HolderError(f"asked for {count} sessions, got {len(ids)}")
        return ids

    async def close(self, ids: list[int]) -> int:
        if not ids:
            return 0
        return int((await self._call({"op": "close", "ids": ids}))["closed"])

    async def close_all(self) -> int:
        return int((await self._call({"op": "close_all"}))["closed"])

    async def stop(self) -> None:
        process = self._process
        if process.returncode is not None:
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, AssertionError):
            assert process.stdin is not None
            process.stdin.write(b'{"op": "quit"}\n')
            await process.stdin.drain()
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()

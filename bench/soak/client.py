"""The soak's calls to the service: one keep-alive connection per worker, every call logged with
its operation, node, times, status, error code and request id."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson

from bench.http1 import HttpConnection
from bench.soak.ledger import now

REQUEST_TIMEOUT = 60.0  # far above any node deadline: an answer this late is itself a failure
IDLE_RECONNECT = 3.0  # uvicorn drops keep-alive connections idle for 5 s; never race that close


@dataclass(slots=True)
class Call:
    op: str
    node: str | None  # node name (primary | replica) for calls on a node
    method: str
    t0: float  # wall clock, sent
    t1: float  # wall clock, answered (or given up)
    status: int  # 0: no answer
    error_code: str | None
    request_id: str | None
    error: str | None = None  # transport failure
    body: Any = None  # the answer; workers drop what they need not keep

    @property
    def seconds(self) -> float:
        return self.t1 - self.t0

    def as_dict(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "node": self.node,
            "method": self.method,
            "t0": round(self.t0, 3),
            "t1": round(self.t1, 3),
            "status": self.status,
            "error_code": self.error_code,
            "request_id": self.request_id,
            "error": self.error,
        }


class CallLog:
    def __init__(self) -> None:
        self.calls: list[Call] = []

    def add(self, call: Call) -> Call:
        self.calls.append(call)
        return call


@dataclass(frozen=True, slots=True)
class Target:
    project_id: str
    instance_id: str

    def node_path(self, node_id: str) -> str:
        return f"/v3/{self.project_id}/instances/{self.instance_id}/nodes/{node_id}"


class Api:
    """One worker's connection to the service, with the operator's token."""

    def __init__(self, host: str, port: int, token: str, log: CallLog) -> None:
        self._conn = HttpConnection(host, port)
        self._token = token
        self._log = log
        self._last_used = 0.0

    async def call(
        self,
        op: str,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        node: str | None = None,
    ) -> Call:
        if query:
            path = f"{path}?{urlencode(query)}"
        headers = {"X-Auth-Token": self._token}
        payload = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            payload = orjson.dumps(body)
        if time.monotonic() - self._last_used > IDLE_RECONNECT:
            self._conn.close()
        t0 = now()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                response = await self._conn.request(method, path, headers, payload)
        except Exception as exc:
            self._conn.close()
            return self._log.add(
                Call(op, node, method, t0, now(), 0, None, None, error=f"{type(exc).__name__}: {exc}")
            )
        finally:
            self._last_used = time.monotonic()
        t1 = now()
        document: Any = None
        if response.body:
            try:
                document = response.json()
            except orjson.JSONDecodeError:
                document = None
        code = document.get("error_code") if isinstance(document, dict) and response.status >= 400 else None
        return self._log.add(
            Call(
                op,
                node,
                method,
                t0,
                t1,
                response.status,
                code,
                response.headers.get("x-request-id"),
                body=document,
            )
        )

    async def aclose(self) -> None:
        await self._conn.aclose()

"""Sessions that make the demo instance look alive: a monitoring agent and an application.

- ``rdsMetric``: one long-lived connection polling status, as TaurusDB's monitoring agent does
  (internal: never listed, never killed);
- the application account: idle sessions, one running a long statement, one idle in a transaction
  on the primary, and a reader on the replica (user sessions: listed and killable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncmy
from asyncmy.connection import Connection

from taurus_sessions.sandbox.instance import APP_DATABASE, SandboxInstance
from taurus_sessions.sandbox.mariadb import MariaDBServer

log = logging.getLogger(__name__)


async def connect(server: MariaDBServer, user: str, password: str, database: str | None = None) -> Connection:
    return await asyncmy.connect(
        host="127.0.0.1", port=server.port, user=user, password=password, database=database, autocommit=True
    )


async def connection_id(conn: Connection) -> int:
    async with conn.cursor() as cursor:
        await cursor.execute("SELECT CONNECTION_ID()")
        row = await cursor.fetchone()
    return int(row[0])


class DemoWorkload:
    def __init__(self, sandbox: SandboxInstance, idle_sessions: int = 3) -> None:
        self._sandbox = sandbox
        self._idle_sessions = idle_sessions
        self._connections: list[Connection] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.idle_ids: list[int] = []

    async def start(self) -> None:
        sandbox = self._sandbox
        metric = sandbox.accounts["rdsMetric"]
        agent = await self._open(sandbox.primary, metric.user, metric.password, database=None)
        self._tasks.append(asyncio.create_task(self._metric_agent(agent)))
        app = sandbox.app
        for _ in range(self._idle_sessions):
            conn = await self._open(sandbox.primary, app.user, app.password)
            self.idle_ids.append(await connection_id(conn))
        busy = await self._open(sandbox.primary, app.user, app.password)
        self._tasks.append(asyncio.create_task(self._run_quietly(busy, "SELECT SLEEP(86400) AS report")))
        in_trx = await self._open(sandbox.primary, app.user, app.password)
        async with in_trx.cursor() as cursor:
            await cursor.execute("BEGIN")
            # a table of its own, so that experiments with row locks on `orders` start from clean
            await cursor.execute("SELECT * FROM jobs WHERE id = 1 FOR UPDATE")
            await cursor.fetchall()
        if sandbox.replica is not None:
            reader = await self._open(sandbox.replica, app.user, app.password)
            self._tasks.append(
                asyncio.create_task(self._run_quietly(reader, "SELECT SLEEP(86400) AS replica_report"))
            )

    async def _open(
        self, server: MariaDBServer, user: str, password: str, database: str | None = APP_DATABASE
    ) -> Connection:
        conn = await connect(server, user, password, database)
        self._connections.append(conn)
        return conn

    @staticmethod
    async def _metric_agent(conn: Connection) -> None:
        while True:
            with contextlib.suppress(asyncmy.errors.Error):
                async with conn.cursor() as cursor:
                    await cursor.execute("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
                    await cursor.fetchall()
            await asyncio.sleep(5)

    @staticmethod
    async def _run_quietly(conn: Connection, statement: str) -> None:
        # Killing this session is the point of the demo: the error that follows is expected.
        with contextlib.suppress(asyncmy.errors.Error, OSError):
            async with conn.cursor() as cursor:
                await cursor.execute(statement)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for conn in self._connections:
            conn.close()

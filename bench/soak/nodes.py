"""One node of the soak: its MariaDB server, the fault proxy the service reaches it through, and
the soak's own direct view of it (sessions opened on it, a root connection that checks them).

The soak never goes through the proxy itself: what it opens and what it checks talks to the server
directly, so a blackhole cuts the service off from a node while the soak still sees the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field

import asyncmy
from asyncmy.connection import Connection

from bench.holder_client import Login
from bench.soak.ledger import Ledger, Session, now
from bench.soak.proxy import FaultProxy
from bench.wire import open_session
from taurus_sessions.sandbox.mariadb import MariaDBServer

CONNECT_CONCURRENCY = 8
CONNECT_TIMEOUT = 5.0
PROBE_TIMEOUT = 5.0


class NodeDown(RuntimeError):
    """The server cannot be asked right now (it is being restarted)."""


class Probe:
    """A root connection straight to the server: which of a set of sessions are still there."""

    def __init__(self, port: int, user: str, password: str) -> None:
        self._port = port
        self._user = user
        self._password = password
        self._conn: Connection | None = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> Connection:
        if self._conn is None:
            async with asyncio.timeout(PROBE_TIMEOUT):
                self._conn = await asyncmy.connect(
                    host="127.0.0.1",
                    port=self._port,
                    user=self._user,
                    password=self._password,
                    autocommit=True,
                    connect_timeout=PROBE_TIMEOUT,
                )
        return self._conn

    async def rows(self, statement: str) -> list[tuple[object, ...]]:
        async with self._lock:
            try:
                conn = await self._connection()
                async with asyncio.timeout(PROBE_TIMEOUT), conn.cursor() as cursor:
                    await cursor.execute(statement)
                    return list(await cursor.fetchall())
            except (TimeoutError, OSError, asyncmy.errors.Error) as exc:
                self.close()
                raise NodeDown(f"probe failed: {type(exc).__name__}: {exc}") from exc

    async def present(self, ids: list[int]) -> set[tuple[int, str]]:
        """(id, host) of those threads that are on the server and not being killed."""
        if not ids:
            return set()
        listed = ",".join(str(int(i)) for i in sorted(set(ids)))
        rows = await self.rows(
            "SELECT ID, HOST FROM information_schema.PROCESSLIST "
            f"WHERE ID IN ({listed}) AND COMMAND <> 'Killed'"
        )
        return {(int(str(r[0])), str(r[1])) for r in rows}

    async def everything(self) -> set[tuple[int, str]]:
        rows = await self.rows(
            "SELECT ID, HOST FROM information_schema.PROCESSLIST WHERE COMMAND <> 'Killed'"
        )
        return {(int(str(r[0])), str(r[1])) for r in rows}

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None


@dataclass(eq=False)
class SoakNode:
    name: str  # primary | replica
    role: str  # master | readreplica (as registered)
    server: MariaDBServer
    proxy: FaultProxy
    probe: Probe
    node_id: str = ""
    epoch: int = 0
    up: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.up.set()

    def login(self, user: str, password: str, database: str | None = None) -> Login:
        return Login("127.0.0.1", self.server.port, user, password, database)

    async def open(self, ledger: Ledger, login: Login, purpose: str, count: int) -> list[Session]:
        """Open up to ``count`` idle sessions on the server; those that opened, in the ledger."""
        epoch = self.epoch
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one() -> tuple[socket.socket, int, int]:
            async with gate, asyncio.timeout(CONNECT_TIMEOUT):
                sock, thread_id = await open_session(
                    login.host, login.port, login.user, login.password, login.database
                )
            return sock, thread_id, int(sock.getsockname()[1])

        opened: list[Session] = []
        for result in await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True):
            if isinstance(result, BaseException):
                ledger.open_failures += 1
                continue
            sock, thread_id, port = result
            session = Session(
                node_id=self.node_id,
                purpose=purpose,
                user=login.user,
                thread_id=thread_id,
                port=port,
                epoch=epoch,
                opened_at=now(),
                sock=sock,
                alive_seen_at=now(),
            )
            if epoch != self.epoch:  # the server was restarted under the handshake
                ledger.add(session)
                ledger.lose([session])
                continue
            opened.append(ledger.add(session))
        return opened

    async def observe(self, ledger: Ledger, sessions: list[Session]) -> None:
        """Ask the server which of ``sessions`` are still there; the others are gone."""
        current = [s for s in sessions if s.state == "open"]
        ledger.lose(s for s in current if s.epoch != self.epoch)
        current = [s for s in current if s.epoch == self.epoch]
        if not current:
            return
        epoch = self.epoch
        asked = now()
        present = await self.probe.present([s.thread_id for s in current])
        answered = now()
        if epoch != self.epoch:
            ledger.lose(current)
            return
        for session in current:
            if (session.thread_id, session.host) in present:
                ledger.seen_alive(session, asked)
            else:
                ledger.gone(session, answered)

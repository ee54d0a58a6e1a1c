"""A bounded connection pool per node, with a deadline on every step.

asyncmy gives connections with connect and read timeouts; this pool adds what the service needs
around them: a deadline to get a connection at all, discarding any connection whose operation was
cut off (its protocol state is unknown), closing connections idle too long, and a short cool-down
after a failure so that requests to a dead or hung node fail at once instead of each waiting out
the timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncmy
from asyncmy.connection import Connection
from asyncmy.constants import CLIENT
from asyncmy.errors import Error as DriverError
from pydantic import SecretStr

from taurus_sessions.nodes.errors import (
    ER_ACCESS_DENIED_ERROR,
    NodeError,
    NodeLoginRefused,
    NodeTimeout,
    NodeUnreachable,
)

log = logging.getLogger(__name__)

PING_AFTER_IDLE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ConnectionSpec:
    host: str
    port: int
    user: str
    password: SecretStr


@dataclass(frozen=True, slots=True)
class PoolLimits:
    size: int
    connect_timeout: float
    read_timeout: float
    idle_seconds: float
    cooldown_seconds: float


class IdleLedger:
    """The idle connections of every pool in the process, in the order they came back.

    Each connection holds the driver's read buffer (a quarter of a MiB), so with many nodes the
    idle ones are capped process-wide: past the cap, the one idle longest is closed, whichever
    node it belongs to. Recently used nodes keep theirs.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._order: OrderedDict[int, NodePool] = OrderedDict()

    def returned(self, pool: NodePool, conn: Connection) -> None:
        self._order[id(conn)] = pool
        while len(self._order) > self._limit:
            key, owner = self._order.popitem(last=False)
            owner.drop_idle(key)

    def gone(self, conn: Connection) -> None:
        self._order.pop(id(conn), None)

    def __len__(self) -> int:
        return len(self._order)


class NodePool:
    def __init__(
        self,
        spec: ConnectionSpec,
        limits: PoolLimits,
        clock: Callable[[], float],
        ledger: IdleLedger | None = None,
    ) -> None:
        self.spec = spec
        self.limits = limits
        self._clock = clock
        self._ledger = ledger if ledger is not None else IdleLedger(limits.size)
        self._idle: list[tuple[float, Connection]] = []  # (last used, connection), newest last
        self._slots = asyncio.Semaphore(limits.size)
        self._failed_until = 0.0
        self._last_error = ""
        self._last_failure: type[NodeUnreachable] = NodeUnreachable
        self.last_used = clock()
        self.server_version: str | None = None
        self._retired = False

    def __repr__(self) -> str:
        return f"NodePool({self.spec.user}@{self.spec.host}:{self.spec.port}, idle={len(self._idle)})"

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection for one unit of work; returned to the pool only if the work completed."""
        conn = await self.acquire()
        clean = False
        try:
            yield conn
            clean = True
        except (NodeUnreachable, NodeTimeout) as exc:
            self.failed(exc)
            raise
        finally:
            self.release(conn, clean)

    async def acquire(self) -> Connection:
        """A connection (and its slot) for one unit of work; give it back with ``release``."""
        now = self.last_used = self._clock()
        if now < self._failed_until:
            # The same kind of failure as the one that started the cool-down (a refused login stays
            # a refused login), so callers can still tell the two apart.
            raise self._last_failure(f"node failed moments ago ({self._last_error}); not retried yet")
        if self._slots.locked():  # wait for a slot, within the connect timeout
            try:
                async with asyncio.timeout(self.limits.connect_timeout):
                    await self._slots.acquire()
            except TimeoutError as exc:
                raise NodeTimeout("no free connection to the node within the connect timeout") from exc
        else:
            await self._slots.acquire()  # a free slot: taken at once
        try:
            conn = (self._fresh_idle(now) or await self._take_idle()) if self._idle else None
            return conn or await self._connect()
        except BaseException as exc:
            if isinstance(exc, NodeUnreachable | NodeTimeout):
                self.failed(exc)
            self._slots.release()
            raise

    def release(self, conn: Connection, clean: bool) -> None:
        """Back to the pool if the work completed (else closed: its protocol state is unknown)."""
        if clean and not self._retired and _usable(conn):
            self._idle.append((self._clock(), conn))
            self._ledger.returned(self, conn)
        else:
            conn.close()
        self._slots.release()

    def failed(self, exc: NodeUnreachable | NodeTimeout) -> None:
        """Work on a connection of this pool found the node failing: cool down."""
        self._mark_failed(str(exc), type(exc) if isinstance(exc, NodeUnreachable) else NodeUnreachable)

    def _fresh_idle(self, now: float) -> Connection | None:
        """The most recently returned idle connection when it needs no check (used moments ago)."""
        used_at, conn = self._idle[-1]
        if now - used_at > min(PING_AFTER_IDLE_SECONDS, self.limits.idle_seconds) or not _usable(conn):
            return None  # _take_idle closes it or checks it
        self._idle.pop()
        self._ledger.gone(conn)
        return conn

    async def _take_idle(self) -> Connection | None:
        now = self._clock()
        while self._idle:
            used_at, conn = self._idle.pop()
            self._ledger.gone(conn)
            if used_at < now - self.limits.idle_seconds or not _usable(conn):
                conn.close()
                continue
            # The server may have closed a connection that sat idle (wait_timeout, a DBA's KILL):
            # check it with a ping rather than fail the caller's statement on it.
            if now - used_at > PING_AFTER_IDLE_SECONDS and not await self._ping(conn):
                conn.close()
                continue
            return conn
        return None

    async def _ping(self, conn: Connection) -> bool:
        try:
            async with asyncio.timeout(self.limits.read_timeout):
                await conn.ping(reconnect=False)
        except (TimeoutError, DriverError, OSError):
            return False
        return True

    async def _connect(self) -> Connection:
        conn = await open_connection(self.spec, self.limits)
        if self.server_version is None:
            self.server_version = conn.get_server_info()
        return conn

    def _mark_failed(self, reason: str, failure: type[NodeUnreachable] = NodeUnreachable) -> None:
        self._last_error = reason
        self._last_failure = failure
        self._failed_until = self._clock() + self.limits.cooldown_seconds
        self.close_idle()

    def retire(self) -> None:
        """No longer in use (the node was re-registered or evicted): close what comes back."""
        self._retired = True
        self.close_idle()

    def close_idle(self, older_than: float | None = None) -> int:
        """Close idle connections (all, or those unused since ``older_than``); return how many."""
        keep: list[tuple[float, Connection]] = []
        closed = 0
        for used_at, conn in self._idle:
            if older_than is not None and used_at >= older_than:
                keep.append((used_at, conn))
            else:
                self._ledger.gone(conn)
                conn.close()
                closed += 1
        self._idle = keep
        return closed

    def drop_idle(self, key: int) -> None:
        """Close one idle connection the ledger chose (it has forgotten it already)."""
        for index, (_, conn) in enumerate(self._idle):
            if id(conn) == key:
                del self._idle[index]
                conn.close()
                return

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    @property
    def connection_counts(self) -> tuple[int, int]:
        """(idle, in use): in use is every slot taken (a unit of work holds one connection)."""
        return len(self._idle), self.limits.size - self._slots._value

    @property
    def busy(self) -> bool:
        return self._slots.locked() or self._slots._value < self.limits.size


async def open_connection(spec: ConnectionSpec, limits: PoolLimits) -> Connection:
    """One connection with the pool's timeouts; failures as ``NodeError``s that name no secret."""
    try:
        async with asyncio.timeout(limits.connect_timeout):
            return await asyncmy.connect(
                host=spec.host,
                port=spec.port,
                user=spec.user,
                password=spec.password.get_secret_value(),
                connect_timeout=limits.connect_timeout,
                # No driver read timeout: every statement runs under the session's own deadline
                # (``NodeSession``, the ping above), and the driver's would wrap each wait for
                # data in a task of its own (asyncio.wait_for), a cost on every read.
                autocommit=True,
                charset="utf8mb4",
                # KILLs travel in multi-statement batches; only ids formatted as ints reach them.
                client_flag=CLIENT.MULTI_STATEMENTS,
                program_name="taurus-sessions",
            )
    except TimeoutError as exc:
        raise NodeUnreachable(f"connect to {spec.host}:{spec.port} timed out") from exc
    except (DriverError, OSError) as exc:
        # The driver's message may quote the account; never the password. Keep only the class
        # and errno so nothing sensitive reaches logs or callers.
        where = f"connect to {spec.host}:{spec.port} failed: {_describe(exc)}"
        if _errno(exc) == ER_ACCESS_DENIED_ERROR:
            raise NodeLoginRefused(where) from exc
        raise NodeUnreachable(where) from exc


async def check_login(spec: ConnectionSpec, limits: PoolLimits) -> str:
    """Log in once as ``spec`` and close again (a registration is checked this way, outside any
    pool, so that a wrong password sends no pool into its cool-down); the server's version."""
    conn = await open_connection(spec, limits)
    try:
        return str(conn.get_server_info())
    finally:
        conn.close()


def _errno(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _usable(conn: Connection) -> bool:
    # asyncmy's private _stream_broken also notices a peer that closed the socket; the public
    # ``connected`` flag only knows about closes made on this side.
    return bool(conn.connected) and not getattr(conn, "_stream_broken", False)


def _describe(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int):
        return f"{type(exc).__name__} {args[0]}"
    return type(exc).__name__


__all__ = ["ConnectionSpec", "NodeError", "NodePool", "PoolLimits", "check_login", "open_connection"]

"""The audit records, written with the database's own driver rather than through SQLAlchemy.

A kill call writes its record twice on its request's path (pending before the first KILL, then its
outcome), so each write must cost as little as it can: one prepared statement in autocommit (one
statement is one transaction). Values are converted by the column types' own bind processors, so a
row reads back through the ORM exactly as if SQLAlchemy had written it.

**SQLite.** WAL with NORMAL sync, as every inventory connection: a commit appends to the WAL without
waiting for the disk, which takes tens of microseconds — less than handing the write to a thread
and being woken again, the more so on a busy machine. So a write is first tried right away, on the
calling (event loop) thread, on a connection that never waits: no busy timeout (if another writer
holds the database, SQLite answers "busy" at once and nothing was written) and no checkpoints
(copying the WAL back into the database means an ``fsync``; the writer thread does it every
``CHECKPOINT_EVERY`` writes). Only when the database is busy does the write go to the writer thread,
whose connection waits for the lock as long as the inventory timeout allows.

**PostgreSQL.** asyncpg itself, on a small pool of its own: one round trip per write (a prepared
``INSERT … RETURNING id`` or ``UPDATE``), where a SQLAlchemy transaction costs a ping, BEGIN, the
statement and COMMIT.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.ext.asyncio import AsyncEngine

from taurus_sessions.inventory.models import AuditEvent

log = logging.getLogger(__name__)

Processor = Callable[[Any], Any] | None
CHECKPOINT_EVERY = 200  # writes on the event loop between two checkpoints in the writer thread
POOL_SIZE = 4  # PostgreSQL connections for audit writes (a write holds one for one round trip)


class _Statements:
    """The audit table's INSERT and UPDATE statements in one database's dialect, and the values to
    bind (converted by the columns' bind processors, defaults filled in as SQLAlchemy would)."""

    def __init__(self, engine: Engine | AsyncEngine, mark: Callable[[int], str], returning: str) -> None:
        table: Table = AuditEvent.__table__  # type: ignore[assignment]
        self._table = table.name
        self._mark = mark  # the placeholder of the n-th value (1-based)
        self._returning = returning
        dialect = engine.dialect
        self._processors: dict[str, Processor] = {
            column.name: column.type.bind_processor(dialect) for column in table.columns
        }
        # Python-side defaults SQLAlchemy would fill in for a column an insert leaves out.
        self._defaults: dict[str, Callable[[], Any]] = {}
        for column in table.columns:
            default = column.default
            if column.primary_key or default is None:
                continue
            if getattr(default, "is_scalar", False):
                self._defaults[column.name] = _constant(default.arg)  # type: ignore[attr-defined]
            elif getattr(default, "is_callable", False):
                self._defaults[column.name] = _called(default.arg)  # type: ignore[attr-defined]
        self._cache: dict[tuple[str, ...], str] = {}

    def insert(self, values: dict[str, Any]) -> tuple[str, list[Any]]:
        row = dict(values)
        for name, default in self._defaults.items():
            if name not in row:
                row[name] = default()
        names = tuple(row)
        statement = self._cache.get(("insert", *names))
        if statement is None:
            self._check(names)
            columns = ", ".join(names)
            marks = ", ".join(self._mark(n) for n in range(1, len(names) + 1))
            statement = f"INSERT INTO {self._table} ({columns}) VALUES ({marks}){self._returning}"
            self._cache[("insert", *names)] = statement
        return statement, [self._bind(name, row[name]) for name in names]

    def update(self, event_id: int, fields: dict[str, Any]) -> tuple[str, list[Any]]:
        names = tuple(fields)
        statement = self._cache.get(("update", *names))
        if statement is None:
            self._check(names)
            assignments = ", ".join(f"{name} = {self._mark(n)}" for n, name in enumerate(names, 1))
            statement = f"UPDATE {self._table} SET {assignments} WHERE id = {self._mark(len(names) + 1)}"
            self._cache[("update", *names)] = statement
        return statement, [*(self._bind(name, fields[name]) for name in names), event_id]

    def _check(self, names: tuple[str, ...]) -> None:
        # Only the model's own column names ever enter the statement's text.
        unknown = set(names) - self._processors.keys()
        if unknown:
            raise ValueError(f"not columns of {self._table}: {sorted(unknown)}")

    def _bind(self, name: str, value: Any) -> Any:
        processor = self._processors[name]
        return value if processor is None else processor(value)


class SqliteAuditWriter:
    def __init__(self, engine: Engine | AsyncEngine, timeout: float) -> None:
        database = engine.url.database
        if not database or database == ":memory:":
            raise ValueError("the audit writer needs a SQLite file")
        self._path = Path(database)
        self._timeout = timeout
        self._statements = _Statements(engine, lambda _: "?", "")
        self._now: sqlite3.Connection | None = None  # the event loop's: never waits
        self._waiting: sqlite3.Connection | None = None  # the writer thread's: waits for the lock
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="audit-writer")
        self._since_checkpoint = 0

    async def insert(self, values: dict[str, Any]) -> int:
        """One new record, committed; its id."""
        statement, params = self._statements.insert(values)
        return await self._write(statement, params, lastrowid=True)

    async def update(self, event_id: int, fields: dict[str, Any]) -> None:
        statement, params = self._statements.update(event_id, fields)
        await self._write(statement, params, lastrowid=False)

    async def _write(self, statement: str, params: list[Any], *, lastrowid: bool) -> int:
        try:
            cursor = self._connection_now().execute(statement, params)
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
            # Another writer holds the database: wait for it in the writer thread, not here.
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._thread, self._write_waiting, statement, params, lastrowid)
        self._since_checkpoint += 1
        if self._since_checkpoint >= CHECKPOINT_EVERY:
            self._since_checkpoint = 0
            self._thread.submit(self._checkpoint)
        return int(cursor.lastrowid or 0) if lastrowid else 0

    def _write_waiting(self, statement: str, params: list[Any], lastrowid: bool) -> int:
        cursor = self._connection_waiting().execute(statement, params)
        return int(cursor.lastrowid or 0) if lastrowid else 0

    def _checkpoint(self) -> None:
        try:
            self._connection_waiting().execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            log.warning("checkpointing the inventory's write-ahead log failed", exc_info=True)

    def _open(self, busy_timeout: float, autocheckpoint: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        # As every connection of the inventory (engine.py): WAL, NORMAL sync, foreign keys.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        if not autocheckpoint:
            conn.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    def _connection_now(self) -> sqlite3.Connection:
        if self._now is None:
            self._now = self._open(0.0, autocheckpoint=False)
        return self._now

    def _connection_waiting(self) -> sqlite3.Connection:
        if self._waiting is None:
            self._waiting = self._open(self._timeout, autocheckpoint=True)
        return self._waiting

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        for conn in (self._now, self._waiting):
            if conn is not None:
                conn.close()
        self._now = self._waiting = None


class PostgresAuditWriter:
    def __init__(self, engine: AsyncEngine, timeout: float) -> None:
        url = engine.url
        self._connect = {
            "host": url.host,
            "port": url.port,
            "user": url.username,
            "password": url.password,
            "database": url.database,
            "timeout": timeout,  # to connect
            "command_timeout": timeout,  # per statement
        }
        self._timeout = timeout
        self._statements = _Statements(engine, lambda n: f"${n}", " RETURNING id")
        self._pool: Any = None  # an asyncpg.Pool (asyncpg comes with the postgresql extra)
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._opening = asyncio.Lock()

    async def _acquire_pool(self) -> Any:
        import asyncpg  # type: ignore[import-untyped]  # only a PostgreSQL inventory needs it

        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool_loop is not loop:
            if self._pool_loop is not loop:
                self._opening = asyncio.Lock()  # a lock belongs to one loop too
            async with self._opening:
                if self._pool is None or self._pool_loop is not loop:
                    self._pool = await asyncpg.create_pool(min_size=1, max_size=POOL_SIZE, **self._connect)
                    self._pool_loop = loop
        assert self._pool is not None
        return self._pool

    async def insert(self, values: dict[str, Any]) -> int:
        statement, params = self._statements.insert(values)
        pool = await self._acquire_pool()
        async with pool.acquire(timeout=self._timeout) as conn:
            return int(await conn.fetchval(statement, *params))

    async def update(self, event_id: int, fields: dict[str, Any]) -> None:
        statement, params = self._statements.update(event_id, fields)
        pool = await self._acquire_pool()
        async with pool.acquire(timeout=self._timeout) as conn:
            await conn.execute(statement, *params)

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and self._pool_loop is asyncio.get_running_loop():
            await pool.close()
        elif pool is not None:
            pool.terminate()  # opened on a loop that is gone

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _called(function: Callable[[Any], Any]) -> Callable[[], Any]:
    # SQLAlchemy hands a callable default the execution context; ours ignore it.
    return lambda: function(None)

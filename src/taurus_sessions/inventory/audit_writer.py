"""The audit records of a SQLite inventory, written with the ``sqlite3`` module directly.

A kill call writes its record twice on its request's path (pending before the first KILL, then its
outcome), so each write must cost as little as it can. A write is one prepared statement in
autocommit (one statement is one transaction; WAL with NORMAL sync, as every inventory connection:
a commit appends to the WAL without waiting for the disk), which takes tens of microseconds: less
than handing it to a thread and being woken again, the more so on a busy machine.

So a write is first tried right away, on the calling (event loop) thread, on a connection that
never waits: no busy timeout (if another writer holds the database, SQLite answers "busy" at once
and nothing was written) and no checkpoints (copying the WAL back into the database means a
``fsync``; it is left to the writer thread, every ``CHECKPOINT_EVERY`` writes). Only when the
database is busy does the write go to the writer thread, whose connection waits for the lock as
long as the inventory timeout allows. Values are converted by the column types' own bind
processors, so a row reads back through the ORM exactly as if SQLAlchemy had written it.
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


class SqliteAuditWriter:
    def __init__(self, engine: Engine | AsyncEngine, timeout: float) -> None:
        database = engine.url.database
        if not database or database == ":memory:":
            raise ValueError("the audit writer needs a SQLite file")
        self._path = Path(database)
        self._timeout = timeout
        table: Table = AuditEvent.__table__  # type: ignore[assignment]
        self._table = table.name
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
        self._statements: dict[tuple[str, ...], str] = {}
        self._now: sqlite3.Connection | None = None  # the event loop's: never waits
        self._waiting: sqlite3.Connection | None = None  # the writer thread's: waits for the lock
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="audit-writer")
        self._since_checkpoint = 0

    # -- the two ways to write ----------------------------------------------------------------
    async def insert(self, values: dict[str, Any]) -> int:
        """One new record, committed; its id."""
        statement, params = self._insert_statement(values)
        return int(await self._write(statement, params, lastrowid=True))

    async def update(self, event_id: int, fields: dict[str, Any]) -> None:
        statement, params = self._update_statement(event_id, fields)
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

    # -- statements ---------------------------------------------------------------------------
    def _insert_statement(self, values: dict[str, Any]) -> tuple[str, list[Any]]:
        row = dict(values)
        for name, default in self._defaults.items():
            if name not in row:
                row[name] = default()
        names = tuple(row)
        statement = self._statements.get(("insert", *names))
        if statement is None:
            self._check(names)
            columns = ", ".join(names)
            marks = ", ".join("?" * len(names))
            statement = f"INSERT INTO {self._table} ({columns}) VALUES ({marks})"
            self._statements[("insert", *names)] = statement
        return statement, [self._bind(name, row[name]) for name in names]

    def _update_statement(self, event_id: int, fields: dict[str, Any]) -> tuple[str, list[Any]]:
        names = tuple(fields)
        statement = self._statements.get(("update", *names))
        if statement is None:
            self._check(names)
            assignments = ", ".join(f"{name} = ?" for name in names)
            statement = f"UPDATE {self._table} SET {assignments} WHERE id = ?"
            self._statements[("update", *names)] = statement
        return statement, [*(self._bind(name, fields[name]) for name in names), event_id]

    def _check(self, names: tuple[str, ...]) -> None:
        # Only the model's own column names ever enter the statement's text.
        unknown = set(names) - self._processors.keys()
        if unknown:
            raise ValueError(f"not columns of {self._table}: {sorted(unknown)}")

    def _bind(self, name: str, value: Any) -> Any:
        processor = self._processors[name]
        return value if processor is None else processor(value)

    # -- connections --------------------------------------------------------------------------
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

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        for conn in (self._now, self._waiting):
            if conn is not None:
                conn.close()
        self._now = self._waiting = None


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

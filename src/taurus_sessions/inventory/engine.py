"""The inventory's engine: one async SQLAlchemy engine, SQLite by default, migrated by Alembic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from taurus_sessions.file_modes import create_private_file, make_private_dir

MIGRATIONS = Path(__file__).with_name("migrations")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# orjson rather than the standard library: audit records of a sweep hold thousands of results.
# hide_parameters: a failed statement's message never carries its values (password hashes, sealed
# secrets, the statements of killed sessions), so no error path can put one in a log line.
ENGINE_OPTIONS: dict[str, Any] = {
    "json_serializer": _json_dumps,
    "json_deserializer": orjson.loads,
    "hide_parameters": True,
}


DEFAULT_TIMEOUT = 10.0  # seconds an inventory statement (or the wait for its lock) may take


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; NORMAL sync keeps commits cheap while staying
    # crash-safe for the database file (a power cut may drop the last commits, not corrupt).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str, timeout: float = DEFAULT_TIMEOUT) -> AsyncEngine:
    """Every statement is bounded: SQLite waits at most ``timeout`` for the write lock, PostgreSQL
    answers within it (and a connection is had within it), so that the longest time a call can
    take is known (write-ahead recovery counts on it)."""
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
        engine = create_async_engine(url, connect_args={"timeout": timeout}, **ENGINE_OPTIONS)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_timeout=timeout,
        connect_args={"timeout": timeout, "command_timeout": timeout},
        **ENGINE_OPTIONS,
    )


def _ensure_sqlite_folder(url: str) -> None:
    """The folder 0700 and the file 0600 before SQLite opens it: SQLite creates its -wal and -shm
    files with the inventory file's mode, so the whole inventory stays private."""
    _, _, path = url.partition(":///")
    if path and path != ":memory:":
        make_private_dir(Path(path).parent)
        create_private_file(Path(path))


def alembic_config(connection: AsyncConnection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    """The inventory's schema version (None before the first migration)."""
    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def migrate(engine: AsyncEngine) -> None:
    """Bring the inventory schema to the newest migration (idempotent)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


def _upgrade(sync_connection: Any) -> None:
    config = alembic_config()
    config.attributes["connection"] = sync_connection
    command.upgrade(config, "head")

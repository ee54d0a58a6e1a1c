"""The migrations build exactly the schema the models describe: a model changed without its
migration, or the reverse, fails here."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from taurus_sessions.inventory.engine import create_engine, migrate
from taurus_sessions.inventory.models import Base


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def test_the_migrated_schema_is_the_models_schema(tmp_path: Path) -> None:
    async def run() -> list[Any]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inventory.db'}", 10.0)
        try:
            await migrate(engine)
            async with engine.connect() as connection:
                return await connection.run_sync(_differences)
        finally:
            await engine.dispose()

    assert asyncio.run(run()) == []

"""Alembic environment: migrations run on the connection the caller hands in (see database.migrate)."""

from __future__ import annotations

from alembic import context

from taurus_sessions.inventory.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through taurus-sessions (database.migrate), not bare alembic")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

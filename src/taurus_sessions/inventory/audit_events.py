"""Storage of the audit trail. What goes into a record is decided in ``services/audit.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import CursorResult, Select, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from taurus_sessions.inventory.audit_writer import PostgresAuditWriter, SqliteAuditWriter
from taurus_sessions.inventory.engine import DEFAULT_TIMEOUT
from taurus_sessions.inventory.models import AuditEvent

Q = TypeVar("Q", bound=Select[Any])


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


@dataclass(frozen=True, slots=True)
class AuditQuery:
    project_id: str | None = None
    instance_id: str | None = None
    node_id: str | None = None
    actor: str | None = None  # user name, user id, access key or task id
    outcome: str | None = None
    action: str | None = None
    actions: tuple[str, ...] | None = None  # any of these actions
    request_id: str | None = None
    source_ip: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    offset: int = 0
    limit: int = 100


# Constant statements, values passed at execution: compiled once, cached, never re-keyed per call.
_INSERT = insert(AuditEvent)
_FINISH = update(AuditEvent).where(AuditEvent.id == bindparam("event_id"))


def _is_sqlite_file(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")


class AuditStore:
    """A record is written on every kill call, before the answer, so its cost is on the request's
    path: the database's own driver with one prepared statement per write (``audit_writer.py``:
    for SQLite on the event loop unless the database is busy, for PostgreSQL one round trip)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        engine: AsyncEngine,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._sessions = sessions
        self._engine = engine
        self._writer: SqliteAuditWriter | PostgresAuditWriter | None = None
        if _is_sqlite_file(engine):
            self._writer = SqliteAuditWriter(engine, timeout)
        elif engine.dialect.name == "postgresql" and engine.dialect.driver == "asyncpg":
            self._writer = PostgresAuditWriter(engine, timeout)

    async def insert(self, values: dict[str, Any]) -> int:
        if self._writer is not None:
            return await self._writer.insert(values)
        async with self._engine.begin() as connection:
            return _new_id(await connection.execute(_INSERT, values))

    async def finish(self, event_id: int, **fields: Any) -> None:
        if self._writer is not None:
            await self._writer.update(event_id, fields)
            return
        async with self._engine.begin() as connection:
            await connection.execute(_FINISH, {"event_id": event_id, **fields})

    async def count_refusals(
        self, event_id: int, occurrences: int, last_at: datetime | None, requested: dict[str, Any]
    ) -> None:
        """Bring an aggregated record of refusals up to date (see services/anonymous_refusals.py)."""
        await self.finish(event_id, occurrences=occurrences, last_at=last_at, requested=requested)

    async def count_pending(self) -> int:
        """Records still pending: calls in flight now, or left by a process that died (the
        ``ix_audit_outcome_at`` index answers it without a scan)."""
        query = select(func.count()).select_from(AuditEvent).where(AuditEvent.outcome == "pending")
        async with self._sessions() as session:
            return int(await session.scalar(query) or 0)

    async def pending_before(self, before: datetime, limit: int = 100) -> Sequence[AuditEvent]:
        """Records still pending that were begun before ``before``, oldest first."""
        query = (
            select(AuditEvent)
            .where(AuditEvent.outcome == "pending", AuditEvent.at < before)
            .order_by(AuditEvent.at)
            .limit(limit)
        )
        async with self._sessions() as session:
            return (await session.scalars(query)).all()

    async def settle(self, event_id: int, results: list[dict[str, Any]], at: datetime, by: str) -> bool:
        """Mark a pending record ``interrupted`` with what became of each victim. Only one process
        wins (the record must still be pending), so replicas may settle side by side."""
        statement = (
            update(AuditEvent)
            .where(AuditEvent.id == event_id, AuditEvent.outcome == "pending")
            .values(outcome="interrupted", results=results, settled_at=at, settled_by=by[:128])
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return bool(result.rowcount)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    async def aclose(self) -> None:
        if self._writer is not None:
            await self._writer.aclose()

    async def query(self, q: AuditQuery) -> tuple[Sequence[AuditEvent], int]:
        base = self._filtered(select(AuditEvent), q)
        count = self._filtered(select(func.count()).select_from(AuditEvent), q)
        page = base.order_by(AuditEvent.id.desc()).offset(q.offset).limit(q.limit)
        async with self._sessions() as session:
            total = int(await session.scalar(count) or 0)
            rows = (await session.scalars(page)).all()
        return rows, total

    @staticmethod
    def _filtered(query: Q, q: AuditQuery) -> Q:
        conditions = []
        if q.project_id is not None:
            conditions.append(AuditEvent.project_id == q.project_id)
        if q.instance_id is not None:
            conditions.append(AuditEvent.instance_id == q.instance_id)
        if q.node_id is not None:
            conditions.append(AuditEvent.node_id == q.node_id)
        if q.outcome is not None:
            conditions.append(AuditEvent.outcome == q.outcome)
        if q.action is not None:
            conditions.append(AuditEvent.action == q.action)
        if q.actions is not None:
            conditions.append(AuditEvent.action.in_(q.actions))
        if q.request_id is not None:
            conditions.append(AuditEvent.request_id == q.request_id)
        if q.source_ip is not None:
            conditions.append(AuditEvent.source_ip == q.source_ip)
        if q.actor is not None:
            conditions.append(
                or_(
                    AuditEvent.actor_name == q.actor,
                    AuditEvent.actor_user_id == q.actor,
                    AuditEvent.access_key == q.actor,
                    AuditEvent.task_id == q.actor,
                )
            )
        if q.since is not None:
            conditions.append(AuditEvent.at >= q.since)
        if q.until is not None:
            conditions.append(AuditEvent.at < q.until)
        return query.where(*conditions) if conditions else query

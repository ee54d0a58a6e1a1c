"""Storage of the audit trail. What goes into a record is decided in ``services/audit.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from taurus_sessions.inventory.models import AuditEvent

Q = TypeVar("Q", bound=Select[Any])


@dataclass(frozen=True, slots=True)
class AuditQuery:
    project_id: str | None = None
    instance_id: str | None = None
    node_id: str | None = None
    actor: str | None = None  # user name, user id, access key or task id
    outcome: str | None = None
    action: str | None = None
    request_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    offset: int = 0
    limit: int = 100


class AuditLog:
    """Writes go through SQL statements on a connection, not the ORM unit of work: a record is
    written on every kill call, before the answer, so its cost is on the request's path."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine) -> None:
        self._sessions = sessions
        self._engine = engine

    async def insert(self, values: dict[str, Any]) -> int:
        async with self._engine.begin() as connection:
            result = await connection.execute(insert(AuditEvent).values(**values))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    async def finish(self, event_id: int, **fields: Any) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(update(AuditEvent).where(AuditEvent.id == event_id).values(**fields))

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
        if q.request_id is not None:
            conditions.append(AuditEvent.request_id == q.request_id)
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

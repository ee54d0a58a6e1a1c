"""Storage of the audit trail. What goes into a record is decided in ``services/audit.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def insert(self, event: AuditEvent) -> int:
        async with self._sessions.begin() as session:
            session.add(event)
            await session.flush()
            return event.id

    async def finish(self, event_id: int, **fields: Any) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(AuditEvent).where(AuditEvent.id == event_id).values(**fields))

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

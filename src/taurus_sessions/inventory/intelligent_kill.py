"""Storage of intelligent kill tasks (one per ExecuteIntelligentKillSession)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taurus_sessions.inventory.models import IntelligentKillTask


class IntelligentKillStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, task: IntelligentKillTask) -> None:
        async with self._sessions.begin() as session:
            session.add(task)

    async def get(self, task_id: str) -> IntelligentKillTask | None:
        async with self._sessions() as session:
            return await session.get(IntelligentKillTask, task_id)

    async def page(
        self, node_id: str, since: datetime, until: datetime, offset: int, limit: int
    ) -> tuple[Sequence[IntelligentKillTask], int]:
        """Tasks of a node begun in [since, until], newest first, and how many there are."""
        where = (
            IntelligentKillTask.node_id == node_id,
            IntelligentKillTask.started_at >= since,
            IntelligentKillTask.started_at <= until,
        )
        query = select(IntelligentKillTask).where(*where).order_by(IntelligentKillTask.started_at.desc())
        count = select(func.count()).select_from(IntelligentKillTask).where(*where)
        async with self._sessions() as session:
            total = int(await session.scalar(count) or 0)
            rows = (await session.scalars(query.offset(offset).limit(limit))).all()
        return rows, total

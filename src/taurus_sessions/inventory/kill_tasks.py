"""Storage of kill tasks, with leases so that one service process at a time runs a task."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taurus_sessions.inventory.models import KillTask

RUNNING, STOPPED, FINISHED, FAILED = "running", "stopped", "finished", "failed"
CUSTOM, AUTO = "custom", "auto"  # this service's kill tasks; TaurusDB's automatic kill tasks


class KillTaskStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, task: KillTask) -> KillTask:
        async with self._sessions.begin() as session:
            session.add(task)
        return task

    async def get(self, project_id: str, task_id: str) -> KillTask | None:
        async with self._sessions() as session:
            task = await session.get(KillTask, task_id)
        return task if task is not None and task.project_id == project_id else None

    async def page(
        self,
        project_id: str,
        *,
        instance_id: str | None = None,
        node_id: str | None = None,
        state: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[Sequence[KillTask], int]:
        conditions: list[Any] = [KillTask.project_id == project_id]
        if instance_id is not None:
            conditions.append(KillTask.instance_id == instance_id)
        if node_id is not None:
            conditions.append(KillTask.node_id == node_id)
        if state is not None:
            conditions.append(KillTask.state == state)
        page = select(KillTask).where(*conditions).order_by(KillTask.created_at.desc(), KillTask.id)
        count = select(func.count()).select_from(KillTask).where(*conditions)
        async with self._sessions() as session:
            total = int(await session.scalar(count) or 0)
            rows = (await session.scalars(page.offset(offset).limit(limit))).all()
        return rows, total

    async def instance_tasks(self, project_id: str, instance_id: str, kind: str) -> Sequence[KillTask]:
        """The tasks of one kind on an instance, newest first."""
        query = (
            select(KillTask)
            .where(
                KillTask.project_id == project_id, KillTask.instance_id == instance_id, KillTask.kind == kind
            )
            .order_by(KillTask.created_at.desc(), KillTask.id)
        )
        async with self._sessions() as session:
            return (await session.scalars(query)).all()

    async def running_count(self, instance_id: str, kind: str) -> int:
        query = (
            select(func.count())
            .select_from(KillTask)
            .where(KillTask.instance_id == instance_id, KillTask.kind == kind, KillTask.state == RUNNING)
        )
        async with self._sessions() as session:
            return int(await session.scalar(query) or 0)

    async def claim_due(self, owner: str, now: datetime, lease: timedelta, limit: int = 32) -> list[KillTask]:
        """Tasks due for a pass that this process may run; each claimed by one atomic UPDATE."""
        free = or_(KillTask.lease_owner.is_(None), KillTask.lease_until < now, KillTask.lease_owner == owner)
        due = (
            select(KillTask.id)
            .where(KillTask.state == RUNNING, KillTask.next_pass_at <= now, free)
            .order_by(KillTask.next_pass_at)
            .limit(limit)
        )
        claimed: list[KillTask] = []
        async with self._sessions.begin() as session:
            for task_id in (await session.scalars(due)).all():
                result = await session.execute(
                    update(KillTask)
                    .where(KillTask.id == task_id, KillTask.state == RUNNING, free)
                    .values(lease_owner=owner, lease_until=now + lease)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    task = await session.get(KillTask, task_id, populate_existing=True)
                    if task is not None:
                        claimed.append(task)
        return claimed

    async def record_pass(
        self,
        task_id: str,
        owner: str,
        *,
        at: datetime,
        killed: int,
        error: str | None,
        next_pass_at: datetime,
        final_state: str | None = None,
    ) -> bool:
        """Count a pass, if this process still holds the lease and the task still runs."""
        values: dict[str, Any] = {
            "passes": KillTask.passes + 1,
            "victims_killed": KillTask.victims_killed + killed,
            "last_pass_at": at,
            "next_pass_at": next_pass_at,
            "last_error": error[:500] if error else None,
        }
        if final_state is not None:
            values |= {"state": final_state, "lease_owner": None, "lease_until": None}
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(KillTask)
                .where(KillTask.id == task_id, KillTask.lease_owner == owner, KillTask.state == RUNNING)
                .values(**values)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def end(
        self, task_id: str, state: str, at: datetime, by: str | None, error: str | None = None
    ) -> bool:
        """Stop, finish or fail a running task; False if it was not running any more."""
        values: dict[str, Any] = {"state": state, "lease_owner": None, "lease_until": None}
        if state == STOPPED:
            values |= {"stopped_at": at, "stopped_by": by}
        if error is not None:
            values["last_error"] = error[:500]
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(KillTask).where(KillTask.id == task_id, KillTask.state == RUNNING).values(**values)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release(self, owner: str) -> None:
        """Give up this process's leases (on shutdown) so another process can go on at once."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(KillTask)
                .where(KillTask.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

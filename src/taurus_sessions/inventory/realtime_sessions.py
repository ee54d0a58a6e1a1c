"""Storage of realtime session collections (CollectRealtimeSession): the job, its state, its file."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import defer

from taurus_sessions.inventory.models import Project, RealtimeSessionJob

RUNNING, FINISHED, ERROR = "running", "finished", "error"
MAX_ERROR = 500  # the column's length


class Refusal(enum.Enum):
    """Which per-project cap kept a collection from being added."""

    RUNNING = "running"
    RESULTS = "results"


class RealtimeSessionStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def admit(
        self,
        job: RealtimeSessionJob,
        *,
        max_running: int,
        max_results: int,
        running_since: datetime,
        now: datetime,
    ) -> Refusal | None:
        """Add ``job`` unless its project is at a cap: ``max_running`` collections running (those
        begun before ``running_since`` were left by a process that stopped, and do not count), or
        ``max_results`` not yet expired. The counts and the insert are one transaction, the
        project's row locked on PostgreSQL so that replicas admit one at a time."""
        live = (RealtimeSessionJob.project_id == job.project_id, RealtimeSessionJob.expires_at > now)
        running = (
            select(func.count())
            .select_from(RealtimeSessionJob)
            .where(
                *live,
                RealtimeSessionJob.status == RUNNING,
                RealtimeSessionJob.created_at >= running_since,
            )
        )
        stored = select(func.count()).select_from(RealtimeSessionJob).where(*live)
        async with self._sessions.begin() as session:
            await session.execute(select(Project.id).where(Project.id == job.project_id).with_for_update())
            if int(await session.scalar(running) or 0) >= max_running:
                return Refusal.RUNNING
            if int(await session.scalar(stored) or 0) >= max_results:
                return Refusal.RESULTS
            session.add(job)
        return None

    async def get(self, job_id: str) -> RealtimeSessionJob | None:
        """The job without its file (status reads stay small)."""
        query = (
            select(RealtimeSessionJob)
            .where(RealtimeSessionJob.id == job_id)
            .options(defer(RealtimeSessionJob.result))
        )
        async with self._sessions() as session:
            return await session.scalar(query)

    async def result(self, job_id: str) -> bytes | None:
        query = select(RealtimeSessionJob.result).where(RealtimeSessionJob.id == job_id)
        async with self._sessions() as session:
            return await session.scalar(query)

    async def finish(
        self, job_id: str, body: bytes, row_count: int, now: datetime, expires_at: datetime
    ) -> bool:
        """Store the file of a running job; False when the job is no longer running."""
        values = {
            "status": FINISHED,
            "result": body,
            "row_count": row_count,
            "finished_at": now,
            "expires_at": expires_at,
        }
        return await self._settle(job_id, values)

    async def fail(self, job_id: str, error: str, now: datetime, expires_at: datetime) -> bool:
        """Mark a running job failed; False when it is no longer running."""
        values = {"status": ERROR, "error": error[:MAX_ERROR], "finished_at": now, "expires_at": expires_at}
        return await self._settle(job_id, values)

    async def _settle(self, job_id: str, values: dict[str, object]) -> bool:
        # Only a running job changes: a job settled once (by its runner, or as abandoned by a
        # reader) keeps that outcome.
        statement = (
            update(RealtimeSessionJob)
            .where(RealtimeSessionJob.id == job_id, RealtimeSessionJob.status == RUNNING)
            .values(**values)
        )
        async with self._sessions.begin() as session:
            changed = await session.execute(statement)
        return bool(changed.rowcount)  # type: ignore[attr-defined]

    async def purge(self, now: datetime) -> int:
        """Delete expired jobs and their files; how many."""
        statement = delete(RealtimeSessionJob).where(RealtimeSessionJob.expires_at <= now)
        async with self._sessions.begin() as session:
            deleted = await session.execute(statement)
        return int(deleted.rowcount or 0)  # type: ignore[attr-defined]

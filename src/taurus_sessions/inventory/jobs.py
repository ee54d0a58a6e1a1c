"""Storage of jobs as TaurusDB reports them (ShowGaussMySqlJobInfo): operations that answer with a
``job_id`` a client polls (Terraform waits for SetAutoSqlLimiting's job to be ``Completed``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taurus_sessions.inventory.models import Job

PENDING, RUNNING, COMPLETED, FAILED = "Pending", "Running", "Completed", "Failed"


class JobStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, job: Job) -> Job:
        async with self._sessions.begin() as session:
            session.add(job)
        return job

    async def get(self, project_id: str, job_id: str) -> Job | None:
        """The job only if it belongs to this project (another project's is 'not found')."""
        async with self._sessions() as session:
            job = await session.get(Job, job_id)
        return job if job is not None and job.project_id == project_id else None

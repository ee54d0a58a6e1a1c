"""TaurusDB's realtime session collection (contract Part F; the official SDK's CollectRealtimeSession,
ShowRealtimeSessionTaskStatus, DownloadRealtimeSession): a snapshot of one node's user sessions,
collected in the background by the process that took the call and kept in the inventory as a CSV
file, so that any replica can tell its status and serve it until it expires.

A collection's node work and file are bounded (``RealtimeLimits.job_seconds``), so a job still
"running" well after that bound was left by a process that stopped: it reads as ``error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from taurus_sessions import metrics
from taurus_sessions.auth import policy
from taurus_sessions.auth.caller import Caller
from taurus_sessions.csv_export import to_csv
from taurus_sessions.domain import RealtimeQuery
from taurus_sessions.errors import (
    InternalError,
    NodeUnavailable,
    RealtimeCollectionFailed,
    RealtimeCollectionNotFound,
    RealtimeCollectionRunning,
    TooManyRealtimeCollections,
    TooManyRealtimeResults,
)
from taurus_sessions.inventory.instances import NodeTarget
from taurus_sessions.inventory.models import RealtimeSessionJob, utcnow
from taurus_sessions.inventory.realtime_sessions import ERROR, RUNNING, RealtimeSessionStore, Refusal
from taurus_sessions.nodes.realtime import COLUMNS
from taurus_sessions.services.node_access import NodeAccess, NodeRef

log = logging.getLogger(__name__)

UNRECOGNIZED = "unrecognized"  # the SDK's word for a request id it does not know
INFO_CHARS = 4096  # characters of a statement kept in the file
# Time allowed to turn the rows into the file, on top of the node work (100,000 rows take ~1 s).
RENDER_SECONDS = 30.0

# What a failed job says (the file's download error carries it): fixed texts only, never a
# driver's message, which may name the node's account.
UNREACHABLE = "the node could not be reached or did not answer in time"
REFUSED = "the node refused the collection's statement"
TOO_LONG = "the collection did not finish within {seconds:g} seconds"
STOPPED = "the service process stopped before the collection finished"
ABANDONED = "the service process collecting it stopped before it finished"
UNEXPECTED = "an unexpected failure (the service log has the details)"


@dataclass(frozen=True, slots=True)
class RealtimeLimits:
    result_seconds: int  # how long a finished (or failed) collection is kept
    max_running: int  # per project
    max_results: int  # per project, not yet expired
    max_rows: int  # lines of one file
    job_seconds: float  # the longest a collection takes: its node work and its file
    stale_seconds: float  # a job running longer than this was left by a process that stopped

    @classmethod
    def derive(
        cls,
        *,
        node_seconds: float,
        inventory_timeout: float,
        result_seconds: int,
        max_running: int,
        max_results: int,
        max_rows: int,
    ) -> RealtimeLimits:
        """``node_seconds`` bounds the node work (``node_access.node_deadline``); the job adds the
        file, then writes its outcome (one inventory statement, and its lock wait)."""
        job_seconds = node_seconds + RENDER_SECONDS
        return cls(
            result_seconds=result_seconds,
            max_running=max_running,
            max_results=max_results,
            max_rows=max_rows,
            job_seconds=job_seconds,
            stale_seconds=job_seconds + 2 * inventory_timeout,
        )


def render(records: Sequence[dict[str, Any]]) -> bytes:
    """The file: a header row, one line per session (no cell a spreadsheet would run)."""
    return to_csv(COLUMNS, records).encode("utf-8")


class RealtimeSessionService:
    def __init__(
        self,
        nodes: NodeAccess,
        store: RealtimeSessionStore,
        limits: RealtimeLimits,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._nodes = nodes
        self._store = store
        self.limits = limits
        self._clock = clock
        self._jobs: set[asyncio.Task[None]] = set()
        # Within a process the caps are checked one call at a time (across replicas, by the
        # inventory's transaction).
        self._admitting = asyncio.Lock()

    async def collect_realtime_session(
        self, caller: Caller, ref: NodeRef, query: RealtimeQuery, request: dict[str, Any]
    ) -> str:
        """Start a collection of the node's sessions; its id (a UUID)."""
        target = await self._nodes.target(caller, ref, policy.GET_REALTIME_SESSION)
        now = self._clock()
        limits = self.limits
        job = RealtimeSessionJob(
            id=str(uuid.uuid4()),
            project_id=ref.project_id,
            instance_id=ref.instance_id,
            node_id=ref.node_id,
            created_by=caller.display_name,
            created_at=now,
            status=RUNNING,
            request=request,
            # kept while it may still run, then for result_seconds from its end (set then)
            expires_at=now + timedelta(seconds=limits.stale_seconds + limits.result_seconds),
        )
        async with self._admitting:
            refusal = await self._store.admit(
                job,
                max_running=limits.max_running,
                max_results=limits.max_results,
                running_since=now - timedelta(seconds=limits.stale_seconds),
                now=now,
            )
        if refusal is Refusal.RUNNING:
            raise TooManyRealtimeCollections(f"at most {limits.max_running} run at once")
        if refusal is Refusal.RESULTS:
            raise TooManyRealtimeResults(f"at most {limits.max_results} are kept")
        task = asyncio.create_task(self._run(job.id, target, query), name=f"realtime-session {job.id}")
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        return job.id

    async def show_realtime_session_task_status(self, caller: Caller, ref: NodeRef, request_id: str) -> str:
        """running, finished or error; unrecognized for an id this node does not know (any more)."""
        await self._nodes.target(caller, ref, policy.GET_REALTIME_SESSION)
        job = await self._job(ref, request_id)
        return UNRECOGNIZED if job is None else job.status

    async def download_realtime_session(self, caller: Caller, ref: NodeRef, request_id: str) -> bytes:
        """The file of a finished collection."""
        await self._nodes.target(caller, ref, policy.GET_REALTIME_SESSION)
        job = await self._job(ref, request_id)
        if job is None:
            raise RealtimeCollectionNotFound()
        if job.status == RUNNING:
            raise RealtimeCollectionRunning()
        if job.status == ERROR:
            raise RealtimeCollectionFailed(job.error)
        body = await self._store.result(job.id)
        if body is None:  # purged between the two reads
            raise RealtimeCollectionNotFound()
        return body

    async def purge(self) -> int:
        """Forget expired collections and their files."""
        return await self._store.purge(self._clock())

    async def close(self) -> None:
        """Stop the collections still running here (the process is stopping); each is marked
        failed on its way out."""
        jobs = list(self._jobs)
        for task in jobs:
            task.cancel()
        for task in jobs:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- internals -------------------------------------------------------------------------------
    async def _job(self, ref: NodeRef, request_id: str) -> RealtimeSessionJob | None:
        """The node's job by id, None when unknown, expired or another node's; a job its process
        abandoned is settled as failed here, by whoever reads it first."""
        job = await self._store.get(request_id)
        now = self._clock()
        where = (ref.project_id, ref.instance_id, ref.node_id)
        if job is None or (job.project_id, job.instance_id, job.node_id) != where or job.expires_at <= now:
            return None
        if job.status == RUNNING and job.created_at < now - timedelta(seconds=self.limits.stale_seconds):
            if await self._store.fail(job.id, ABANDONED, now, self._expiry(now)):
                job.status, job.error = ERROR, ABANDONED
            else:  # settled meanwhile by another reader
                return await self._store.get(request_id)
        return job

    def _expiry(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.limits.result_seconds)

    async def _run(self, job_id: str, target: NodeTarget, query: RealtimeQuery) -> None:
        limits = self.limits
        try:
            async with asyncio.timeout(limits.job_seconds):
                async with self._nodes.session(target) as session:
                    records = await session.realtime_sessions(query, limits.max_rows, INFO_CHARS)
                body = await asyncio.to_thread(render, records)
        except asyncio.CancelledError:
            await self._settle_failed(job_id, STOPPED)
            raise
        except NodeUnavailable:
            await self._settle_failed(job_id, UNREACHABLE)
        except InternalError:
            await self._settle_failed(job_id, REFUSED)
        except TimeoutError:
            log.warning("realtime session collection %s passed its deadline", job_id)
            await self._settle_failed(job_id, TOO_LONG.format(seconds=limits.job_seconds))
        except Exception:  # a bug must still end the job, not leave it running
            log.exception("realtime session collection %s failed", job_id)
            await self._settle_failed(job_id, UNEXPECTED)
        else:
            now = self._clock()
            try:
                await self._store.finish(job_id, body, len(records), now, self._expiry(now))
            except Exception:  # the inventory failed: the job reads as error once it is stale
                log.exception("storing realtime session collection %s failed", job_id)
            else:
                metrics.REALTIME_COLLECTIONS.labels("finished").inc()
                log.info("realtime session collection %s: %d sessions", job_id, len(records))

    async def _settle_failed(self, job_id: str, error: str) -> None:
        metrics.REALTIME_COLLECTIONS.labels("error").inc()
        now = self._clock()
        try:
            await self._store.fail(job_id, error, now, self._expiry(now))
        except Exception:  # the inventory failed: the job reads as error once it is stale
            log.exception("marking realtime session collection %s failed did not work", job_id)

"""Runs kill tasks: every service process claims due tasks (a lease per task, so that replicas never
run the same task at once), runs one kill-by-filter pass per task, and counts it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from taurus_sessions import metrics
from taurus_sessions.auth import policy
from taurus_sessions.auth.access import AccessControl
from taurus_sessions.auth.caller import Caller
from taurus_sessions.domain import FilterKill, KillMode, ThreadFilter, VictimChoice
from taurus_sessions.errors import ApiError, InstanceNotFound, NodeNotFound
from taurus_sessions.inventory.instances import NodeTarget
from taurus_sessions.inventory.kill_tasks import AUTO, FAILED, FINISHED, KillTaskStore
from taurus_sessions.inventory.models import KillTask, utcnow
from taurus_sessions.language import Language
from taurus_sessions.services.audit_trail import AuditTrail
from taurus_sessions.services.call_context import CallContext
from taurus_sessions.services.extended_kills import KillService
from taurus_sessions.services.node_access import NodeRef, Targets

log = logging.getLogger(__name__)

MAX_CONCURRENT_PASSES = 16


class TaskRunner:
    def __init__(
        self,
        store: KillTaskStore,
        kills: KillService,
        targets: Targets,
        access: AccessControl,
        audit: AuditTrail,
        *,
        poll_seconds: float,
        lease_seconds: float,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._kills = kills
        self._targets = targets
        self._access = access
        self._audit = audit
        self._poll = poll_seconds
        self._lease = timedelta(seconds=lease_seconds)
        self._now = now
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._passes: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_PASSES)

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        try:
            while True:
                try:
                    await self.tick()
                except Exception:
                    log.exception("kill task scheduling failed; retrying")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll):
                        await self._wake.wait()
                self._wake.clear()
        finally:
            for running in self._passes.values():
                running.cancel()
            with contextlib.suppress(Exception):
                await asyncio.shield(self._store.release(self.owner))

    async def tick(self) -> list[asyncio.Task[None]]:
        """Claim the due tasks and start a pass of each; the passes started, for whoever waits on them."""
        started: list[asyncio.Task[None]] = []
        for task in await self._store.claim_due(self.owner, self._now(), self._lease):
            if task.id not in self._passes:
                self._passes[task.id] = asyncio.create_task(self._guarded_pass(task))
                started.append(self._passes[task.id])
        return started

    async def _guarded_pass(self, task: KillTask) -> None:
        try:
            async with self._slots:
                await self.run_pass(task)
        except Exception:
            log.exception("kill task pass crashed", extra={"task_id": task.id})
        finally:
            self._passes.pop(task.id, None)

    async def run_pass(self, task: KillTask) -> None:
        now = self._now()
        if task.ends_at is not None and now >= task.ends_at:
            await self._store.end(task.id, FINISHED, now, None)
            return
        creator = await self._creator(task)
        if creator is None:
            await self._store.end(
                task.id, FAILED, now, None, "the task's creator may no longer kill sessions"
            )
            return
        killed, error, final = 0, None, None
        try:
            if task.kind == AUTO and not await self._targets.auto_kill_enabled(
                task.project_id, task.instance_id
            ):
                targets = []  # the instance's switch is off: the task waits, killing nothing
            else:
                targets = await self._targets_of(task)
            for target in targets:
                killed += await self._sweep_node(task, creator, target, now)
        except (InstanceNotFound, NodeNotFound) as exc:
            error, final = f"{exc.code}: {exc.message(Language.EN_US)}", FAILED
        except ApiError as exc:  # the node is down or slow: keep trying at the next interval
            error = f"{exc.code}: {exc.message(Language.EN_US)}"
        done = self._now()
        if final is None and task.ends_at is not None and done >= task.ends_at:
            final = FINISHED
        metrics.TASK_PASSES.labels(final or ("error" if error else "ok")).inc()
        await self._store.record_pass(
            task.id,
            self.owner,
            at=now,
            killed=killed,
            error=error,
            next_pass_at=done + timedelta(seconds=task.interval_seconds),
            final_state=final,
        )

    async def _targets_of(self, task: KillTask) -> list[NodeTarget]:
        """The task's node, or every node of its instance (TaurusDB's automatic kill tasks)."""
        if task.node_id is not None:
            return [await self._targets.node(NodeRef(task.project_id, task.instance_id, task.node_id))]
        return await self._targets.instance_nodes(task.project_id, task.instance_id)

    async def _sweep_node(self, task: KillTask, creator: Caller, target: NodeTarget, now: datetime) -> int:
        """One node's sweep, audited as the task acting for its creator."""
        ctx = CallContext(f"task-{uuid.uuid4().hex[:24]}", None, now, time.monotonic())
        action = "autoKillTask" if task.kind == AUTO else "killTask"
        async with self._audit.kill_call(ctx, action, creator) as call:
            call.project_id, call.instance_id, call.node_id = (
                target.project_id,
                target.instance_id,
                target.node_id,
            )
            call.task_id = task.id
            call.record_if_empty = False  # a quiet pass every few seconds is not news
            report = await self._kills.sweep(target, task_sweep(task), call)
        return report.summary()["killed"]

    async def _creator(self, task: KillTask) -> Caller | None:
        """The creator as the actor of the task's kills, if still active and still allowed to kill."""
        return await self._access.acting_for(
            task.created_by_user_id, task.project_id, policy.DELETE_PROCESSES
        )


def task_sweep(task: KillTask) -> FilterKill:
    return FilterKill(
        filter=ThreadFilter.model_validate(task.filter),
        mode=KillMode(task.mode),
        victims=VictimChoice(task.victims),
        max_victims=task.max_victims_per_pass,
    )

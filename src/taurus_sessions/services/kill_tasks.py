"""Kill tasks as the API sees them: create, list, show (progress and recent victims), stop."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from taurus_sessions.auth import policy
from taurus_sessions.auth.access import AccessControl
from taurus_sessions.auth.caller import Caller
from taurus_sessions.domain import KillMode, ThreadFilter, VictimChoice
from taurus_sessions.errors import TaskNotFound
from taurus_sessions.inventory.audit_events import AuditQuery, AuditStore
from taurus_sessions.inventory.kill_tasks import RUNNING, STOPPED, KillTaskStore
from taurus_sessions.inventory.models import KillTask, utcnow
from taurus_sessions.services.audit_trail import KillCall
from taurus_sessions.services.node_access import NodeAccess, NodeRef

RECENT_VICTIMS = 50


@dataclass(frozen=True, slots=True)
class KillTaskSpec:
    name: str
    filter: ThreadFilter
    mode: KillMode
    victims: VictimChoice
    interval_seconds: int
    duration_seconds: int | None  # None: until stopped
    max_victims_per_pass: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "filter": self.filter.as_dict(),
            "mode": self.mode.value,
            "victims": self.victims.value,
            "interval_seconds": self.interval_seconds,
            "duration_seconds": self.duration_seconds,
            "max_victims_per_pass": self.max_victims_per_pass,
        }


class KillTaskService:
    def __init__(
        self,
        nodes: NodeAccess,
        access: AccessControl,
        store: KillTaskStore,
        audit_log: AuditStore,
        wake_runner: Callable[[], None],
        *,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._nodes = nodes
        self._access = access
        self._store = store
        self._audit_log = audit_log
        self._wake_runner = wake_runner
        self._now = now

    async def create_kill_task(
        self, caller: Caller, ref: NodeRef, spec: KillTaskSpec, record: KillCall
    ) -> KillTask:
        """Needs the task right and the kill right; the node must exist."""
        record.requested = spec.as_dict()
        await self._access.require(caller, ref.project_id, policy.CREATE_KILL_TASK)
        await self._nodes.target(caller, ref, policy.DELETE_PROCESSES)
        now = self._now()
        task = KillTask(
            id=secrets.token_hex(16),
            name=spec.name,
            project_id=ref.project_id,
            instance_id=ref.instance_id,
            node_id=ref.node_id,
            created_by_user_id=caller.user_id,
            created_by=caller.display_name,
            filter=spec.filter.as_dict(),
            mode=spec.mode.value,
            victims=spec.victims.value,
            interval_seconds=spec.interval_seconds,
            duration_seconds=spec.duration_seconds,
            max_victims_per_pass=spec.max_victims_per_pass,
            state=RUNNING,
            created_at=now,
            ends_at=now + timedelta(seconds=spec.duration_seconds) if spec.duration_seconds else None,
            next_pass_at=now,
            passes=0,
            victims_killed=0,
        )
        await self._store.create(task)
        record.task_id = task.id
        self._wake_runner()  # the first pass runs now, not at the next poll
        return task

    async def list_kill_tasks(
        self,
        caller: Caller,
        project_id: str,
        *,
        instance_id: str | None,
        node_id: str | None,
        state: str | None,
        offset: int,
        limit: int,
    ) -> tuple[Sequence[KillTask], int]:
        await self._access.require(caller, project_id, policy.LIST_KILL_TASKS)
        return await self._store.page(
            project_id, instance_id=instance_id, node_id=node_id, state=state, offset=offset, limit=limit
        )

    async def show_kill_task(
        self, caller: Caller, project_id: str, task_id: str
    ) -> tuple[KillTask, list[dict[str, Any]] | None]:
        """The task, and its recent victims when the caller may read the audit trail (None
        otherwise): who was killed, from where, running what, is the trail's to tell."""
        await self._access.require(caller, project_id, policy.LIST_KILL_TASKS)
        task = await self._store.get(project_id, task_id)
        if task is None:
            raise TaskNotFound()
        if not await self._access.may(caller, project_id, policy.LIST_AUDIT):
            return task, None
        events, _ = await self._audit_log.query(
            AuditQuery(project_id=project_id, actor=task_id, limit=RECENT_VICTIMS)
        )
        victims = [
            {"at": event.at.isoformat(), **result}
            for event in events
            for result in event.results
            if result.get("outcome") != "not_found"
        ]
        return task, victims[:RECENT_VICTIMS]

    async def stop_kill_task(
        self, caller: Caller, project_id: str, task_id: str, record: KillCall
    ) -> KillTask:
        record.requested = {"task_id": task_id}
        record.task_id = task_id
        await self._access.require(caller, project_id, policy.STOP_KILL_TASK)
        task = await self._store.get(project_id, task_id)
        if task is None:
            raise TaskNotFound()
        record.instance_id, record.node_id = task.instance_id, task.node_id
        await self._store.end(task_id, STOPPED, self._now(), caller.display_name)
        stopped = await self._store.get(project_id, task_id)
        assert stopped is not None
        return stopped


def task_times(task: KillTask) -> dict[str, str | None]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "created_at": iso(task.created_at),
        "ends_at": iso(task.ends_at),
        "stopped_at": iso(task.stopped_at),
        "last_pass_at": iso(task.last_pass_at),
        "next_pass_at": iso(task.next_pass_at) if task.state == RUNNING else None,
    }

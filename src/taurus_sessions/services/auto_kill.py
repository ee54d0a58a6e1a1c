"""TaurusDB's automatic kill (Intelligent Diagnosis, contract Part F): conditional kill tasks over a
whole instance (AddKillProcessTask and its siblings), the instance's ON/OFF switch, kill-all, and
the history of what they killed — built on this service's kill tasks (leases, one runner across
replicas, the write-ahead audit)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from taurus_sessions.auth import policy
from taurus_sessions.auth.access import AccessControl
from taurus_sessions.auth.caller import Caller
from taurus_sessions.domain import FilterKill, KillMode, Process, ThreadFilter, VictimChoice
from taurus_sessions.errors import (
    AutoKillSwitchedOff,
    InstanceNotFound,
    TaskNotFound,
    TooManyAutoKillTasks,
)
from taurus_sessions.inventory.audit_events import AuditQuery, AuditStore
from taurus_sessions.inventory.instances import InstanceStore
from taurus_sessions.inventory.kill_tasks import AUTO, RUNNING, STOPPED, KillTaskStore
from taurus_sessions.inventory.models import KillTask, utcnow
from taurus_sessions.nodes.sql import literal_pattern
from taurus_sessions.services.audit_trail import AuditTrail, KillCall
from taurus_sessions.services.call_context import CallContext
from taurus_sessions.services.extended_kills import KillService
from taurus_sessions.services.node_access import NodeAccess

MAX_RUNNING = 5  # "支持最多同时运行5个条件Kill任务" (TaurusDB user guide)
PASS_SECONDS = 1  # how often a running task looks: conditions are met, sessions are killed
HISTORY_ACTIONS = ("autoKillTask", "killAllProcess")
HISTORY_SCAN = 10_000  # audit records read at most for one history page


@dataclass(frozen=True, slots=True)
class KillCriteria:
    """AddKillProcessTask's conditions, all of them ANDed. Huawei's values are exact, so they are
    escaped for this service's filter language; ``time`` is the session's seconds in its state."""

    time: int
    user: str | None = None
    host: str | None = None
    db: str | None = None
    command: str | None = None
    info: str | None = None

    def thread_filter(self) -> ThreadFilter:
        return ThreadFilter(
            user=_exact(self.user),
            host=_host(self.host),
            db=_exact(self.db),
            command=_exact(self.command),
            info=_exact(self.info),  # a substring of the statement, as TaurusDB's console matches
            min_time=self.time,
        )

    def as_dict(self) -> dict[str, Any]:
        fields = {"user": self.user, "host": self.host, "db": self.db, "command": self.command}
        return {k: v for k, v in (fields | {"info": self.info, "time": self.time}).items() if v is not None}


def _exact(value: str | None) -> str | None:
    return literal_pattern(value) if value else None


def _host(value: str | None) -> str | None:
    """A host without a port matches that client from any port (the processlist shows host:port)."""
    if not value:
        return None
    return literal_pattern(value) if ":" in value else literal_pattern(value) + ":*"


@dataclass(frozen=True, slots=True)
class PreviewRow:
    node_id: str
    process: Process


class AutoKillService:
    def __init__(
        self,
        nodes: NodeAccess,
        access: AccessControl,
        instances: InstanceStore,
        tasks: KillTaskStore,
        kills: KillService,
        audit: AuditTrail,
        audit_store: AuditStore,
        wake_runner: Callable[[], None],
        max_victims: int,
    ) -> None:
        self._nodes = nodes
        self._access = access
        self._instances = instances
        self._tasks = tasks
        self._kills = kills
        self._audit = audit
        self._audit_store = audit_store
        self._wake_runner = wake_runner
        self._max_victims = max_victims

    async def _require_instance(self, caller: Caller, project_id: str, instance_id: str, action: str) -> None:
        await self._access.require(caller, project_id, action)
        if await self._instances.get_instance(project_id, instance_id) is None:
            raise InstanceNotFound()

    async def _require_switch_on(self, project_id: str, instance_id: str) -> None:
        if not await self._nodes.targets.auto_kill_enabled(project_id, instance_id):
            raise AutoKillSwitchedOff()

    # -- the switch ---------------------------------------------------------------------------------
    async def update_auto_kill_process_status(
        self, caller: Caller, project_id: str, instance_id: str, enabled: bool, record: KillCall
    ) -> None:
        record.requested = {"status": "ON" if enabled else "OFF"}
        await self._access.require(caller, project_id, policy.MODIFY_INSTANCE)
        if not await self._instances.set_auto_kill(project_id, instance_id, enabled):
            raise InstanceNotFound()

    async def show_kill_process_status(self, caller: Caller, project_id: str, instance_id: str) -> bool:
        await self._access.require(caller, project_id, policy.LIST_INSTANCES)
        return await self._nodes.targets.auto_kill_enabled(project_id, instance_id)

    # -- tasks --------------------------------------------------------------------------------------
    async def add_kill_process_task(
        self,
        caller: Caller,
        project_id: str,
        instance_id: str,
        criteria: KillCriteria,
        duration_seconds: int,
        record: KillCall,
    ) -> KillTask:
        """Needs the modify right and the kill right; the switch on; at most five running."""
        record.requested = criteria.as_dict() | {"task_duration": duration_seconds}
        await self._require_instance(caller, project_id, instance_id, policy.MODIFY_INSTANCE)
        await self._access.require(caller, project_id, policy.DELETE_PROCESSES)
        await self._require_switch_on(project_id, instance_id)
        if await self._tasks.running_count(instance_id, AUTO) >= MAX_RUNNING:
            raise TooManyAutoKillTasks()
        now = utcnow()
        task = KillTask(
            id=secrets.token_hex(16),
            name="",
            kind=AUTO,
            project_id=project_id,
            instance_id=instance_id,
            node_id=None,  # every node of the instance
            created_by_user_id=caller.user_id,
            created_by=caller.display_name,
            filter=criteria.thread_filter().as_dict(),
            mode=KillMode.CONNECTION.value,
            victims=VictimChoice.ALL.value,
            interval_seconds=PASS_SECONDS,
            duration_seconds=duration_seconds,
            max_victims_per_pass=self._max_victims,
            state=RUNNING,
            created_at=now,
            ends_at=now + timedelta(seconds=duration_seconds),
            next_pass_at=now,
            passes=0,
            victims_killed=0,
        )
        await self._tasks.create(task)
        record.task_id = task.id
        self._wake_runner()
        return task

    async def show_kill_process_task(
        self, caller: Caller, project_id: str, instance_id: str
    ) -> Sequence[KillTask]:
        await self._require_instance(caller, project_id, instance_id, policy.LIST_INSTANCES)
        return await self._tasks.instance_tasks(project_id, instance_id, AUTO)

    async def stop_kill_process_task(
        self, caller: Caller, project_id: str, instance_id: str, task_id: str, record: KillCall
    ) -> None:
        record.requested = {"task_id": task_id}
        record.task_id = task_id
        await self._require_instance(caller, project_id, instance_id, policy.MODIFY_INSTANCE)
        task = await self._tasks.get(project_id, task_id)
        if task is None or task.instance_id != instance_id or task.kind != AUTO:
            raise TaskNotFound()
        await self._tasks.end(task_id, STOPPED, utcnow(), caller.display_name)

    async def show_kill_process_task_preview(
        self, caller: Caller, project_id: str, instance_id: str, criteria: KillCriteria
    ) -> list[PreviewRow]:
        """The sessions the task would kill now, on every node of the instance."""
        await self._require_instance(caller, project_id, instance_id, policy.LIST_INSTANCES)
        await self._access.require(caller, project_id, policy.LIST_PROCESSES)
        rows: list[PreviewRow] = []
        for target in await self._nodes.targets.instance_nodes(project_id, instance_id):
            async with self._nodes.session(target) as session:
                matching = await session.matching(criteria.thread_filter())
            rows.extend(PreviewRow(target.node_id, thread.process) for thread in matching)
        return rows

    # -- kill all -----------------------------------------------------------------------------------
    async def execute_kill_all_process(
        self, caller: Caller, project_id: str, instance_id: str, ctx: CallContext
    ) -> int:
        """Every user session of every node of the instance (internal threads never), each node
        its own audited sweep. Refused while the switch is off."""
        await self._require_instance(caller, project_id, instance_id, policy.MODIFY_INSTANCE)
        await self._access.require(caller, project_id, policy.DELETE_PROCESSES)
        await self._require_switch_on(project_id, instance_id)
        everyone = FilterKill(ThreadFilter(), max_victims=self._max_victims)
        killed = 0
        for target in await self._nodes.targets.instance_nodes(project_id, instance_id):
            async with self._audit.kill_call(ctx, "killAllProcess", caller) as call:
                call.project_id, call.instance_id, call.node_id = project_id, instance_id, target.node_id
                report = await self._kills.sweep(target, everyone, call)
            killed += report.summary()["killed"]
        return killed

    # -- history ------------------------------------------------------------------------------------
    async def show_kill_process_history(
        self,
        caller: Caller,
        project_id: str,
        instance_id: str,
        since: datetime | None,
        until: datetime | None,
        page: int,
        size: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """Sessions killed by automatic kill tasks and kill-all, newest first."""
        await self._require_instance(caller, project_id, instance_id, policy.LIST_INSTANCES)
        query = AuditQuery(
            project_id=project_id,
            instance_id=instance_id,
            actions=HISTORY_ACTIONS,
            since=since,
            until=until,
            limit=HISTORY_SCAN,
        )
        events, _ = await self._audit_store.query(query)
        killed = [
            {
                "task_id": event.task_id,
                "node_id": event.node_id,
                "killed_at": int(event.at.timestamp() * 1000),
                **{k: v for k, v in result.items() if k != "outcome"},
            }
            for event in events
            for result in event.results
            if result.get("outcome") == "killed"
        ]
        start = (max(page, 1) - 1) * size
        return killed[start : start + size], len(killed)

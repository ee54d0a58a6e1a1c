"""TaurusDB's intelligent kill (contract Part F; the official SDK's ShowIntelligentKillSessionStatistic,
ExecuteIntelligentKillSession, ListIntelligentKillSessionHistory): a node's sessions grouped by SQL
template (literals replaced, whitespace folded, comments dropped: ``sql_templates.sql_template``),
each group's count and total / average / longest execution time; per strategy the three groups
ranked first; the statistic is the preview, the execution kills the sessions of those groups as
one audited task, checked at kill time to still run what was grouped."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from taurus_sessions.auth import policy
from taurus_sessions.auth.caller import Caller
from taurus_sessions.domain import KillMode, Outcome, Thread
from taurus_sessions.errors import TaskNotFound
from taurus_sessions.inventory.audit_events import AuditQuery, AuditStore
from taurus_sessions.inventory.intelligent_kill import IntelligentKillStore
from taurus_sessions.inventory.models import IntelligentKillTask, utcnow
from taurus_sessions.nodes import sql
from taurus_sessions.nodes.driver import seconds_in_state, to_thread
from taurus_sessions.services.audit_trail import AuditTrail, KillCall
from taurus_sessions.services.kill_decision import Expectation, kill_threads
from taurus_sessions.services.node_access import NodeAccess, NodeRef
from taurus_sessions.sql_templates import sql_template

TOP = 3
# The strategies the SDK names: the groups with the longest single execution, the most sessions,
# the longest average execution.
STRATEGIES = ("top3_time", "top3_count", "top3_avg_time")


@dataclass
class TemplateGroup:
    keyword: str  # the SQL template the group's sessions share
    example_sql_text: str  # the statement of the first session (lowest id) of the group
    rows: list[sql.ExecutingRow] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return [int(row.id) for row in self.rows]

    @property
    def threads(self) -> list[Thread]:
        # Built on demand: the statistic needs none, an execution only those of the top groups.
        return [to_thread(row, False) for row in self.rows]

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def total_time(self) -> float:
        return sum(self.seconds)

    @property
    def avg_time(self) -> float:
        return self.total_time / self.count if self.count else 0.0

    @property
    def max_time(self) -> float:
        return max(self.seconds, default=0.0)


_by_id = attrgetter("id")


def _statement(row: sql.ExecutingRow) -> str:
    info = row.info
    if type(info) is str:
        return info
    return to_thread(row, False).process.info or ""  # the driver's other types, converted as always


def group_by_template(executing: Sequence[sql.ExecutingRow]) -> list[TemplateGroup]:
    """Sessions running a statement, grouped by the statement's template (in id order)."""
    groups: dict[str, TemplateGroup] = {}
    for row in sorted(executing, key=_by_id):
        statement = _statement(row)
        keyword = sql_template(statement)
        group = groups.get(keyword)
        if group is None:
            group = groups[keyword] = TemplateGroup(keyword, statement)
        group.rows.append(row)
        group.seconds.append(seconds_in_state(row))
    return list(groups.values())


_RANKING = {
    "top3_time": lambda g: (-g.max_time, -g.count, g.keyword),
    "top3_count": lambda g: (-g.count, -g.total_time, g.keyword),
    "top3_avg_time": lambda g: (-g.avg_time, -g.count, g.keyword),
}


def top_groups(groups: Sequence[TemplateGroup], strategy: str) -> list[TemplateGroup]:
    """The three groups ranked first by ``strategy`` (ties: more sessions, then the template)."""
    return sorted(groups, key=_RANKING[strategy])[:TOP]


@dataclass(frozen=True, slots=True)
class Statistic:
    strategy: str
    group: TemplateGroup


def statistics(groups: Sequence[TemplateGroup]) -> list[Statistic]:
    return [Statistic(strategy, group) for strategy in STRATEGIES for group in top_groups(groups, strategy)]


def victims_of(stats: Sequence[Statistic]) -> dict[int, Thread]:
    """Every session of a group some strategy ranked in its top three."""
    return {thread.process.id: thread for stat in stats for thread in stat.group.threads}


class IntelligentKillService:
    def __init__(
        self, nodes: NodeAccess, audit: AuditTrail, audit_store: AuditStore, store: IntelligentKillStore
    ) -> None:
        self._nodes = nodes
        self._audit = audit
        self._audit_store = audit_store
        self._store = store

    async def show_intelligent_kill_session_statistic(self, caller: Caller, ref: NodeRef) -> list[Statistic]:
        target = await self._nodes.target(caller, ref, policy.SHOW_INTELLIGENT_KILL)
        async with self._nodes.session(target) as session:
            executing = await session.executing_rows()
        return statistics(group_by_template(executing))

    async def execute_intelligent_kill_session(
        self, caller: Caller, ref: NodeRef, record: KillCall
    ) -> IntelligentKillTask:
        """Kill the sessions of the top groups as one task; a session whose statement changed
        since it was grouped is left alone (the identity guard)."""
        target = await self._nodes.target(caller, ref, policy.EXECUTE_INTELLIGENT_KILL)
        await self._nodes.access.require(caller, ref.project_id, policy.DELETE_PROCESSES)
        task = IntelligentKillTask(
            id=str(uuid.uuid4()),
            project_id=ref.project_id,
            instance_id=ref.instance_id,
            node_id=ref.node_id,
            created_by=caller.display_name,
            started_at=utcnow(),
            audit_request_id=record.ctx.request_id,
            victims_killed=0,
        )
        record.task_id = task.id
        record.mode = KillMode.CONNECTION.value
        async with self._nodes.session(target) as session:
            stats = statistics(group_by_template(await session.executing_rows()))
            victims = victims_of(stats)
            record.requested = {
                "strategies": list(STRATEGIES),
                "groups": sorted({s.group.keyword for s in stats}),
            }
            expectations = {tid: _same_statement(thread) for tid, thread in victims.items()}
            verdicts = await kill_threads(
                session, self._audit, record, list(victims), KillMode.CONNECTION, expectations=expectations
            )
        task.ended_at = utcnow()
        task.victims_killed = sum(1 for v in verdicts if v.outcome is Outcome.KILLED)
        await self._store.add(task)
        return task

    async def list_intelligent_kill_session_history(
        self,
        caller: Caller,
        ref: NodeRef,
        since: datetime,
        until: datetime,
        offset: int,
        limit: int,
    ) -> tuple[Sequence[IntelligentKillTask], int]:
        await self._nodes.target(caller, ref, policy.SHOW_INTELLIGENT_KILL)
        return await self._store.page(ref.node_id, since, until, offset, limit)

    async def killed_sessions(
        self, caller: Caller, project_id: str, instance_id: str, task_id: str
    ) -> list[dict[str, Any]]:
        """The sessions a task killed (what its download holds), from its audit record."""
        await self._nodes.access.require(caller, project_id, policy.SHOW_INTELLIGENT_KILL)
        task = await self._store.get(task_id)
        if task is None or task.project_id != project_id or task.instance_id != instance_id:
            raise TaskNotFound()
        events, _ = await self._audit_store.query(
            AuditQuery(project_id=project_id, request_id=task.audit_request_id, limit=1)
        )
        return [
            {"task_id": task.id, "node_id": task.node_id, **result}
            for event in events
            for result in event.results
            if result.get("outcome") == "killed"
        ]


def _same_statement(thread: Thread) -> Expectation:
    process = thread.process
    return Expectation(user=process.user, host=process.host, info=process.info)

"""TaurusDB's autonomous SQL limiting, the configuration side (contract Part F; the official SDK's
SetAutoSqlLimiting, ShowSqlAutoSqlLimiting, DeleteAutoSqlLimiting, ShowAutoSqlLimitingLog): rules
per primary node, what the limiter last saw, the limits in force and the log. The limiter itself is
``sql_limiter.py``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from taurus_sessions.auth import policy
from taurus_sessions.auth.caller import Caller
from taurus_sessions.errors import AutoSqlLimitingNotEnabled, JobNotFound, NotPrimaryNode, ParameterError
from taurus_sessions.inventory.instances import NodeTarget
from taurus_sessions.inventory.jobs import COMPLETED, JobStore
from taurus_sessions.inventory.models import AutoSqlLimit, AutoSqlLimitingRule, Job
from taurus_sessions.inventory.sql_limiting import SqlLimitingStore
from taurus_sessions.services.audit_trail import KillCall
from taurus_sessions.services.node_access import NodeAccess, NodeRef

PRIMARY = "master"
LOG_LIMIT = 1000  # ShowAutoSqlLimitingLog has no paging: the newest this many


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """One node's rule as SetAutoSqlLimiting gives it (already range-checked by the API model)."""

    node_id: str
    start_time: str
    end_time: str
    condition: str
    cpu_usage: int
    active_sessions: int
    clear_time: int
    duration: int
    max_concurrency: int
    retain_sql_rule: bool


@dataclass(frozen=True, slots=True)
class NodeLimiting:
    """A node's rule with the limits in force on it now."""

    rule: AutoSqlLimitingRule
    active: Sequence[AutoSqlLimit]
    cpu_source: str | None


class SqlLimitingService:
    def __init__(
        self,
        nodes: NodeAccess,
        store: SqlLimitingStore,
        jobs: JobStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._nodes = nodes
        self._store = store
        self._jobs = jobs
        self._clock = clock

    async def set_auto_sql_limiting(
        self,
        caller: Caller,
        project_id: str,
        instance_id: str,
        rules: Sequence[RuleSettings],
        record: KillCall,
    ) -> Job:
        """Create or change the rules of primary nodes, at once (all or none); a changed rule
        starts over and the limits of its predecessor end. The limits kill in the caller's name,
        so the caller needs the right to kill sessions too."""
        await self._nodes.access.require(caller, project_id, policy.SET_SQL_FILTER_RULES)
        await self._nodes.access.require(caller, project_id, policy.DELETE_PROCESSES)
        record.requested = {"auto_sql_limiting_rules": [asdict(rule) for rule in rules]}
        seen: set[str] = set()
        for rule in rules:
            if rule.node_id in seen:
                raise ParameterError(f"node {rule.node_id} is given twice")
            seen.add(rule.node_id)
            target = await self._nodes.targets.node(NodeRef(project_id, instance_id, rule.node_id))
            _require_primary(target)
        now = self._clock()
        await self._store.put_rules(
            [
                AutoSqlLimitingRule(
                    **asdict(rule),
                    project_id=project_id,
                    instance_id=instance_id,
                    created_by_user_id=caller.user_id,
                    created_by=caller.display_name,
                    updated_at=now,
                )
                for rule in rules
            ],
            now,
        )
        instance = await self._nodes.targets.instance(project_id, instance_id)
        # The change is applied before the answer, so its job is complete when first seen.
        job = Job(
            id=str(uuid.uuid4()),
            project_id=project_id,
            instance_id=instance_id,
            instance_name=instance.name,
            name="SetAutoSqlLimiting",
            status=COMPLETED,
            created_at=now,
            ended_at=self._clock(),
        )
        return await self._jobs.add(job)

    async def show_sql_auto_sql_limiting(
        self, caller: Caller, project_id: str, instance_id: str, node_ids: Sequence[str]
    ) -> list[NodeLimiting]:
        """The rules of the named nodes that have one (a node without is left out)."""
        await self._nodes.access.require(caller, project_id, policy.GET_SQL_FILTER_RULE)
        targets = {
            node_id: await self._nodes.targets.node(NodeRef(project_id, instance_id, node_id))
            for node_id in dict.fromkeys(node_ids)
        }
        rules = await self._store.rules(instance_id, targets)
        active = await self._store.active_limits(targets, self._clock())
        return [
            NodeLimiting(
                rule,
                [limit for limit in active if limit.node_id == rule.node_id],
                targets[rule.node_id].cpu_source,
            )
            for rule in rules
        ]

    async def delete_auto_sql_limiting(self, caller: Caller, ref: NodeRef, record: KillCall) -> None:
        """Switch limiting off on a node; its limits in force end at once."""
        await self._nodes.target(caller, ref, policy.DELETE_SQL_FILTER_RULES)
        if not await self._store.delete_rule(ref.instance_id, ref.node_id, self._clock()):
            raise AutoSqlLimitingNotEnabled()
        record.requested = {"node_id": ref.node_id}

    async def show_auto_sql_limiting_log(self, caller: Caller, ref: NodeRef) -> Sequence[AutoSqlLimit]:
        await self._nodes.target(caller, ref, policy.GET_SQL_FILTER_RULE)
        return await self._store.log(ref.instance_id, ref.node_id, LOG_LIMIT)

    async def show_gauss_my_sql_job_info(self, caller: Caller, project_id: str, job_id: str) -> Job:
        await self._nodes.access.require(caller, project_id, policy.LIST_INSTANCES)
        job = await self._jobs.get(project_id, job_id)
        if job is None:
            raise JobNotFound()
        return job


def _require_primary(target: NodeTarget) -> None:
    if target.role != PRIMARY:
        raise NotPrimaryNode(f"node {target.node_id} is a {target.role}")

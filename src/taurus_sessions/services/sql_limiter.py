"""The limiter: TaurusDB's kernel SQL limiting, emulated from outside the server.

Every service process runs one. Each check (every ``limiting_check_seconds``) it claims the rules
no live process holds (a lease per node, so that replicas never check one node twice) and, per
node, reads the statements running there once, then:

1. **evaluates** the rule: inside its daily window, do CPU and/or active sessions stay at or above
   their thresholds? Sustained for ``duration`` minutes, the rule **fires**: the SELECT template
   most sessions run becomes a limit (its keywords joined by ``~``) of ``max_concurrency`` for
   ``clear_time`` minutes, in the log; the observation then starts over.
2. **enforces** the limits in force: executions matching one beyond its ``max_concurrency`` are
   stopped with ``KILL QUERY`` (``KILL QUERY ID`` on MariaDB: only the statement that was seen),
   newest first, each stop in the audit trail in the name of the rule's creator.

A limit ends at its ``expire_at``, or at once when its rule is changed or switched off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from taurus_sessions import metrics
from taurus_sessions.auth import policy
from taurus_sessions.auth.access import AccessControl
from taurus_sessions.auth.caller import Caller
from taurus_sessions.domain import KillMode, Outcome
from taurus_sessions.errors import ApiError
from taurus_sessions.inventory.instances import NodeTarget
from taurus_sessions.inventory.models import AutoSqlLimit, AutoSqlLimitingRule
from taurus_sessions.inventory.sql_limiting import Evaluation, SqlLimitingStore
from taurus_sessions.language import Language
from taurus_sessions.nodes.driver import NodeSession
from taurus_sessions.services.audit_trail import AuditTrail
from taurus_sessions.services.call_context import CallContext
from taurus_sessions.services.cpu_sources import CpuMeter
from taurus_sessions.services.kill_decision import Expectation, kill_threads
from taurus_sessions.services.limiting_rules import (
    MAX_ACTIVE_LIMITS,
    SQL_TYPE,
    Execution,
    Limit,
    check_conditions,
    excess,
    in_window,
    limitable,
    top_sql,
)
from taurus_sessions.services.node_access import NodeAccess, NodeRef

log = logging.getLogger(__name__)

MAX_CONCURRENT_CHECKS = 16
SAVE_EVERY = timedelta(seconds=5)  # what a check saw is saved at least this often (or on change)
ACTION = "autoSqlLimiting"


@dataclass
class _NodeState:
    """What this process remembers of a node between checks."""

    rule_version: datetime  # the rule's updated_at: a changed rule starts over
    since: datetime | None  # since when the conditions have held without a break
    saved: Evaluation | None = None


@dataclass(frozen=True, slots=True)
class Timing:
    minute: timedelta  # one minute of the rules (scaled for tests and the demo)
    check_seconds: float
    lease: timedelta
    zone: ZoneInfo | None  # the daily windows' time zone; None: local time


class SqlLimiter:
    def __init__(
        self,
        store: SqlLimitingStore,
        nodes: NodeAccess,
        access: AccessControl,
        audit: AuditTrail,
        meter: CpuMeter,
        timing: Timing,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._nodes = nodes
        self._access = access
        self._audit = audit
        self._meter = meter
        self._timing = timing
        self._clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._state: dict[str, _NodeState] = {}
        self._checks: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_CHECKS)

    async def run_forever(self) -> None:
        try:
            while True:
                try:
                    await self.tick()
                except Exception:
                    log.exception("auto SQL limiting: a check failed; retrying")
                await asyncio.sleep(self._timing.check_seconds)
        finally:
            for running in self._checks.values():
                running.cancel()
            with contextlib.suppress(Exception):
                await asyncio.shield(self._store.release(self.owner))
            await self._meter.close()

    async def tick(self) -> None:
        now = self._clock()
        rules = await self._store.claim(self.owner, now, self._timing.lease)
        held = {rule.node_id for rule in rules}
        for node_id in set(self._state) - held:
            del self._state[node_id]  # switched off, or another process holds it now
        self._meter.forget(held)
        if not rules:
            return
        limits = await self._store.active_limits(held, now)
        for rule in rules:
            if rule.node_id in self._checks:
                continue  # the previous check of this node is still running (a slow node)
            own = [limit for limit in limits if limit.node_id == rule.node_id]
            self._checks[rule.node_id] = asyncio.create_task(self._guarded_check(rule, own))

    async def wait_idle(self) -> None:
        """Until the checks started so far are done (tests and the benchmark)."""
        while self._checks:
            await asyncio.gather(*self._checks.values(), return_exceptions=True)

    async def _guarded_check(self, rule: AutoSqlLimitingRule, limits: list[AutoSqlLimit]) -> None:
        try:
            async with self._slots:
                await self.check(rule, limits)
        except Exception:
            log.exception("auto SQL limiting: checking node %s failed", rule.node_id)
        finally:
            self._checks.pop(rule.node_id, None)

    async def check(self, rule: AutoSqlLimitingRule, limits: list[AutoSqlLimit]) -> None:
        """One check of one node: evaluate its rule, fire it if due, enforce its limits."""
        state = self._state.get(rule.node_id)
        if state is None or state.rule_version != rule.updated_at:
            state = self._state[rule.node_id] = _NodeState(rule.updated_at, rule.conditions_since)
        now = self._clock()
        ref = NodeRef(rule.project_id, rule.instance_id, rule.node_id)
        try:
            target = await self._nodes.targets.node(ref)
            creator = await self._access.acting_for(
                rule.created_by_user_id, rule.project_id, policy.DELETE_PROCESSES
            )
            async with self._nodes.session(target) as session:
                executing = await session.executing()
                evaluation = await self._evaluate(rule, target, state, len(executing), now)
                runnable = limitable(executing)
                if evaluation.conditions_since is not None and self._due(rule, evaluation, now):
                    fired = await self._fire(rule, runnable, limits, now)
                    if fired is not None:
                        limits.insert(0, fired)
                        evaluation = _restarted(evaluation)
                if limits and creator is None:
                    evaluation = _noted(evaluation, "the rule's creator may no longer kill sessions")
                elif limits and creator is not None:
                    await self._enforce(session, target, creator, runnable, limits, now)
        except ApiError as exc:
            # The node is down or gone: nothing can be said of its conditions, so they start over.
            evaluation = Evaluation(now, None, None, None, f"{exc.code}: {exc.message(Language.EN_US)}")
        state.since = evaluation.conditions_since
        await self._save(rule, state, evaluation)

    async def _evaluate(
        self, rule: AutoSqlLimitingRule, target: NodeTarget, state: _NodeState, active: int, now: datetime
    ) -> Evaluation:
        cpu = await self._meter.read(rule.node_id, target.cpu_source)
        local = now.astimezone(self._timing.zone) if self._timing.zone else now.astimezone()
        note = cpu.note
        if not in_window(rule.start_time, rule.end_time, local.hour * 60 + local.minute):
            since = None
            note = "outside the daily window"
        else:
            check = check_conditions(rule.condition, rule.cpu_usage, rule.active_sessions, cpu.usage, active)
            since = (state.since or now) if check.holds else None
        return Evaluation(now, since, active, cpu.usage, note)

    def _due(self, rule: AutoSqlLimitingRule, evaluation: Evaluation, now: datetime) -> bool:
        assert evaluation.conditions_since is not None
        return now - evaluation.conditions_since >= rule.duration * self._timing.minute

    async def _fire(
        self,
        rule: AutoSqlLimitingRule,
        executions: Sequence[Execution],
        limits: list[AutoSqlLimit],
        now: datetime,
    ) -> AutoSqlLimit | None:
        if len(limits) >= MAX_ACTIVE_LIMITS:
            return None
        top = top_sql(executions, taken=(limit.pattern for limit in limits))
        if top is None:
            return None
        limit = AutoSqlLimit(
            id=uuid.uuid4().hex,
            project_id=rule.project_id,
            instance_id=rule.instance_id,
            node_id=rule.node_id,
            pattern=top.pattern,
            sql_type=SQL_TYPE,
            template=top.template,
            sessions=top.sessions,
            max_concurrency=rule.max_concurrency,
            create_at=now,
            expire_at=now + rule.clear_time * self._timing.minute,
            stopped=0,
        )
        if not await self._store.add_limit(limit, self.owner, rule.updated_at):
            return None  # the rule changed or went away meanwhile
        metrics.SQL_LIMITS.inc()
        log.info(
            "auto SQL limiting fired on node %s: %s limited to %d for %d minute(s)",
            rule.node_id,
            top.pattern,
            rule.max_concurrency,
            rule.clear_time,
        )
        return limit

    async def _enforce(
        self,
        session: NodeSession,
        target: NodeTarget,
        creator: Caller,
        executions: Sequence[Execution],
        limits: Sequence[AutoSqlLimit],
        now: datetime,
    ) -> None:
        over = excess(
            executions, [Limit(limit.id, limit.pattern, int(limit.max_concurrency)) for limit in limits]
        )
        for limit in limits:
            victims = over.get(limit.id)
            if victims:
                stopped = await self._stop(session, target, creator, limit, victims, now)
                if stopped:
                    await self._store.count_stopped(limit.id, stopped)

    async def _stop(
        self,
        session: NodeSession,
        target: NodeTarget,
        creator: Caller,
        limit: AutoSqlLimit,
        victims: Sequence[Execution],
        now: datetime,
    ) -> int:
        ctx = CallContext(f"limit-{uuid.uuid4().hex[:24]}", None, now, time.monotonic())
        async with self._audit.kill_call(ctx, ACTION, creator) as call:
            call.project_id, call.instance_id, call.node_id = (
                target.project_id,
                target.instance_id,
                target.node_id,
            )
            call.task_id = limit.id
            call.mode = KillMode.QUERY.value
            call.requested = {
                "pattern": limit.pattern,
                "sql_type": limit.sql_type,
                "max_concurrency": int(limit.max_concurrency),
                "reason": "auto SQL limiting: executions beyond max_concurrency, newest first",
            }
            # The statement must still be the one seen (the re-read on the same connection), and on
            # MariaDB KILL QUERY ID names it, so a statement started since is never the one stopped.
            expectations = {
                v.thread.process.id: Expectation(user=v.thread.process.user, info=v.thread.process.info)
                for v in victims
            }
            verdicts = await kill_threads(
                session,
                self._audit,
                call,
                [v.thread.process.id for v in victims],
                KillMode.QUERY,
                expectations=expectations,
            )
        return sum(1 for verdict in verdicts if verdict.outcome is Outcome.KILLED)

    async def _save(self, rule: AutoSqlLimitingRule, state: _NodeState, evaluation: Evaluation) -> None:
        """Saved when something an answer shows changed, else every ``SAVE_EVERY``: a check
        every second must not mean a write every second."""
        saved = state.saved
        if (
            saved is not None
            and saved.conditions_since == evaluation.conditions_since
            and saved.note == evaluation.note
            and evaluation.at - saved.at < SAVE_EVERY
        ):
            return
        if await self._store.save_evaluation(rule.node_id, self.owner, evaluation):
            state.saved = evaluation


def _restarted(evaluation: Evaluation) -> Evaluation:
    """After a limit is made the observation starts over: the next one needs ``duration`` again."""
    return Evaluation(evaluation.at, None, evaluation.active_sessions, evaluation.cpu_usage, evaluation.note)


def _noted(evaluation: Evaluation, note: str) -> Evaluation:
    return Evaluation(
        evaluation.at, evaluation.conditions_since, evaluation.active_sessions, evaluation.cpu_usage, note
    )

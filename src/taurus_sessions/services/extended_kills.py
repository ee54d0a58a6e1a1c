"""Kills beyond the cloud API: per-id reasons, kill-query, dry runs, identity guard, kill by filter."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from taurus_sessions.auth import policy
from taurus_sessions.domain import KillMode, Outcome, Thread, ThreadFilter, VictimChoice
from taurus_sessions.errors import ApiError
from taurus_sessions.services.audit_trail import AuditTrail, KillCall
from taurus_sessions.services.kill_decision import Expectation, Verdict, kill_threads
from taurus_sessions.services.node_access import NodeAccess, NodeRef


@dataclass(frozen=True, slots=True)
class KillReport:
    mode: KillMode
    dry_run: bool
    verdicts: list[Verdict]
    matched: int | None = None  # kill by filter: sessions that matched before the victim choice

    def summary(self) -> dict[str, int]:
        counts = Counter(v.outcome.value for v in self.verdicts)
        return {outcome.value: counts.get(outcome.value, 0) for outcome in Outcome}


def choose_victims(threads: Sequence[Thread], choice: VictimChoice, cap: int) -> list[Thread]:
    """Oldest first (longest in its current state, then lowest id), as pt-kill ranks them."""
    ordered = sorted(threads, key=lambda t: (-t.process.time, t.process.id))
    if choice is VictimChoice.OLDEST:
        ordered = ordered[:1]
    elif choice is VictimChoice.ALL_BUT_OLDEST:
        ordered = ordered[1:]
    return ordered[:cap]


def _require_caller(call: KillCall) -> None:
    if call.caller is None and call.task_id is None:
        raise ApiError("a kill needs an authenticated caller or a task")  # programming error guard


class KillService:
    def __init__(self, nodes: NodeAccess, audit: AuditTrail) -> None:
        self._nodes = nodes
        self._audit = audit

    async def kill_node_processes(
        self,
        call: KillCall,
        ref: NodeRef,
        ids: Sequence[int],
        mode: KillMode,
        *,
        expectations: Mapping[int, Expectation] | None = None,
        dry_run: bool = False,
    ) -> KillReport:
        """Kill named threads, each with its reason; a dry run needs only the list right."""
        _require_caller(call)
        assert call.caller is not None
        call.mode, call.dry_run = mode.value, dry_run
        call.requested = {"processes": list(ids)}
        if expectations:
            call.requested["expect"] = {str(k): _expectation_dict(v) for k, v in expectations.items()}
        action = policy.LIST_PROCESSES if dry_run else policy.DELETE_PROCESSES
        target = await self._nodes.target(call.caller, ref, action)
        async with self._nodes.session(target) as session:
            verdicts = await kill_threads(
                session, self._audit, call, ids, mode, expectations=expectations, dry_run=dry_run
            )
        return KillReport(mode, dry_run, verdicts)

    async def kill_node_processes_by_filter(
        self,
        call: KillCall,
        ref: NodeRef,
        flt: ThreadFilter,
        mode: KillMode,
        victims: VictimChoice,
        max_victims: int,
        dry_run: bool,
        *,
        authorize: bool = True,
    ) -> KillReport:
        """Every user session matching the filter (then the victim choice, then the cap)."""
        _require_caller(call)
        call.mode, call.dry_run = mode.value, dry_run
        call.requested = {"filter": flt.as_dict(), "victims": victims.value, "max_victims": max_victims}
        if authorize:
            assert call.caller is not None
            action = policy.LIST_PROCESSES if dry_run else policy.DELETE_PROCESSES
            target = await self._nodes.target(call.caller, ref, action)
        else:  # a kill task: authorized when it was created, resolved again on every pass
            target = await self._nodes.targets.node(ref)
        async with self._nodes.session(target) as session:
            matching = await session.matching(flt)
            chosen = choose_victims(matching, victims, max_victims)
            known = {t.process.id: t for t in chosen}
            verdicts = await kill_threads(
                session, self._audit, call, list(known), mode, dry_run=dry_run, known=known
            )
        return KillReport(mode, dry_run, verdicts, matched=len(matching))


def _expectation_dict(expectation: Expectation) -> dict[str, str]:
    fields = ("user", "host", "db", "command", "info")
    return {name: value for name in fields if (value := getattr(expectation, name)) is not None}

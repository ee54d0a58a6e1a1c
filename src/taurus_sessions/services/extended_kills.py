"""Kills beyond the cloud API: per-id reasons, kill-query, dry runs, identity guard, kill by filter."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from taurus_sessions.auth import policy
from taurus_sessions.auth.caller import Caller
from taurus_sessions.domain import FilterKill, KillMode, Outcome, Thread, VictimChoice
from taurus_sessions.inventory.instances import NodeTarget
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
        counts = Counter(v.outcome for v in self.verdicts)
        return {outcome.value: counts.get(outcome, 0) for outcome in Outcome}


def choose_victims(threads: Sequence[Thread], choice: VictimChoice, cap: int) -> list[Thread]:
    """Oldest first (longest in its current state, then lowest id), as pt-kill ranks them."""
    ordered = sorted(threads, key=lambda t: (-t.process.time, t.process.id))
    if choice is VictimChoice.OLDEST:
        ordered = ordered[:1]
    elif choice is VictimChoice.ALL_BUT_OLDEST:
        ordered = ordered[1:]
    return ordered[:cap]


class KillService:
    def __init__(self, nodes: NodeAccess, audit: AuditTrail) -> None:
        self._nodes = nodes
        self._audit = audit

    async def kill_node_processes(
        self,
        caller: Caller,
        ref: NodeRef,
        ids: Sequence[int],
        mode: KillMode,
        record: KillCall,
        *,
        expectations: Mapping[int, Expectation] | None = None,
        dry_run: bool = False,
    ) -> KillReport:
        """Kill named threads, each with its reason; a dry run needs only the list right."""
        record.mode, record.dry_run = mode.value, dry_run
        record.requested = {"processes": list(ids)}
        if expectations:
            record.requested["expect"] = {str(k): _expectation_dict(v) for k, v in expectations.items()}
        action = policy.LIST_PROCESSES if dry_run else policy.DELETE_PROCESSES
        target = await self._nodes.target(caller, ref, action)
        async with self._nodes.session(target) as session:
            verdicts = await kill_threads(
                session, self._audit, record, ids, mode, expectations=expectations, dry_run=dry_run
            )
        return KillReport(mode, dry_run, verdicts)

    async def kill_node_processes_by_filter(
        self, caller: Caller, ref: NodeRef, kill: FilterKill, record: KillCall
    ) -> KillReport:
        """Every user session matching the filter (then the victim choice, then the cap)."""
        action = policy.LIST_PROCESSES if kill.dry_run else policy.DELETE_PROCESSES
        target = await self._nodes.target(caller, ref, action)
        return await self.sweep(target, kill, record)

    async def sweep(self, target: NodeTarget, kill: FilterKill, record: KillCall) -> KillReport:
        """Kill by filter on a resolved node: one read, the victim choice, the KILLs. Callers have
        authorized (a kill task was authorized at creation, its creator's right checked per pass)."""
        record.mode, record.dry_run = kill.mode.value, kill.dry_run
        record.requested = {
            "filter": kill.filter.as_dict(),
            "victims": kill.victims.value,
            "max_victims": kill.max_victims,
        }
        async with self._nodes.session(target) as session:
            matching = await session.matching(kill.filter)
            chosen = choose_victims(matching, kill.victims, kill.max_victims)
            known = {t.process.id: t for t in chosen}
            verdicts = await kill_threads(
                session, self._audit, record, list(known), kill.mode, dry_run=kill.dry_run, known=known
            )
        return KillReport(kill.mode, kill.dry_run, verdicts, matched=len(matching))


def _expectation_dict(expectation: Expectation) -> dict[str, str]:
    fields = ("user", "host", "db", "command", "info")
    return {name: value for name in fields if (value := getattr(expectation, name)) is not None}

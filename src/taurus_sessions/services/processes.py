"""ListTaurusDbNodeProcesses and DeleteTaurusDbNodeProcesses: authorize, resolve, run, answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from taurus_sessions.auth import policy
from taurus_sessions.auth.caller import Caller
from taurus_sessions.domain import KillMode, ListQuery, Outcome, ProcessPage
from taurus_sessions.nodes.driver import build_page
from taurus_sessions.services.audit_trail import AuditTrail, KillCall
from taurus_sessions.services.kill_decision import kill_threads
from taurus_sessions.services.node_access import NodeAccess, NodeRef


@dataclass(frozen=True, slots=True)
class DeleteResult:
    processes_killed: list[int]
    processes_not_found: list[int]


class ProcessService:
    def __init__(self, nodes: NodeAccess, audit: AuditTrail) -> None:
        self._nodes = nodes
        self._audit = audit

    async def list_taurus_db_node_processes(
        self, caller: Caller, ref: NodeRef, query: ListQuery
    ) -> ProcessPage:
        target = await self._nodes.target(caller, ref, policy.LIST_PROCESSES)
        async with self._nodes.session(target) as session:
            read = await session.list_page_rows(query)
        return build_page(*read)  # with the connection back in its pool

    async def delete_taurus_db_node_processes(
        self, caller: Caller, ref: NodeRef, ids: Sequence[int], record: KillCall
    ) -> DeleteResult:
        """Kill connections; internal threads, absent ids and refused KILLs all read as not found."""
        record.mode = KillMode.CONNECTION.value
        record.requested = {"processes": list(ids)}
        target = await self._nodes.target(caller, ref, policy.DELETE_PROCESSES)
        async with self._nodes.session(target) as session:
            verdicts = await kill_threads(session, self._audit, record, ids, KillMode.CONNECTION)
        killed = [v.thread_id for v in verdicts if v.outcome is Outcome.KILLED]
        not_found = [v.thread_id for v in verdicts if v.outcome is not Outcome.KILLED]
        return DeleteResult(killed, not_found)

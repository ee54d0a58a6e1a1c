"""ListTaurusDbNodeProcesses and DeleteTaurusDbNodeProcesses: authorize, resolve, run, answer."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from taurus_sessions.auth import policy
from taurus_sessions.auth.access import AccessControl
from taurus_sessions.auth.caller import Caller
from taurus_sessions.domain import KillMode, ListQuery, Outcome, ProcessPage
from taurus_sessions.errors import ApiError, InternalError, NodeUnavailable
from taurus_sessions.inventory.directory import NodeTarget
from taurus_sessions.nodes.client import NodeSession
from taurus_sessions.nodes.errors import NodeError, NodeQueryFailed
from taurus_sessions.nodes.registry import NodeRegistry
from taurus_sessions.services.audit import AuditTrail, KillCall
from taurus_sessions.services.killing import kill_threads
from taurus_sessions.services.targets import Targets

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NodeRef:
    project_id: str
    instance_id: str
    node_id: str


@dataclass(frozen=True, slots=True)
class DeleteResult:
    processes_killed: list[int]
    processes_not_found: list[int]


class NodeAccess:
    """Authorize a caller on a node, resolve it, and open a session with errors translated."""

    def __init__(self, access: AccessControl, targets: Targets, nodes: NodeRegistry) -> None:
        self.access = access
        self.targets = targets
        self.nodes = nodes

    async def target(self, caller: Caller, ref: NodeRef, action: str) -> NodeTarget:
        # Authorization before lookup: a caller without the right learns nothing about what exists.
        await self.access.require(caller, ref.project_id, action)
        return await self.targets.node(ref.project_id, ref.instance_id, ref.node_id)

    @asynccontextmanager
    async def session(self, target: NodeTarget) -> AsyncIterator[NodeSession]:
        try:
            async with self.nodes.client(target).session() as session:
                yield session
        except NodeQueryFailed as exc:
            log.error("node %s refused a statement: %s", target.node_id, exc)
            raise InternalError() from exc
        except NodeError as exc:
            log.warning("node %s unavailable: %s", target.node_id, exc)
            raise NodeUnavailable() from exc


class ProcessService:
    def __init__(self, nodes: NodeAccess, audit: AuditTrail) -> None:
        self._nodes = nodes
        self._audit = audit

    async def list_taurus_db_node_processes(
        self, caller: Caller, ref: NodeRef, query: ListQuery
    ) -> ProcessPage:
        target = await self._nodes.target(caller, ref, policy.LIST_PROCESSES)
        async with self._nodes.session(target) as session:
            return await session.list_page(query)

    async def delete_taurus_db_node_processes(
        self, call: KillCall, ref: NodeRef, ids: Sequence[int]
    ) -> DeleteResult:
        """Kill connections; internal threads, absent ids and refused KILLs all read as not found."""
        if call.caller is None:
            raise ApiError("caller must be authenticated before a kill")  # programming error guard
        call.mode = KillMode.CONNECTION.value
        call.requested = {"processes": list(ids)}
        target = await self._nodes.target(call.caller, ref, policy.DELETE_PROCESSES)
        async with self._nodes.session(target) as session:
            verdicts = await kill_threads(session, self._audit, call, ids, KillMode.CONNECTION)
        killed = [v.thread_id for v in verdicts if v.outcome is Outcome.KILLED]
        not_found = [v.thread_id for v in verdicts if v.outcome is not Outcome.KILLED]
        return DeleteResult(killed, not_found)

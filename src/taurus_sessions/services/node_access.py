"""From path ids to a usable node session: authorize the caller, resolve the node (the instance must
be in the project, the node in the instance), open a session with driver errors translated."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from taurus_sessions import metrics
from taurus_sessions.auth.access import AccessControl
from taurus_sessions.auth.caller import Caller
from taurus_sessions.cache import TtlCache
from taurus_sessions.errors import InstanceNotFound, InternalError, NodeNotFound, NodeUnavailable
from taurus_sessions.inventory.instances import InstanceStore, NodeTarget
from taurus_sessions.inventory.models import Instance
from taurus_sessions.nodes.driver import KILL_BATCH, NodeSession
from taurus_sessions.nodes.errors import NodeError, NodeQueryFailed, NodeTimeout
from taurus_sessions.nodes.registry import Account, NodeRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NodeRef:
    """Validated path ids of one node."""

    project_id: str
    instance_id: str
    node_id: str


class Targets:
    """Node targets by path ids, cached briefly (changes by the CLI show up after the TTL)."""

    def __init__(self, instances: InstanceStore, ttl: float, clock: Callable[[], float]) -> None:
        self._instances = instances
        self._cache: TtlCache[tuple[str, str, str], NodeTarget | Instance | None] = TtlCache(ttl, clock)
        self._nodes: TtlCache[tuple[str, str], list[str] | None] = TtlCache(ttl, clock)

    async def node(self, ref: NodeRef) -> NodeTarget:
        key = (ref.project_id, ref.instance_id, ref.node_id)
        found = await self._cache.get(key, lambda: self._instances.node_target(*key), "node")
        if found is None:
            raise InstanceNotFound()
        if not isinstance(found, NodeTarget):
            raise NodeNotFound()
        return found

    async def instance_nodes(self, project_id: str, instance_id: str) -> list[NodeTarget]:
        """Every node of an instance (its primary first), for what acts on a whole instance."""
        key = (project_id, instance_id)
        nodes = await self._nodes.get(
            key, lambda: self._instances.instance_node_ids(project_id, instance_id), "instance_nodes"
        )
        if nodes is None:
            raise InstanceNotFound()
        return [await self.node(NodeRef(project_id, instance_id, node_id)) for node_id in nodes]

    async def instance(self, project_id: str, instance_id: str) -> Instance:
        """The instance, read fresh (for its switches and name)."""
        instance = await self._instances.get_instance(project_id, instance_id)
        if instance is None:
            raise InstanceNotFound()
        return instance

    async def auto_kill_enabled(self, project_id: str, instance_id: str) -> bool:
        """TaurusDB's automatic-kill switch of the instance (read fresh: it is a safety switch)."""
        return (await self.instance(project_id, instance_id)).auto_kill_enabled

    @property
    def caches(self) -> list[TtlCache[Any, Any]]:
        return [self._cache, self._nodes]

    def invalidate(self) -> None:
        self._cache.invalidate()
        self._nodes.invalidate()


def node_deadline(connect_timeout: float, read_timeout: float, max_victims: int) -> float:
    """The longest a call may spend on a node: a free connection and a connect (each within the
    connect timeout), then the statements of the largest sweep — a ping of an idle connection, the
    dialect probe, the read, one KILL batch per ``KILL_BATCH`` victims — each within the read
    timeout. Calls are cut off there (DBS.200005), so the bound holds."""
    batches = math.ceil(max_victims / KILL_BATCH)
    return 2 * connect_timeout + read_timeout * (3 + batches)


class NodeAccess:
    """Authorize a caller on a node, resolve it, and open a session with errors translated."""

    def __init__(self, access: AccessControl, targets: Targets, nodes: NodeRegistry, deadline: float) -> None:
        self.access = access
        self.targets = targets
        self.nodes = nodes
        self.deadline = deadline

    async def target(self, caller: Caller, ref: NodeRef, action: str) -> NodeTarget:
        # Authorization before lookup: a caller without the right learns nothing about what exists.
        await self.access.require(caller, ref.project_id, action)
        return await self.targets.node(ref)

    @asynccontextmanager
    async def raw_session(
        self, target: NodeTarget, account: Account | None = None
    ) -> AsyncIterator[NodeSession]:
        """A session as the node's admin account (or ``account``) within the call's deadline;
        failures stay ``NodeError``s (a deadline passed is ``NodeTimeout``) for the caller to name."""
        try:
            async with (
                asyncio.timeout(self.deadline),
                self.nodes.client(target, account).session() as session,
            ):
                yield session
        except TimeoutError as exc:
            raise NodeTimeout(f"the call passed its deadline of {self.deadline:g}s") from exc

    @asynccontextmanager
    async def session(self, target: NodeTarget) -> AsyncIterator[NodeSession]:
        # ``raw_session`` inlined: one context manager less on every call.
        try:
            async with (
                asyncio.timeout(self.deadline),
                self.nodes.client(target, None).session() as session,
            ):
                yield session
        except NodeQueryFailed as exc:
            log.error("node %s refused a statement: %s", target.node_id, exc)
            metrics.NODE_ERRORS.labels(target.node_id).inc()
            raise InternalError() from exc
        except NodeError as exc:
            log.warning("node %s unavailable: %s", target.node_id, exc)
            metrics.NODE_ERRORS.labels(target.node_id).inc()
            raise NodeUnavailable() from exc
        except TimeoutError as exc:  # the call's deadline (what raw_session names NodeTimeout)
            log.warning(
                "node %s unavailable: the call passed its deadline of %gs", target.node_id, self.deadline
            )
            metrics.NODE_ERRORS.labels(target.node_id).inc()
            raise NodeUnavailable() from exc

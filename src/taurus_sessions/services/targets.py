"""From path ids to a reachable node: the instance must be in the project, the node in the instance."""

from __future__ import annotations

from collections.abc import Callable

from taurus_sessions.cache import TtlCache
from taurus_sessions.errors import InstanceNotFound, NodeNotFound
from taurus_sessions.inventory.directory import Directory, NodeTarget
from taurus_sessions.inventory.models import Instance


class Targets:
    def __init__(self, directory: Directory, ttl: float, clock: Callable[[], float]) -> None:
        self._directory = directory
        self._cache: TtlCache[tuple[str, str, str], NodeTarget | Instance | None] = TtlCache(ttl, clock)

    async def node(self, project_id: str, instance_id: str, node_id: str) -> NodeTarget:
        key = (project_id, instance_id, node_id)
        found = await self._cache.get(key, lambda: self._directory.node_target(*key))
        if found is None:
            raise InstanceNotFound()
        if not isinstance(found, NodeTarget):
            raise NodeNotFound()
        return found

    def invalidate(self) -> None:
        self._cache.invalidate()

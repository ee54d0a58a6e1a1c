"""Instances and nodes as a caller may see them (ListGaussMySqlInstances, ShowGaussMySqlInstanceInfo),
and what the caller may do in a project (the console hides what the API would refuse anyway)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from taurus_sessions.auth import policy
from taurus_sessions.auth.access import AccessControl
from taurus_sessions.auth.caller import Caller
from taurus_sessions.errors import InstanceNotFound
from taurus_sessions.inventory.instances import InstanceStore
from taurus_sessions.inventory.models import Instance, Node


@dataclass(frozen=True, slots=True)
class InstanceView:
    instance: Instance
    nodes: Sequence[Node]


class InstanceService:
    def __init__(self, access: AccessControl, instances: InstanceStore) -> None:
        self._access = access
        self._instances = instances

    async def list_instances(self, caller: Caller, project_id: str) -> list[InstanceView]:
        await self._access.require(caller, project_id, policy.LIST_INSTANCES)
        instances = await self._instances.list_instances(project_id)
        return [InstanceView(i, await self._instances.list_nodes(i.id)) for i in instances]

    async def show_instance(self, caller: Caller, project_id: str, instance_id: str) -> InstanceView:
        await self._access.require(caller, project_id, policy.LIST_INSTANCES)
        instance = await self._instances.get_instance(project_id, instance_id)
        if instance is None:
            raise InstanceNotFound()
        return InstanceView(instance, await self._instances.list_nodes(instance.id))

    async def permissions(self, caller: Caller, project_id: str) -> dict[str, bool]:
        self._access.check_scope(caller, project_id)
        return {action: await self._access.may(caller, project_id, action) for action in policy.KNOWN_ACTIONS}

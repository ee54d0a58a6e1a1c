"""Nodes in the service's inventory: the instance under test, and the extra nodes of S5 and S6.

Extra nodes all point at the same MariaDB server with the same admin account (only their ids
differ): what they exercise is the service's per-node state, not the node.
"""

from __future__ import annotations

import secrets

from pydantic import SecretStr

from bench.api import NodePath
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.sandbox.instance import SandboxInstance
from taurus_sessions.sandbox.registration import Registration, create_user, register_instance

PROJECT = "bench-region"
DOMAIN = "bench"
OPERATOR = "bench-operator"


async def register_main(inventory: Inventory, sandbox: SandboxInstance) -> tuple[Registration, str]:
    """The instance under test and an ``operator`` (may list and kill); the operator's password."""
    registration = await register_instance(
        inventory, sandbox, project_name=PROJECT, domain=DOMAIN, instance_name="bench"
    )
    password = secrets.token_urlsafe(16)
    await create_user(inventory, DOMAIN, OPERATOR, password, registration.project_id, "operator")
    return registration, password


async def register_nodes(
    inventory: Inventory, sandbox: SandboxInstance, project_id: str, instance_name: str, count: int
) -> list[NodePath]:
    """A new instance with ``count`` nodes, all on the sandbox primary."""
    instance = await inventory.instances.create_instance(project_id, instance_name)
    admin = sandbox.admin
    nodes: list[NodePath] = []
    for index in range(count):
        node = await inventory.instances.add_node(
            instance.id,
            name=f"{instance_name}-{index:04d}",
            role="master" if index == 0 else "readreplica",
            host="127.0.0.1",
            port=sandbox.primary.port,
            admin_user=admin.user,
            admin_password=SecretStr(admin.password),
        )
        nodes.append(NodePath(project_id, instance.id, node.id))
    return nodes

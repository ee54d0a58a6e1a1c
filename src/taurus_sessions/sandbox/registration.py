"""Register a sandbox instance in an inventory: one project, one instance, its nodes, one user.

The demo, the tests and the benchmark all register the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SecretStr

from taurus_sessions.auth.passwords import hash_password
from taurus_sessions.auth.tokens import generate_key
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.sandbox.instance import SandboxInstance


@dataclass(frozen=True)
class RegisteredNode:
    node_id: str
    role: str
    host: str
    port: int


@dataclass
class Registration:
    project_id: str
    project_name: str
    domain: str
    instance_id: str
    nodes: list[RegisteredNode] = field(default_factory=list)

    @property
    def primary(self) -> RegisteredNode:
        return next(n for n in self.nodes if n.role == "master")

    @property
    def replica(self) -> RegisteredNode:
        return next(n for n in self.nodes if n.role == "readreplica")


async def ensure_token_key(inventory: Inventory) -> None:
    if not await inventory.users.token_keys():
        await inventory.users.add_token_key(generate_key())


async def register_instance(
    inventory: Inventory,
    sandbox: SandboxInstance,
    *,
    project_name: str,
    domain: str,
    instance_name: str = "demo",
) -> Registration:
    await ensure_token_key(inventory)
    project = await inventory.instances.create_project(project_name, domain)
    instance = await inventory.instances.create_instance(project.id, instance_name)
    registration = Registration(project.id, project.name, domain, instance.id)
    for server, role in ((sandbox.primary, "master"), (sandbox.replica, "readreplica")):
        if server is None:
            continue
        node = await inventory.instances.add_node(
            instance.id,
            name=f"{instance_name}-{'primary' if role == 'master' else 'replica'}",
            role=role,
            host="127.0.0.1",
            port=server.port,
            admin_user=sandbox.admin.user,
            admin_password=SecretStr(sandbox.admin.password),
        )
        registration.nodes.append(RegisteredNode(node.id, role, "127.0.0.1", server.port))
    return registration


async def create_user(
    inventory: Inventory, domain: str, name: str, password: str, project_id: str, role: str
) -> str:
    user = await inventory.users.create_user(domain, name, hash_password(password))
    await inventory.users.grant(user.id, project_id, role)
    return user.id

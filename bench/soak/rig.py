"""What the soak runs against, started once and stopped in reverse order: a primary and a replica
that replicates from it (real MariaDB servers), a fault proxy in front of each, the service as a
real process with both nodes registered through their proxies, and an operator's token."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from bench.api import issue_token
from bench.http1 import HttpConnection
from bench.service import SERVICE_ENV, Service
from bench.soak.client import Target
from bench.soak.nodes import Probe, SoakNode
from bench.soak.proxy import FaultProxy
from taurus_sessions.sandbox.instance import APP_DATABASE, SandboxInstance
from taurus_sessions.sandbox.registration import create_user, ensure_token_key

PROJECT = "soak-region"
DOMAIN = "soak"
OPERATOR = "soak-operator"

# Node timeouts a little shorter than the defaults (3 s connect, 5 s per statement), the default
# cool-down, and a cap on victims that bounds the longest call (and so the wait before a record
# left pending is settled) to 2 x 2 + 4 x (3 + 2) + 2 x 10 = 44 s. Every throttle is off
# (SERVICE_ENV): the load comes from one address.
SOAK_ENV = {
    "TAURUS_NODE_CONNECT_TIMEOUT": "2",
    "TAURUS_NODE_READ_TIMEOUT": "4",
    "TAURUS_NODE_FAILURE_COOLDOWN_SECONDS": "2",
    "TAURUS_KILL_MAX_VICTIMS": "1000",
}
LONGEST_CALL = 2 * 2 + 4 * (3 + 2) + 2 * 10

# The accounts of the load: each is killed by one kind of call only, so every disappearance of
# one of their sessions has exactly one possible author.
STORM = "soak_storm"  # opened 20 at a time and deleted by id (DELETE …/processes)
SWEEP = "soak_sweep"  # killed by filter (POST …/kill-by-filter)
TASKED = "soak_task"  # killed by the kill task
ACCOUNTS = (STORM, SWEEP, TASKED)


@dataclass
class Rig:
    folder: Path
    sandbox: SandboxInstance
    service: Service
    nodes: list[SoakNode]
    target: Target
    token: str
    passwords: dict[str, str]

    @property
    def env(self) -> dict[str, str]:
        return {**SERVICE_ENV, **SOAK_ENV}

    def node(self, name: str) -> SoakNode:
        return next(n for n in self.nodes if n.name == name)

    def node_by_id(self, node_id: str) -> SoakNode | None:
        return next((n for n in self.nodes if n.node_id == node_id), None)

    @property
    def app_password(self) -> str:
        return self.sandbox.app.password

    @property
    def app_database(self) -> str:
        return APP_DATABASE


def _accounts_sql(passwords: dict[str, str]) -> str:
    return "".join(
        f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}';\n" for user, password in passwords.items()
    )


async def _register(service: Service, nodes: list[SoakNode], sandbox: SandboxInstance) -> tuple[Target, str]:
    password = secrets.token_urlsafe(16)
    async with service.inventory() as inventory:
        await ensure_token_key(inventory)
        project = await inventory.instances.create_project(PROJECT, DOMAIN)
        instance = await inventory.instances.create_instance(project.id, "soak")
        for node in nodes:
            registered = await inventory.instances.add_node(
                instance.id,
                name=f"soak-{node.name}",
                role=node.role,
                host="127.0.0.1",
                port=node.proxy.port,
                admin_user=sandbox.admin.user,
                admin_password=SecretStr(sandbox.admin.password),
            )
            node.node_id = registered.id
        await create_user(inventory, DOMAIN, OPERATOR, password, project.id, "operator")
    return Target(project.id, instance.id), password


@contextlib.asynccontextmanager
async def rig_up(*, keep: bool = False) -> AsyncIterator[Rig]:
    folder = Path(tempfile.mkdtemp(prefix="taurus-soak-"))
    stack = contextlib.AsyncExitStack()
    try:
        async with stack:
            if not keep:
                stack.callback(shutil.rmtree, folder, True)
            sandbox = await asyncio.to_thread(SandboxInstance.start, folder / "nodes", with_replica=True)
            stack.push_async_callback(asyncio.to_thread, sandbox.stop)
            passwords = {user: secrets.token_hex(12) for user in ACCOUNTS}
            await asyncio.to_thread(sandbox.primary.sql, _accounts_sql(passwords))
            await asyncio.to_thread(sandbox.wait_replica_caught_up)
            assert sandbox.replica is not None
            nodes: list[SoakNode] = []
            root = sandbox.root
            for name, role, server in (
                ("primary", "master", sandbox.primary),
                ("replica", "readreplica", sandbox.replica),
            ):
                proxy = FaultProxy("127.0.0.1", server.port).start()
                stack.callback(proxy.stop)
                probe = Probe(server.port, root.user, root.password)
                stack.callback(probe.close)
                nodes.append(SoakNode(name, role, server, proxy, probe))
            service = Service(folder / "service", {**SOAK_ENV})
            target, password = await _register(service, nodes, sandbox)
            stack.callback(service.stop)  # registered first: a start that times out still stops it
            await service.astart()
            http = HttpConnection("127.0.0.1", service.port)
            try:
                token = await issue_token(http, OPERATOR, password, DOMAIN, PROJECT)
            finally:
                await http.aclose()
            yield Rig(folder, sandbox, service, nodes, target, token, passwords)
    finally:
        if keep:
            print(f"kept {folder}", file=sys.stderr)

"""``taurus-sessions demo``: a TaurusDB-like instance on this machine and the API in front of it.

Starts a MariaDB primary and a replicating read replica in a temporary folder, the system accounts
with a long-lived ``rdsMetric`` connection, a few application sessions to look at, registers it all
in a fresh inventory and serves the API on 127.0.0.1. Ctrl-C or SIGTERM stops the servers it started
and removes the folder.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import shutil
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from taurus_sessions.inventory.database import Inventory
from taurus_sessions.inventory.secrets import create_master_key_file
from taurus_sessions.sandbox.instance import APP_DATABASE, SandboxInstance
from taurus_sessions.sandbox.registration import Registration, create_user, register_instance
from taurus_sessions.sandbox.workload import DemoWorkload
from taurus_sessions.server import Server
from taurus_sessions.settings import Settings

PROJECT_NAME = "cn-north-4"
DOMAIN = "demo"
USER = "demo"
READONLY_USER = "viewer"


def demo_settings(folder: Path, port: int) -> Settings:
    """The demo's own inventory and keys, whatever TAURUS_* variables the shell has."""
    data = folder / "service"
    return Settings(
        data_dir=data,
        database_url=f"sqlite+aiosqlite:///{data / 'inventory.db'}",
        master_keys=None,
        master_key_file=data / "master.key",
        host="127.0.0.1",
        port=port,
    )


def write_private_json(path: Path, document: dict[str, Any]) -> None:
    """Write a file only its owner can read (it holds passwords)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def manifest_document(
    endpoint: str,
    registration: Registration,
    sandbox: SandboxInstance,
    passwords: dict[str, str],
    extra: dict[str, Any],
) -> dict[str, Any]:
    return {
        "endpoint": endpoint,
        "project_id": registration.project_id,
        "project_name": registration.project_name,
        "domain": registration.domain,
        "user": {"name": USER, "password": passwords[USER]},
        "readonly_user": {"name": READONLY_USER, "password": passwords[READONLY_USER]},
        "instance_id": registration.instance_id,
        "nodes": [
            {"node_id": n.node_id, "role": n.role, "host": n.host, "port": n.port} for n in registration.nodes
        ],
        "app_account": {"user": sandbox.app.user, "password": sandbox.app.password, "database": APP_DATABASE},
        "root_account": {"user": sandbox.root.user, "password": sandbox.root.password},
        **extra,
    }


def try_it(endpoint: str, registration: Registration, password: str, victim: int | None) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": USER, "password": password, "domain": {"name": DOMAIN}}},
            },
            "scope": {"project": {"name": registration.project_name}},
        }
    }
    processes = (
        f"{endpoint}/v3/{registration.project_id}/instances/{registration.instance_id}"
        f"/nodes/{registration.primary.node_id}/processes"
    )
    token_cmd = (
        f"export TOKEN=$(curl -s -D - -o /dev/null -X POST {endpoint}/v3/auth/tokens "
        f"-H 'Content-Type: application/json' -d {shlex.quote(orjson.dumps(body).decode())} "
        "| grep -i '^x-subject-token:' | cut -d' ' -f2 | tr -d '\\r')"
    )
    kill_ids = f"[{victim}]" if victim is not None else "[ID]"
    lines = [
        "",
        "Try it:",
        "  # 1. a token (24 hours)",
        f"  {token_cmd}",
        "  # 2. the primary's user sessions",
        f"  curl -s -H \"X-Auth-Token: $TOKEN\" '{processes}?offset=0&limit=10'",
        "  # 3. kill one of them (an idle application session)",
        f"  curl -s -X DELETE -H \"X-Auth-Token: $TOKEN\" -H 'Content-Type: application/json' "
        f"-d '{{\"processes\": {kill_ids}}}' '{processes}'",
        "",
    ]
    return "\n".join(lines)


def try_the_cli(endpoint: str, registration: Registration, access_key: dict[str, str]) -> str:
    node = registration.primary.node_id
    return "\n".join(
        [
            "Or with the access key, signed as the Huawei SDKs sign (here with the CLI client):",
            f"  export HUAWEICLOUD_SDK_AK={access_key['ak']} HUAWEICLOUD_SDK_SK={access_key['sk']}"
            f" HUAWEICLOUD_SDK_PROJECT_ID={registration.project_id}",
            f"  .venv/bin/taurus-sessions processes --endpoint {endpoint} list"
            f" --instance {registration.instance_id} --node {node}",
            "",
        ]
    )


async def run_demo(
    port: int,
    manifest: Path | None,
    keep: bool,
    announce: Callable[[str], None] | None = None,
) -> None:
    say = announce or (lambda text: print(text, flush=True))
    folder = Path(tempfile.mkdtemp(prefix="taurus-demo-"))
    sandbox: SandboxInstance | None = None
    workload: DemoWorkload | None = None
    try:
        say(f"starting a MariaDB primary and read replica in {folder} ...")
        sandbox = await asyncio.to_thread(SandboxInstance.start, folder)
        settings = demo_settings(folder, port)
        create_master_key_file(settings.resolved_master_key_file)
        passwords = {USER: secrets.token_urlsafe(12), READONLY_USER: secrets.token_urlsafe(12)}
        inventory = await Inventory.open(settings)
        try:
            registration = await register_instance(
                inventory, sandbox, project_name=PROJECT_NAME, domain=DOMAIN
            )
            user_id = await create_user(
                inventory, DOMAIN, USER, passwords[USER], registration.project_id, "admin"
            )
            await create_user(
                inventory,
                DOMAIN,
                READONLY_USER,
                passwords[READONLY_USER],
                registration.project_id,
                "readonly",
            )
            key, sk = await inventory.access_keys.create(user_id, "demo")
            access_key = {"ak": key.ak, "sk": sk.get_secret_value()}
        finally:
            await inventory.close()
        workload = DemoWorkload(sandbox)
        await workload.start()
        server = Server(settings, "127.0.0.1", port)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.stop)

        async def ready(actual_port: int) -> None:
            endpoint = f"http://127.0.0.1:{actual_port}"
            if manifest is not None:
                extra = {"access_key": access_key}
                write_private_json(
                    manifest, manifest_document(endpoint, registration, sandbox, passwords, extra)
                )
            say(summary(endpoint, registration, passwords, manifest))
            say(
                try_it(
                    endpoint,
                    registration,
                    passwords[USER],
                    workload.idle_ids[0] if workload.idle_ids else None,
                )
            )
            say(try_the_cli(endpoint, registration, access_key))
            say("Ctrl-C stops the demo and removes its servers and data.")

        await server.run(on_ready=ready, install_signal_handlers=False)
    finally:
        if workload is not None:
            await workload.stop()
        if sandbox is not None:
            await asyncio.to_thread(sandbox.stop)
        if keep:
            say(f"kept {folder}")
        else:
            await asyncio.to_thread(_remove, folder)
        say("demo stopped")


def _remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def summary(
    endpoint: str, registration: Registration, passwords: dict[str, str], manifest: Path | None
) -> str:
    nodes = "\n".join(f"    {n.node_id}  {n.role:<11}  {n.host}:{n.port}" for n in registration.nodes)
    lines = [
        f"taurus-sessions demo: API on {endpoint}",
        f"  project   {registration.project_name}  (id {registration.project_id})",
        f"  instance  {registration.instance_id}",
        "  nodes",
        nodes,
        f"  user      {USER} in domain {DOMAIN}, password {passwords[USER]} (role admin)",
        f"  viewer    {READONLY_USER} in domain {DOMAIN}, password {passwords[READONLY_USER]}"
        " (role readonly)",
        f"  console   {endpoint}/console",
    ]
    if manifest is not None:
        lines.append(f"  manifest  {manifest}")
    return "\n".join(lines)

"""Everything the scenarios run against, started once and stopped in reverse order.

One MariaDB node (its population changes per scenario, through the session holder), the service
as a real process with the node registered, a token, the service's HTTP connection and the raw
driver's connection (both warm), and the RSS sampler on the service process.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import secrets
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bench.api import NodePath, Requests, issue_token
from bench.fleet import DOMAIN, OPERATOR, PROJECT, register_main
from bench.holder_client import Login, SessionHolder
from bench.http1 import HttpConnection
from bench.raw import RawNode
from bench.reference_sql import internal_rule
from bench.rss import RssSampler
from bench.service import Service
from bench.sizes import Size, largest
from taurus_sessions.nodes import sql
from taurus_sessions.sandbox.instance import APP_DATABASE, SandboxInstance
from taurus_sessions.sandbox.registration import Registration

SWEEP_USER = "batch_job"  # the account S2 sweeps; nothing else on the node uses it
CONNECTION_MARGIN = 1500  # service pools (S5/S6 open hundreds), references, pt-kill, bystanders
TABLE_OPEN_CACHE = 400


class RigError(RuntimeError):
    pass


@dataclass
class Rig:
    folder: Path
    size: Size
    sandbox: SandboxInstance
    stack: contextlib.AsyncExitStack  # what a scenario starts (more services) is stopped with the rig
    main: Deployed
    service: Service
    registration: Registration
    node: NodePath
    token: str
    http: HttpConnection
    requests: Requests
    raw: RawNode
    rule: sql.InternalRule
    holder: SessionHolder
    sampler: RssSampler
    setup_peak: int  # the service's peak RSS over start-up and the token issue, in bytes
    app: Login
    sweep: Login

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return self.sandbox.primary.port

    async def node_sql(self, statement: str) -> list[list[str]]:
        """Root on the node's socket (for set-up and checks, never inside a timed region)."""
        return await asyncio.to_thread(self.sandbox.primary.sql, statement)


def node_options(size: Size, tmpdir: Path) -> tuple[str, ...]:
    sessions = max(
        largest(size.s1_curve) + 200,
        size.s2_sessions + size.s2_bystanders,
        largest(size.s3_curve),
        size.s10_grouping[0] + 200,
    )
    connections = sessions + CONNECTION_MARGIN
    # One descriptor per connection, the table cache's (two per table) and the server's own files.
    files = connections + 2 * TABLE_OPEN_CACHE + 1000
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < files:
        raise RigError(
            f"the open-files hard limit ({hard}) is below what {connections} connections need ({files}); "
            "raise it (ulimit -Hn) or use --size small"
        )
    return (
        f"--max-connections={connections}",
        f"--open-files-limit={files}",
        f"--table-open-cache={TABLE_OPEN_CACHE}",
        # Re-creating victim sessions between timed calls is cheaper with threads to reuse.
        "--thread-cache-size=1000",
        # A server starting up deletes every #sql* file in its tmpdir, including the temporary tables
        # of a processlist read another server is running: never share /tmp with other servers.
        f"--tmpdir={tmpdir}",
    )


async def _create_sweep_account(sandbox: SandboxInstance) -> Login:
    password = secrets.token_hex(12)
    who = f"'{SWEEP_USER}'@'%'"
    await asyncio.to_thread(
        sandbox.primary.sql,
        f"CREATE USER {who} IDENTIFIED BY '{password}';\nGRANT ALL PRIVILEGES ON {APP_DATABASE}.* TO {who};",
    )
    return Login("127.0.0.1", sandbox.primary.port, SWEEP_USER, password, APP_DATABASE)


@dataclass
class Deployed:
    """One service process with the node under test registered, a token and a warm connection."""

    service: Service
    registration: Registration
    node: NodePath
    token: str
    http: HttpConnection
    requests: Requests
    password: str  # the operator's


async def deploy(
    stack: contextlib.AsyncExitStack,
    folder: Path,
    sandbox: SandboxInstance,
    *,
    extra_env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    database_url: str | None = None,
) -> Deployed:
    """Start a service (stopped by ``stack``), register the node in its inventory, issue a token."""
    service = Service(folder, extra_env=extra_env, args=args, database_url=database_url)
    async with service.inventory() as inventory:
        registration, password = await register_main(inventory, sandbox)
    stack.callback(service.stop)  # registered first: a start that times out still stops it
    await service.astart()
    http = HttpConnection("127.0.0.1", service.port)
    stack.push_async_callback(http.aclose)
    token = await issue_token(http, OPERATOR, password, DOMAIN, PROJECT)
    primary = registration.primary
    node = NodePath(registration.project_id, registration.instance_id, primary.node_id)
    return Deployed(service, registration, node, token, http, Requests(http, token), password)


@contextlib.asynccontextmanager
async def rig_up(size: Size, *, keep: bool = False) -> AsyncIterator[Rig]:
    folder = Path(tempfile.mkdtemp(prefix="taurus-bench-"))
    stack = contextlib.AsyncExitStack()
    try:
        async with stack:
            if not keep:
                stack.callback(shutil.rmtree, folder, True)
            tmpdir = folder / "node-tmp"
            tmpdir.mkdir()
            sandbox = await asyncio.to_thread(
                SandboxInstance.start,
                folder / "nodes",
                with_replica=False,
                extra_options=node_options(size, tmpdir),
            )
            stack.push_async_callback(asyncio.to_thread, sandbox.stop)
            sweep = await _create_sweep_account(sandbox)
            main = await deploy(stack, folder / "service", sandbox)
            sampler = RssSampler(main.service.pid)
            sampler.start()
            stack.callback(sampler.stop)
            admin = sandbox.admin
            raw = await RawNode.open("127.0.0.1", sandbox.primary.port, admin.user, admin.password)
            stack.callback(raw.close)
            holder = await SessionHolder.start()
            stack.push_async_callback(holder.stop)
            setup_peak = sampler.peak_now()
            sampler.reset_peak()
            yield Rig(
                folder=folder,
                size=size,
                sandbox=sandbox,
                stack=stack,
                main=main,
                service=main.service,
                registration=main.registration,
                node=main.node,
                token=main.token,
                http=main.http,
                requests=main.requests,
                raw=raw,
                rule=internal_rule(admin.user),
                holder=holder,
                sampler=sampler,
                setup_peak=setup_peak,
                app=Login(
                    "127.0.0.1", sandbox.primary.port, sandbox.app.user, sandbox.app.password, APP_DATABASE
                ),
                sweep=sweep,
            )
    finally:
        if keep:
            print(f"kept {folder}", file=sys.stderr)

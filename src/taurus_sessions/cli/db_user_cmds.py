"""Database users for DAS's operations, managed by the operator like nodes: an existing account of an
instance, checked by logging in to its primary, its password read from a file, a variable or stdin
(never the command line) and stored encrypted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from taurus_sessions.cli.common import print_json, print_table, read_secret, settings, with_inventory
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.inventory.instances import NotFound
from taurus_sessions.nodes.errors import NodeError, NodeLoginRefused
from taurus_sessions.nodes.pool import ConnectionSpec, PoolLimits, check_login

db_user_app = typer.Typer(
    help="Database users DAS's operations act as (ListProcesses, DeleteProcess, the lock views)."
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
PRIMARY_ROLE = "master"


def _limits() -> PoolLimits:
    conf = settings()
    return PoolLimits(
        size=1,
        connect_timeout=conf.node_connect_timeout,
        read_timeout=conf.node_read_timeout,
        idle_seconds=conf.node_pool_idle_seconds,
        cooldown_seconds=0,
    )


@db_user_app.command("register")
def db_user_register(
    instance: Annotated[str, typer.Option(help="Instance id.")],
    username: Annotated[str, typer.Option(help="An existing account on the instance's servers.")],
    password_file: Annotated[Path | None, typer.Option(help="File whose first line is the password.")] = None,
    password_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the password.")
    ] = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
) -> None:
    """Register an account (checked by logging in to the instance's primary); prints its db_user_id."""
    password = read_secret(password_file, password_env, password_stdin, "password")
    limits = _limits()

    async def work(inv: Inventory) -> str:
        project_id = await _project_of(inv, instance)
        nodes = await inv.instances.list_nodes(instance)
        primary = next((n for n in nodes if n.role == PRIMARY_ROLE), nodes[0] if nodes else None)
        if primary is None:
            raise NotFound(f"instance {instance} has no node to check the account on")
        try:
            await check_login(ConnectionSpec(primary.host, primary.port, username, password), limits)
        except NodeLoginRefused:
            raise ValueError("the node refused the login: the user name or password is wrong") from None
        except NodeError as exc:
            raise ValueError(f"the node cannot be reached: {exc}") from None
        user = await inv.db_users.register(project_id, instance, username, password)
        return user.id

    typer.echo(with_inventory(work))


async def _project_of(inv: Inventory, instance_id: str) -> str:
    instance = await inv.instances.find_instance(instance_id)
    if instance is None:
        raise NotFound(f"no instance {instance_id}")
    return instance.project_id


@db_user_app.command("list")
def db_user_list(
    instance: Annotated[str, typer.Option(help="Instance id.")], as_json: JsonFlag = False
) -> None:
    async def work(inv: Inventory) -> list[tuple[str, str, str]]:
        await _project_of(inv, instance)
        users = await inv.db_users.for_instance(instance)
        return [(u.id, u.username, u.created_at.isoformat(timespec="seconds")) for u in users]

    rows = with_inventory(work)
    if as_json:
        print_json([{"db_user_id": i, "db_username": n, "created_at": c} for i, n, c in rows])
    else:
        print_table(("DB USER ID", "USER NAME", "REGISTERED"), rows)


@db_user_app.command("delete")
def db_user_delete(db_user_id: str) -> None:
    """Remove a registration (the account on the database stays)."""

    async def work(inv: Inventory) -> None:
        user = await inv.db_users.find(db_user_id)
        if user is None:
            raise NotFound(f"no database user {db_user_id}")
        await inv.db_users.delete(user.project_id, user.instance_id, db_user_id)

    with_inventory(work)


__all__ = ["db_user_app"]

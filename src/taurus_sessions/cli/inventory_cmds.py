"""Inventory management: projects, instances, nodes, users, roles, keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from taurus_sessions.auth import policy
from taurus_sessions.auth.passwords import hash_password
from taurus_sessions.auth.tokens import generate_key
from taurus_sessions.cli.common import fail, print_json, print_table, read_secret, settings, with_inventory
from taurus_sessions.file_modes import make_private_dir
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.inventory.instances import NotFound
from taurus_sessions.inventory.models import User, utcnow
from taurus_sessions.inventory.rewrap import rewrap_all
from taurus_sessions.inventory.secrets import create_master_key_file, prepend_master_key
from taurus_sessions.services.cpu_sources import parse_cpu_source

project_app = typer.Typer(help="Projects (a tenant; a project name is what the SDKs call a region).")
instance_app = typer.Typer(help="Instances: groups of nodes, like a TaurusDB instance.")
node_app = typer.Typer(help="Nodes: MySQL or MariaDB servers the service reaches with an admin account.")
user_app = typer.Typer(help="Users who call the API.")
role_app = typer.Typer(help="Roles (sets of actions) and who holds them in which project.")
keys_app = typer.Typer(help="Token-signing keys and the master key.")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


# -- projects ---------------------------------------------------------------------------------
@project_app.command("create")
def project_create(
    name: str,
    domain: Annotated[str, typer.Option(help="Domain (account) the project belongs to.")],
    project_id: Annotated[str | None, typer.Option("--id", help="Fixed id (32 letters/digits).")] = None,
) -> None:
    project = with_inventory(lambda inv: inv.instances.create_project(name, domain, project_id))
    typer.echo(project.id)


@project_app.command("list")
def project_list(as_json: JsonFlag = False) -> None:
    projects = with_inventory(lambda inv: inv.instances.list_projects())
    rows = [(p.id, p.name, p.domain_name) for p in projects]
    if as_json:
        print_json([{"id": i, "name": n, "domain": d} for i, n, d in rows])
    else:
        print_table(("ID", "NAME", "DOMAIN"), rows)


# -- instances --------------------------------------------------------------------------------
@instance_app.command("create")
def instance_create(
    name: str,
    project: Annotated[str, typer.Option(help="Project id or name.")],
    system_account: Annotated[
        list[str] | None, typer.Option(help="More accounts whose sessions are internal (repeatable).")
    ] = None,
    instance_id: Annotated[
        str | None, typer.Option("--id", help="Fixed id (32 letters/digits + in07).")
    ] = None,
) -> None:
    async def work(inv: Inventory) -> str:
        found = await inv.instances.find_project(project)
        instance = await inv.instances.create_instance(found.id, name, system_account or [], instance_id)
        return instance.id

    typer.echo(with_inventory(work))


@instance_app.command("list")
def instance_list(
    project: Annotated[str | None, typer.Option(help="Only this project (id or name).")] = None,
    as_json: JsonFlag = False,
) -> None:
    async def work(inv: Inventory) -> list[tuple[str, str, str, str]]:
        project_id = (await inv.instances.find_project(project)).id if project else None
        instances = await inv.instances.list_instances(project_id)
        return [(i.id, i.name, i.project_id, ",".join(i.extra_system_accounts)) for i in instances]

    rows = with_inventory(work)
    if as_json:
        print_json([dict(zip(("id", "name", "project_id", "system_accounts"), r, strict=True)) for r in rows])
    else:
        print_table(("ID", "NAME", "PROJECT", "EXTRA SYSTEM ACCOUNTS"), rows)


@instance_app.command("delete")
def instance_delete(instance_id: str) -> None:
    with_inventory(lambda inv: inv.instances.delete_instance(instance_id))


# -- nodes ------------------------------------------------------------------------------------
CpuSourceOpt = Annotated[
    str | None,
    typer.Option(
        help="Where the node's CPU usage is read: pidfile:/path/to/mysqld.pid (the server runs on this "
        "host) or a Prometheus node-exporter URL (http://host:9100/metrics). None: CPU unknown."
    ),
]


@node_app.command("add")
def node_add(
    instance: Annotated[str, typer.Option(help="Instance id.")],
    host: Annotated[str, typer.Option(help="Host name or address of the server.")],
    port: Annotated[int, typer.Option(help="TCP port of the server.")],
    admin_user: Annotated[str, typer.Option(help="The service's account on the server.")],
    role: Annotated[str, typer.Option(help="master or readreplica.")] = "master",
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    password_file: Annotated[Path | None, typer.Option(help="File whose first line is the password.")] = None,
    password_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the password.")
    ] = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
    node_id: Annotated[str | None, typer.Option("--id", help="Fixed id (32 letters/digits + no07).")] = None,
    cpu_source: CpuSourceOpt = None,
) -> None:
    """Register a node. The admin account needs PROCESS and CONNECTION ADMIN (or SUPER)."""
    password = read_secret(password_file, password_env, password_stdin, "password")
    source = _cpu_source(cpu_source)
    node = with_inventory(
        lambda inv: inv.instances.add_node(
            instance,
            name=name or f"{host}:{port}",
            role=role,
            host=host,
            port=port,
            admin_user=admin_user,
            admin_password=password,
            node_id=node_id,
            cpu_source=source,
        )
    )
    typer.echo(node.id)


@node_app.command("set-cpu-source")
def node_set_cpu_source(
    node_id: str,
    cpu_source: Annotated[str, typer.Argument(help="pidfile:<path>, a node-exporter URL, or none.")],
) -> None:
    """Where the node's CPU usage is read (auto SQL limiting's cpu_usage condition)."""
    source = None if cpu_source == "none" else _cpu_source(cpu_source)
    with_inventory(lambda inv: inv.instances.set_cpu_source(node_id, source))
    typer.echo(f"{node_id}: CPU source {source or 'none'}")


def _cpu_source(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return parse_cpu_source(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="CPU source") from None


@node_app.command("list")
def node_list(instance: Annotated[str, typer.Option(help="Instance id.")], as_json: JsonFlag = False) -> None:
    nodes = with_inventory(lambda inv: inv.instances.list_nodes(instance))
    rows = [(n.id, n.name, n.role, n.host, n.port, n.admin_user, n.cpu_source or "") for n in nodes]
    if as_json:
        keys = ("id", "name", "role", "host", "port", "admin_user", "cpu_source")
        print_json([dict(zip(keys, r, strict=True)) for r in rows])
    else:
        print_table(("ID", "NAME", "ROLE", "HOST", "PORT", "ADMIN USER", "CPU SOURCE"), rows)


@node_app.command("remove")
def node_remove(node_id: str) -> None:
    with_inventory(lambda inv: inv.instances.remove_node(node_id))


# -- users ------------------------------------------------------------------------------------
async def _user(inv: Inventory, ref: str, domain: str | None) -> User:
    if domain is not None:
        user = await inv.users.find_user(domain, ref)
    else:
        user = await inv.users.get_user(ref)
        if user is None:
            matches = await inv.users.find_user_by_name(ref)
            if len(matches) > 1:
                raise NotFound(f"several users are named {ref!r}; give --domain")
            user = matches[0] if matches else None
    if user is None:
        raise NotFound(f"no user {ref!r}")
    return user


@user_app.command("create")
def user_create(
    name: str,
    domain: Annotated[str, typer.Option(help="Domain (account) of the user.")],
    password_file: Annotated[Path | None, typer.Option()] = None,
    password_env: Annotated[str | None, typer.Option()] = None,
    password_stdin: Annotated[bool, typer.Option()] = False,
) -> None:
    password = read_secret(password_file, password_env, password_stdin, "password")
    try:
        password_hash = hash_password(password.get_secret_value())
    except ValueError as exc:
        fail(str(exc))
    user = with_inventory(lambda inv: inv.users.create_user(domain, name, password_hash))
    typer.echo(user.id)


@user_app.command("list")
def user_list(as_json: JsonFlag = False) -> None:
    async def work(inv: Inventory) -> list[tuple[str, str, str, bool, str]]:
        rows = []
        for user in await inv.users.list_users():
            bindings = await inv.users.bindings(user.id)
            roles = ",".join(sorted(f"{b.role_name}@{b.project_id[:8]}" for b in bindings))
            rows.append((user.id, user.domain_name, user.name, user.enabled, roles))
        return rows

    rows = with_inventory(work)
    if as_json:
        keys = ("id", "domain", "name", "enabled", "roles")
        print_json([dict(zip(keys, r, strict=True)) for r in rows])
    else:
        print_table(("ID", "DOMAIN", "NAME", "ENABLED", "ROLES@PROJECT"), rows)


def _set_enabled(ref: str, domain: str | None, enabled: bool) -> None:
    async def work(inv: Inventory) -> None:
        user = await _user(inv, ref, domain)
        await inv.users.update_user(user.id, enabled=enabled)

    with_inventory(work)


@user_app.command("disable")
def user_disable(user: str, domain: Annotated[str | None, typer.Option()] = None) -> None:
    """Disable a user: its tokens and access keys stop working."""
    _set_enabled(user, domain, False)


@user_app.command("enable")
def user_enable(user: str, domain: Annotated[str | None, typer.Option()] = None) -> None:
    _set_enabled(user, domain, True)


@user_app.command("password")
def user_password(
    user: str,
    domain: Annotated[str | None, typer.Option()] = None,
    password_file: Annotated[Path | None, typer.Option()] = None,
    password_env: Annotated[str | None, typer.Option()] = None,
    password_stdin: Annotated[bool, typer.Option()] = False,
) -> None:
    password = read_secret(password_file, password_env, password_stdin, "password")
    new_hash = hash_password(password.get_secret_value())

    async def work(inv: Inventory) -> None:
        found = await _user(inv, user, domain)
        await inv.users.update_user(found.id, password_hash=new_hash)

    with_inventory(work)


@user_app.command("delete")
def user_delete(user: str, domain: Annotated[str | None, typer.Option()] = None) -> None:
    async def work(inv: Inventory) -> None:
        found = await _user(inv, user, domain)
        await inv.users.delete_user(found.id)

    with_inventory(work)


# -- roles ------------------------------------------------------------------------------------
@role_app.command("list")
def role_list(as_json: JsonFlag = False) -> None:
    roles = with_inventory(lambda inv: inv.users.list_roles())
    if as_json:
        print_json([{"name": r.name, "description": r.description, "actions": r.actions} for r in roles])
    else:
        print_table(
            ("NAME", "ACTIONS", "DESCRIPTION"), [(r.name, ",".join(r.actions), r.description) for r in roles]
        )


@role_app.command("create")
def role_create(
    name: str,
    action: Annotated[
        list[str], typer.Option(help=f"Action pattern, repeatable; known: {', '.join(policy.KNOWN_ACTIONS)}")
    ],
    description: str = "",
) -> None:
    bad = [a for a in action if not policy.valid_pattern(a)]
    if bad:
        fail(f"not an action pattern: {', '.join(bad)}")
    with_inventory(lambda inv: inv.users.create_role(name, action, description))


@role_app.command("grant")
def role_grant(
    user: str,
    project: Annotated[str, typer.Option(help="Project id or name.")],
    role: Annotated[str, typer.Option(help="Role name (see `role list`).")],
    domain: Annotated[str | None, typer.Option()] = None,
) -> None:
    async def work(inv: Inventory) -> None:
        found = await _user(inv, user, domain)
        target = await inv.instances.find_project(project)
        await inv.users.grant(found.id, target.id, role)

    with_inventory(work)


@role_app.command("revoke")
def role_revoke(
    user: str,
    project: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option()],
    domain: Annotated[str | None, typer.Option()] = None,
) -> None:
    async def work(inv: Inventory) -> None:
        found = await _user(inv, user, domain)
        target = await inv.instances.find_project(project)
        await inv.users.revoke(found.id, target.id, role)

    with_inventory(work)


# -- keys -------------------------------------------------------------------------------------
@keys_app.command("rotate")
def keys_rotate(
    keep: Annotated[
        int, typer.Option(min=1, help="How many keys stay valid (1: every older token dies).")
    ] = 3,
) -> None:
    """New token-signing key; tokens signed by the kept older keys stay valid until they expire."""
    with_inventory(lambda inv: inv.users.add_token_key(generate_key(), keep))
    typer.echo("token keys rotated; running services pick the new key up within their refresh interval")


@keys_app.command("rotate-master")
def keys_rotate_master() -> None:
    """Put a new master key in front of the master key file and re-encrypt every stored secret."""
    path = settings().resolved_master_key_file
    if settings().master_keys is not None:
        fail("the master keys come from TAURUS_MASTER_KEYS; rotate them there, then run `keys rewrap`")
    if not path.exists():
        fail(f"no master key file at {path}")
    prepend_master_key(path)
    keys_rewrap()


@keys_app.command("rewrap")
def keys_rewrap() -> None:
    """Re-encrypt node passwords, SKs and token keys under the first master key."""
    count = with_inventory(rewrap_all)
    typer.echo(f"re-encrypted {count} secrets")


def init_data() -> None:
    """Create the master key (if absent), migrate the inventory and create a token key if none."""
    conf = settings()
    make_private_dir(conf.data_dir)
    if conf.master_keys is None and create_master_key_file(conf.resolved_master_key_file):
        typer.echo(f"created master key {conf.resolved_master_key_file} (keep it safe; back it up)")

    async def work(inv: Inventory) -> bool:
        if await inv.users.token_keys():
            return False
        await inv.users.add_token_key(generate_key())
        return True

    if with_inventory(work):
        typer.echo("created the first token-signing key")
    typer.echo(f"inventory ready at {conf.inventory_url.split('://', 1)[0]}://…")


# -- access keys ------------------------------------------------------------------------------
access_key_app = typer.Typer(help="Access keys (AK/SK) for the SDKs, Terraform and the CLI client.")


@access_key_app.command("create")
def access_key_create(
    user: str,
    domain: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str, typer.Option()] = "",
    as_json: JsonFlag = False,
) -> None:
    """Create an access key; the SK is shown this once and stored only encrypted."""

    async def work(inv: Inventory) -> tuple[str, str]:
        found = await _user(inv, user, domain)
        key, sk = await inv.access_keys.create(found.id, description)
        return key.ak, sk.get_secret_value()

    ak, sk = with_inventory(work)
    if as_json:
        print_json({"ak": ak, "sk": sk})
    else:
        typer.echo(f"AK  {ak}\nSK  {sk}\n(the SK is not shown again; keep it like a password)")


@access_key_app.command("list")
def access_key_list(
    user: Annotated[str | None, typer.Option()] = None,
    domain: Annotated[str | None, typer.Option()] = None,
    as_json: JsonFlag = False,
) -> None:
    async def work(inv: Inventory) -> list[tuple[str, str, bool, str, str, str, str]]:
        user_id = (await _user(inv, user, domain)).id if user else None
        names = {u.id: f"{u.domain_name}/{u.name}" for u in await inv.users.list_users()}
        now = utcnow()
        rows = []
        for k in await inv.access_keys.list(user_id):
            locked = await inv.access_keys.locked_until(k.ak, now)  # of some source address
            rows.append(
                (
                    k.ak,
                    names.get(k.user_id, k.user_id),
                    k.enabled,
                    k.created_at.isoformat(timespec="seconds"),
                    k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "",
                    locked.isoformat(timespec="seconds") if locked else "",
                    k.description,
                )
            )
        return rows

    rows = with_inventory(work)
    if as_json:
        keys = ("ak", "user", "enabled", "created_at", "last_used_at", "locked_until", "description")
        print_json([dict(zip(keys, r, strict=True)) for r in rows])
    else:
        print_table(("AK", "USER", "ENABLED", "CREATED", "LAST USED", "LOCKED UNTIL", "DESCRIPTION"), rows)


@access_key_app.command("disable")
def access_key_disable(ak: str) -> None:
    with_inventory(lambda inv: inv.access_keys.set_enabled(ak, False))


@access_key_app.command("enable")
def access_key_enable(ak: str) -> None:
    """Enable again (also clears the lock-outs of every source address)."""
    with_inventory(lambda inv: inv.access_keys.set_enabled(ak, True))


@access_key_app.command("delete")
def access_key_delete(ak: str) -> None:
    with_inventory(lambda inv: inv.access_keys.delete(ak))

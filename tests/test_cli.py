"""Managing the inventory from the CLI: a fresh data folder, nodes of any reachable server, secrets."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from conftest import World
from support.client import Api
from support.personas import PASSWORD
from support.service import ServiceProcess
from taurus_sessions.sandbox.instance import SandboxInstance


@pytest.fixture
def fresh(tmp_path: Path) -> ServiceProcess:
    return ServiceProcess(tmp_path / "fresh")


def test_init_is_idempotent_and_keys_are_private(tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path / "svc")
    (tmp_path / "svc" / "master.key").unlink()  # start from nothing
    first = service.cli("init")
    assert first.returncode == 0, first.stderr
    assert "created master key" in first.stdout and "token-signing key" in first.stdout
    key = tmp_path / "svc" / "master.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    again = service.cli("init")
    assert again.returncode == 0 and "created" not in again.stdout
    rotated = service.cli("keys", "rotate")  # a new signing key; the first one still verifies
    assert rotated.returncode == 0 and "token keys rotated" in rotated.stdout
    assert len(service.inventory(lambda inv: inv.users.token_keys())) == 2


def test_serve_refuses_to_start_without_a_master_key(tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path / "nokey")
    (tmp_path / "nokey" / "master.key").unlink()
    result = service.cli("serve")
    assert result.returncode != 0
    assert "master key" in result.stderr


def test_register_a_server_and_use_it_through_the_api(
    fresh: ServiceProcess, sandbox: SandboxInstance, tmp_path: Path
) -> None:
    cli = fresh.cli
    assert cli("init").returncode == 0
    project_id = cli("project", "create", "eu-west-0", "--domain", "globex").stdout.strip()
    instance_id = cli(
        "instance", "create", "orders", "--project", "eu-west-0", "--system-account", "svc_backup"
    ).stdout.strip()
    assert instance_id.endswith("in07")

    secret = tmp_path / "node-password"
    secret.write_text(sandbox.admin.password + "\n")
    secret.chmod(0o600)
    added = cli(
        "node", "add", "--instance", instance_id, "--host", "127.0.0.1", "--port", str(sandbox.primary.port),
        "--admin-user", sandbox.admin.user, "--password-file", str(secret), "--role", "master",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    node_id = added.stdout.strip()
    assert (
        cli(
            "user", "create", "gina", "--domain", "globex", "--password-env", "GINA", env={"GINA": PASSWORD}
        ).returncode
        == 0
    )
    assert cli("role", "grant", "gina", "--project", project_id, "--role", "operator").returncode == 0

    nodes = json.loads(cli("node", "list", "--instance", instance_id, "--json").stdout)
    assert nodes[0]["id"] == node_id and nodes[0]["port"] == sandbox.primary.port
    listing = cli("node", "list", "--instance", instance_id).stdout + cli("user", "list").stdout
    assert sandbox.admin.password not in listing

    db_text = (fresh.folder / "inventory.db").read_bytes()
    assert sandbox.admin.password.encode() not in db_text  # stored encrypted
    assert PASSWORD.encode() not in db_text  # stored as a slow hash

    fresh.start()
    try:
        api = Api(fresh.url)
        token = api.token("gina", PASSWORD, "globex", project_name="eu-west-0")
        response = api.list(token, Api.processes_path(project_id, instance_id, node_id))
        assert response.status_code == 200
        api.close()
    finally:
        fresh.stop()


def test_secrets_never_come_from_argv(fresh: ServiceProcess) -> None:
    assert fresh.cli("init").returncode == 0
    no_source = fresh.cli("user", "create", "x", "--domain", "d")
    assert no_source.returncode != 0 and "exactly one of" in no_source.stderr
    two_sources = fresh.cli(
        "user", "create", "x", "--domain", "d", "--password-env", "A", "--password-stdin", env={"A": "p" * 10}
    )
    assert two_sources.returncode != 0
    unknown_option = fresh.cli("user", "create", "x", "--domain", "d", "--password", "hunter22222")
    assert unknown_option.returncode != 0
    short = fresh.cli("user", "create", "x", "--domain", "d", "--password-stdin", stdin="short\n")
    assert short.returncode != 0 and "8 characters" in short.stderr


def test_clear_errors_for_missing_things(fresh: ServiceProcess) -> None:
    assert fresh.cli("init").returncode == 0
    result = fresh.cli("instance", "create", "x", "--project", "nope")
    assert result.returncode == 1 and "no project" in result.stderr
    result = fresh.cli("role", "grant", "nobody", "--project", "nope", "--role", "admin")
    assert result.returncode == 1 and "no user" in result.stderr
    assert fresh.cli("project", "create", "p1", "--domain", "d").returncode == 0
    duplicate = fresh.cli("project", "create", "p1", "--domain", "d")
    assert duplicate.returncode == 1 and "exists already" in duplicate.stderr
    roles = json.loads(fresh.cli("role", "list", "--json").stdout)
    assert {r["name"] for r in roles} >= {"admin", "operator", "readonly", "auditor"}
    bad_role = fresh.cli("role", "create", "weird", "--action", "not an action")
    assert bad_role.returncode == 1


def test_master_key_rotation_keeps_nodes_reachable(world: World, tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path / "rot")
    assert service.cli("init").returncode == 0
    assert service.cli("project", "create", "p", "--domain", "d").returncode == 0
    instance_id = service.cli("instance", "create", "i", "--project", "p").stdout.strip()
    added = service.cli(
        "node", "add", "--instance", instance_id, "--host", "127.0.0.1",
        "--port", str(world.sandbox.primary.port), "--admin-user", "rdsAdmin", "--password-env", "PW",
        env={"PW": world.sandbox.admin.password},
    )  # fmt: skip
    assert added.returncode == 0
    before = (tmp_path / "rot" / "master.key").read_text()
    rotated = service.cli("keys", "rotate-master")
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted" in rotated.stdout
    keys = (tmp_path / "rot" / "master.key").read_text().split()
    assert len(keys) == 2 and keys[1] == before.strip()
    (tmp_path / "rot" / "master.key").write_text(keys[0] + "\n")  # the old key can go now
    assert service.cli("node", "list", "--instance", instance_id).returncode == 0
    target = service.inventory(lambda inv: inv.instances.node_target(*_ids(service, instance_id)))
    assert target.admin_password.get_secret_value() == world.sandbox.admin.password  # type: ignore[union-attr]


def _ids(service: ServiceProcess, instance_id: str) -> tuple[str, str, str]:
    nodes = json.loads(service.cli("node", "list", "--instance", instance_id, "--json").stdout)
    instances = json.loads(service.cli("instance", "list", "--json").stdout)
    project_id = next(i["project_id"] for i in instances if i["id"] == instance_id)
    return project_id, instance_id, nodes[0]["id"]


def test_openapi_document_names_the_operations(world: World) -> None:
    document = world.api.http.get("/openapi.json").json()
    operations = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert {
        "ListTaurusDbNodeProcesses",
        "DeleteTaurusDbNodeProcesses",
        "KeystoneCreateUserTokenByPassword",
    } <= operations
    assert {"IamToken", "AkSkSignature"} <= set(document["components"]["securitySchemes"])
    delete = document["paths"]["/v3/{project_id}/instances/{instance_id}/nodes/{node_id}/processes"]["delete"]
    ref = delete["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["properties"]["processes"]["maxItems"] == 20

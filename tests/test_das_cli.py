"""`taurus-sessions db-user`: database users for DAS's operations, registered by the operator like
nodes (the password never on the command line), then used through the DAS SDK."""

from __future__ import annotations

import json

from huaweicloudsdkdas.v3 import ListProcessesRequest

from conftest import World
from support.das import das_client, make_key
from support.personas import DOMAIN


def test_register_list_use_and_delete(world: World) -> None:
    cli, instance_id = world.service.cli, world.main.instance_id
    account = world.sandbox.accounts["rdsBackup"]
    register = ("db-user", "register", "--instance", instance_id, "--username", account.user)
    wrong = cli(*register, "--password-stdin", stdin="nope\n")
    assert wrong.returncode != 0 and "password is wrong" in wrong.stderr
    added = cli(*register, "--password-env", "DB_PW", env={"DB_PW": account.password})
    assert added.returncode == 0, added.stderr
    db_user_id = added.stdout.strip()
    assert len(db_user_id) == 36 and account.password not in added.stdout + added.stderr

    listed = json.loads(cli("db-user", "list", "--instance", instance_id, "--json").stdout)
    assert {"db_user_id": db_user_id, "db_username": account.user} in [
        {k: u[k] for k in ("db_user_id", "db_username")} for u in listed
    ]
    table = cli("db-user", "list", "--instance", instance_id).stdout
    assert db_user_id in table and account.password not in table

    client = das_client(
        world.service.url, make_key(world.service.inventory, DOMAIN, "alice"), world.main.project_id
    )
    page = client.list_processes(
        ListProcessesRequest(instance_id=instance_id, db_user_id=db_user_id, limit=100)
    )
    assert page.count >= 1  # rdsBackup holds PROCESS: it sees the node's sessions

    assert cli("db-user", "delete", db_user_id).returncode == 0
    gone = cli("db-user", "delete", db_user_id)
    assert gone.returncode != 0 and "no database user" in gone.stderr
    unknown = cli("db-user", "list", "--instance", "x" * 32 + "in07")
    assert unknown.returncode != 0 and "no instance" in unknown.stderr

"""Protections that need real sessions on a real node: what a lock wait may reveal, which statement
KILL QUERY stops, what reaches a terminal, what reaches a log, and signatures over the raw path."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import time
from functools import partial
from typing import Any

import httpx
from pydantic import SecretStr

from conftest import World, open_app_sessions
from support.personas import ADMIN, READONLY, Persona
from support.poll import eventually
from support.sessions import Sessions
from taurus_sessions.auth.signing import sign_request
from taurus_sessions.domain import KillMode, KillResult
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.nodes.driver import NodeClient
from taurus_sessions.nodes.pool import ConnectionSpec, NodePool, PoolLimits
from taurus_sessions.sandbox.instance import APP_DATABASE
from taurus_sessions.settings import DEFAULT_SYSTEM_ACCOUNTS


# -- 5. a lock held by an internal thread ------------------------------------------------------------------
def test_a_lock_wait_on_an_internal_thread_reveals_nothing_about_it(world: World, sessions: Sessions) -> None:
    admin = world.sandbox.admin  # rdsAdmin: TaurusDB's own account, internal by contract Part D
    holder = sessions.open(world.sandbox.primary, admin.user, admin.password, APP_DATABASE)
    holder.execute("BEGIN")
    holder.execute("UPDATE orders SET customer = 'rdsAdmin secret maintenance' WHERE id = 2")
    (waiter,) = open_app_sessions(world.sandbox, sessions, 1)
    waiter.run_async("UPDATE orders SET amount = amount + 1 WHERE id = 2")
    path = world.path().removesuffix("/processes") + "/process/lock-wait"
    headers = {"X-Auth-Token": world.token(ADMIN)}

    def waiting() -> dict[str, Any] | None:
        cause = world.api.http.get(path, params={"pid": waiter.id}, headers=headers).json()[
            "abnormal_root_cause"
        ]
        return cause["lock_root_cause"] if cause["abnormal_type"] == "LOCK_WAIT" else None

    cause = eventually(waiting)
    assert cause["locked_pid"] == waiter.id and cause["lock_table"] == "orders"
    assert cause["blocker_internal"] is True
    for field in ("blocker_pid", "blocker_thread_id", "blocker_host", "blocker_user", "blocker_command"):
        assert cause[field] is None, field
    assert cause["blocker_current_sql"] == []
    assert cause["blocking_chain"] == [waiter.id, None]
    text = str(cause)
    assert str(holder.id) not in text and admin.user not in text and "maintenance" not in text
    holder.execute("ROLLBACK")
    waiter.join()


# -- 6. a task's recent victims are the audit trail's ---------------------------------------------------
def test_recent_victims_of_a_task_need_the_audit_right(world: World, sessions: Sessions) -> None:
    base = world.path().removesuffix("/processes")
    victim = sessions.open(world.sandbox.primary, world.sandbox.app.user, world.sandbox.app.password, None)
    victim.run_async("SELECT SLEEP(120) AS task_victim_marker")
    created = world.api.http.post(
        base + "/kill-tasks",
        json={"filter": {"info": "task_victim_marker"}, "interval_seconds": 1, "duration_seconds": 60},
        headers={"X-Auth-Token": world.token(ADMIN)},
    )
    assert created.status_code == 201, created.text
    task = created.json()["task"]["id"]
    url = f"/v3/{world.main.project_id}/kill-tasks/{task}"
    try:
        victim.join(20)

        def shown(user: Persona) -> dict[str, Any]:
            response = world.api.http.get(url, headers={"X-Auth-Token": world.token(user)})
            assert response.status_code == 200, response.text
            return dict(response.json())

        assert eventually(lambda: shown(ADMIN)["recent_victims"])[0]["id"] == victim.id
        readonly = shown(READONLY)  # may list tasks, may not read the trail
        assert readonly["recent_victims"] is None and readonly["task"]["victims_killed"] >= 1
    finally:
        world.api.http.post(url + "/stop", headers={"X-Auth-Token": world.token(ADMIN)})


# -- 7. KILL QUERY stops the statement that was checked -------------------------------------------------
def test_kill_query_never_stops_a_statement_that_started_after_the_check(
    world: World, sessions: Sessions
) -> None:
    (app,) = open_app_sessions(world.sandbox, sessions, 1)
    admin = world.sandbox.admin
    limits = PoolLimits(size=2, connect_timeout=3, read_timeout=5, idle_seconds=60, cooldown_seconds=0)
    spec = ConnectionSpec("127.0.0.1", world.sandbox.primary.port, admin.user, SecretStr(admin.password))

    async def scenario() -> tuple[KillResult, KillResult]:
        node = NodeClient(NodePool(spec, limits, time.monotonic), (*DEFAULT_SYSTEM_ACCOUNTS, admin.user))
        try:
            app.run_async("SELECT SLEEP(1) AS first_statement")
            await asyncio.sleep(0.3)
            async with node.session() as session:
                checked = (await session.threads([app.id]))[app.id]  # the first statement, as checked
            assert checked.query_id is not None
            await asyncio.to_thread(app.join)
            app.run_async("SELECT SLEEP(30) AS second_statement")  # started after the check
            await asyncio.sleep(0.3)
            async with node.session() as session:
                stale = (await session.kill([checked], KillMode.QUERY))[app.id]
                assert "second_statement" in str((await session.threads([app.id]))[app.id].process.info)
                current = (await session.threads([app.id]))[app.id]
                fresh = (await session.kill([current], KillMode.QUERY))[app.id]
            return stale, fresh
        finally:
            node.pool.retire()

    stale, fresh = asyncio.run(scenario())
    assert stale is KillResult.NO_SUCH_THREAD  # the checked statement had ended: nothing stopped
    assert fresh is KillResult.KILLED
    app.join()
    assert app.alive()  # KILL QUERY ends the statement, never the connection


# -- 9. terminal control characters -----------------------------------------------------------------------
def test_cli_output_carries_no_terminal_control_characters(world: World, sessions: Sessions) -> None:
    (app,) = open_app_sessions(world.sandbox, sessions, 1)
    app.run_async("SELECT SLEEP(60) AS x, 'clear\x1b[2J\x1b]0;owned\x07 bidi\u202etxt.exe\x9b'")
    where = ["--instance", world.main.instance_id, "--node", world.main.primary.node_id]
    env = {"TAURUS_ENDPOINT": world.service.url, "HUAWEICLOUD_SDK_PROJECT_ID": world.main.project_id}
    env |= _access_key(world)
    for extra in ((), ("--json",)):
        listed = eventually(partial(_listing, world, where, env, extra))
        assert not any(ch in listed for ch in "\x1b\x07\u202e\x9b"), repr(listed)
        assert "bidi" in listed
    app.close()


def _listing(world: World, where: list[str], env: dict[str, str], extra: tuple[str, ...]) -> str | None:
    result = world.service.cli("processes", "list", *where, "--info", "bidi", *extra, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout if "bidi" in result.stdout else None


def _access_key(world: World) -> dict[str, str]:
    async def create(inv: Inventory) -> tuple[str, str]:
        user = await inv.users.find_user("acme", "alice")
        assert user is not None
        key, sk = await inv.access_keys.create(user.id, "security tests")
        return key.ak, sk.get_secret_value()

    ak, sk = world.service.inventory(create)
    return {"HUAWEICLOUD_SDK_AK": ak, "HUAWEICLOUD_SDK_SK": sk}


# -- 10. no secret in a log line, even when the inventory fails ------------------------------------------
def test_a_failing_inventory_write_logs_no_values(world: World, sessions: Sessions, tmp_path: Any) -> None:
    from support.service import ServiceProcess

    service = ServiceProcess(tmp_path / "broken")
    from support.world import populate

    main, _ = service.inventory(lambda inv: populate(inv, world.sandbox))
    service.start()
    api = httpx.Client(base_url=service.url, timeout=30)
    try:
        token = _token(api, main.project_name)
        path = f"/v3/{main.project_id}/instances/{main.instance_id}/nodes/{main.primary.node_id}/processes"
        # the audit table goes away under the running service: every kill must fail, closed
        db = sqlite3.connect(service.folder / "inventory.db")
        db.execute("ALTER TABLE audit_events RENAME TO audit_events_gone")
        db.commit()
        db.close()
        marker = "s3cr3t-statement-marker"
        response = api.post(
            path + "/kill-by-filter",
            json={"filter": {"info": marker, "user": "nobody-by-that-name"}},
            headers={"X-Auth-Token": token},
        )
        assert response.status_code == 500, response.text
        request_id = response.headers["x-request-id"]
        eventually(lambda: request_id in service.log_text())
        log = service.log_text()
        # The failure is logged with its cause (the audit record, whose filter holds the marker,
        # is written by sqlite3 itself; SQLAlchemy's writes hide their parameters), never a value.
        assert "audit record could not be completed" in log and "no such table: audit_events" in log
        assert marker not in log and token not in log

        # A write through SQLAlchemy (a kill task, its filter holding the marker) fails the same way.
        db = sqlite3.connect(service.folder / "inventory.db")
        db.execute("ALTER TABLE kill_tasks RENAME TO kill_tasks_gone")
        db.commit()
        db.close()
        response = api.post(
            path.removesuffix("/processes") + "/kill-tasks",
            json={"filter": {"info": marker, "user": "nobody-by-that-name"}, "interval_seconds": 1},
            headers={"X-Auth-Token": token},
        )
        assert response.status_code == 500, response.text
        request_id = response.headers["x-request-id"]
        eventually(lambda: request_id in service.log_text())
        log = service.log_text()
        assert "hidden due to hide_parameters" in log
        assert marker not in log and token not in log
    finally:
        api.close()
        service.stop()


def _token(api: httpx.Client, project_name: str) -> str:
    from support.client import token_body

    response = api.post(
        "/v3/auth/tokens",
        json=token_body("alice", "correct horse battery staple", "acme", project_name=project_name),
    )
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


# -- 11. signatures over the path as sent; headers sent twice ------------------------------------------------
def test_signatures_cover_the_raw_path_and_refuse_doubled_headers(world: World) -> None:
    keys = _access_key(world)
    ak, sk = keys["HUAWEICLOUD_SDK_AK"], keys["HUAWEICLOUD_SDK_SK"]
    project = world.main.project_id

    # The SDKs' signer decodes the path once. A project id holding an escaped "%" must verify as
    # sent; decoding it twice would check another path (and refuse a correct signature).
    raw = (
        f"/v3/{project}%2541/instances/{world.main.instance_id}/nodes/{world.main.primary.node_id}/processes"
    )
    headers = sign_request("GET", world.service.url + raw, {"X-Project-Id": project}, b"", ak, sk)
    with httpx.Client(base_url=world.service.url) as client:
        answer = client.send(client.build_request("GET", httpx.URL(world.service.url + raw), headers=headers))
    assert answer.status_code == 400 and answer.json()["error_code"] == "DBS.200001", answer.text

    path = world.path()
    signed = sign_request("GET", world.service.url + path, {"X-Project-Id": project}, b"", ak, sk)
    assert httpx.get(world.service.url + path, headers=signed).status_code == 200
    # the same request with a signed header sent twice (which value was signed?) is refused, even
    # when both copies agree
    doubled = [*signed.items(), ("X-Project-Id", project)]
    refused = httpx.get(world.service.url + path, headers=doubled)
    assert refused.status_code == 401 and refused.json()["error_code"] == "APIGW.0301"


def test_token_digests_are_what_revocations_keep() -> None:
    from taurus_sessions.auth.revocations import token_digest

    assert token_digest("abc") == hashlib.sha256(b"abc").hexdigest()

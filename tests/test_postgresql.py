"""Several service replicas on one PostgreSQL inventory (a real server), as behind a load balancer."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, select, update

from conftest import World, open_app_sessions
from support.client import Api
from support.personas import ADMIN, DOMAIN, PASSWORD
from support.poll import eventually
from support.service import ServiceProcess
from support.sessions import Sessions, wait_for_state, wait_gone
from support.world import populate
from taurus_sessions.inventory.audit_events import AuditQuery
from taurus_sessions.inventory.audit_writer import PostgresAuditWriter
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.inventory.engine import create_engine, migrate
from taurus_sessions.inventory.models import AuditEvent
from taurus_sessions.sandbox.instance import Account
from taurus_sessions.sandbox.postgres import PostgresServer, ensure_bin_dir
from taurus_sessions.sandbox.registration import Registration


@dataclass
class Replicas:
    first: ServiceProcess
    second: ServiceProcess
    main: Registration
    a: Api
    b: Api


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer(ensure_bin_dir())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def replicas(
    world: World, postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    folder = tmp_path_factory.mktemp("pg-replicas")  # shared: both hold the same master key
    # short task leases; due tasks looked for five times a second, so a pass starts when it is due
    lease_and_poll = {"TAURUS_TASK_LEASE_SECONDS": "3", "TAURUS_TASK_POLL_SECONDS": "0.2"}
    first = ServiceProcess(folder, database_url=postgres.url, **lease_and_poll)
    main, _ = first.inventory(lambda inv: populate(inv, world.sandbox))
    second = ServiceProcess(folder, database_url=postgres.url, **lease_and_poll)
    first.start()
    second.start()
    a, b = Api(first.url), Api(second.url)
    yield Replicas(first, second, main, a, b)
    a.close()
    b.close()
    first.stop()
    second.stop()


def path(replicas: Replicas) -> str:
    main = replicas.main
    return Api.processes_path(main.project_id, main.instance_id, main.primary.node_id)


def test_the_schema_is_migrated_on_postgresql(postgres: PostgresServer, replicas: Replicas) -> None:
    tables = set(
        postgres.sql("\\c taurus\nSELECT tablename FROM pg_tables WHERE schemaname = 'public';").split()
    )
    assert {"projects", "instances", "nodes", "users", "audit_events", "kill_tasks", "access_keys"} <= tables
    assert postgres.password not in replicas.first.log_text() + replicas.second.log_text()


def test_a_token_from_one_replica_works_on_the_other_and_kills_are_audited_once(
    world: World, replicas: Replicas, sessions: Sessions
) -> None:
    token = replicas.a.token(ADMIN.name, PASSWORD, DOMAIN, project_name=replicas.main.project_name)
    victims = open_app_sessions(world.sandbox, sessions, 2)
    listed = replicas.b.list(token, path(replicas))
    assert listed.status_code == 200 and {s.id for s in victims} <= {
        p["id"] for p in listed.json()["processes"]
    }

    killed = replicas.b.kill(token, path(replicas), [s.id for s in victims])

    assert killed.json() == {"processes_killed": [s.id for s in victims], "processes_not_found": []}
    assert wait_gone(world.sandbox.primary, {s.id for s in victims}) == set()
    trail = replicas.a.http.get(
        f"/v3/{replicas.main.project_id}/audit-events",
        params={"request_id": killed.headers["x-request-id"]},
        headers={"X-Auth-Token": token},
    ).json()
    assert trail["total_count"] == 1
    assert [r["id"] for r in trail["events"][0]["results"]] == [s.id for s in victims]


def test_signed_requests_and_lockouts_are_shared(replicas: Replicas) -> None:
    async def key(inv: Inventory) -> tuple[str, str]:
        user = await inv.users.find_user(DOMAIN, ADMIN.name)
        assert user is not None
        created, sk = await inv.access_keys.create(user.id)
        return created.ak, sk.get_secret_value()

    ak, sk = replicas.first.inventory(key)
    env = {"HUAWEICLOUD_SDK_AK": ak, "HUAWEICLOUD_SDK_PROJECT_ID": replicas.main.project_id}
    where = ["--instance", replicas.main.instance_id, "--node", replicas.main.primary.node_id]
    for service in (replicas.first, replicas.second):
        ok = service.cli(
            "processes", "--endpoint", service.url, "list", *where, env={**env, "HUAWEICLOUD_SDK_SK": sk}
        )
        assert ok.returncode == 0, ok.stderr
    # five failures spread over both replicas lock the key on both
    for attempt in range(5):
        service = (replicas.first, replicas.second)[attempt % 2]
        bad = service.cli(
            "processes",
            "--endpoint",
            service.url,
            "list",
            *where,
            env={**env, "HUAWEICLOUD_SDK_SK": "b" * 40},
        )
        assert "verify aksk signature fail" in bad.stderr
    # each failure is counted in the inventory before its answer: the lock holds at once
    locked = replicas.second.cli(
        "processes", "--endpoint", replicas.second.url, "list", *where, env={**env, "HUAWEICLOUD_SDK_SK": sk}
    )
    assert "AK access failed to reach the limit" in locked.stderr


def test_a_task_runs_on_one_replica_at_a_time_and_survives_one(
    world: World, replicas: Replicas, sessions: Sessions, reporter: Account
) -> None:
    token = replicas.a.token(ADMIN.name, PASSWORD, DOMAIN, project_name=replicas.main.project_name)
    body = {"filter": {"user": reporter.user}, "interval_seconds": 1, "duration_seconds": None}
    created = replicas.a.http.post(
        path(replicas).removesuffix("/processes") + "/kill-tasks", json=body, headers={"X-Auth-Token": token}
    )
    assert created.status_code == 201, created.text
    task_id = created.json()["task"]["id"]
    started = time.monotonic()

    def three_passes() -> int:
        response = replicas.b.http.get(
            f"/v3/{replicas.main.project_id}/kill-tasks/{task_id}", headers={"X-Auth-Token": token}
        )
        passes = int(response.json()["task"]["passes"])
        return passes if passes >= 3 else 0

    passes = eventually(three_passes, timeout=20, interval=0.1, message="three passes of the task")
    elapsed = time.monotonic() - started
    # one runner at a time: about one pass a second (two runners would make about two)
    assert 3 <= passes <= elapsed + 1.5, (passes, elapsed)

    assert replicas.first.process is not None
    os.kill(replicas.first.process.pid, signal.SIGKILL)  # the lease must run out; no clean hand-over
    replicas.first.process.wait(10)
    late = [sessions.open(world.sandbox.primary, reporter.user, reporter.password, None) for _ in range(2)]
    assert wait_gone(world.sandbox.primary, {s.id for s in late}, timeout=12) == set()
    events, _ = replicas.second.inventory(lambda inv: inv.audit.query(AuditQuery(actor=task_id)))
    assert {s.id for s in late} <= {r["id"] for e in events for r in e.results}
    stopped = replicas.b.http.post(
        f"/v3/{replicas.main.project_id}/kill-tasks/{task_id}/stop", headers={"X-Auth-Token": token}
    )
    assert stopped.json()["task"]["state"] == "stopped"
    replicas.first.start()  # the module's other users get their replica back


def test_a_realtime_session_collection_is_read_from_either_replica(
    world: World, replicas: Replicas, sessions: Sessions
) -> None:
    token = replicas.a.token("alice", PASSWORD, DOMAIN, project_name=replicas.main.project_name)
    headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
    node = path(replicas).removesuffix("/processes")
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]
    victim.run_async("SELECT SLEEP(30) AS pg_realtime")
    wait_for_state(world.sandbox.primary, victim.id, "Query")

    def collected(api: Api, reader: Api, body: bytes) -> bytes:
        started = api.http.post(node + "/realtime-session", content=body, headers=headers)
        assert started.status_code == 200, started.text
        request_id = started.json()["request_id"]
        deadline = time.monotonic() + 15
        while (
            state := reader.http.get(
                node + "/realtime-session-task", params={"request_id": request_id}, headers=headers
            ).json()["status"]
        ) == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert state == "finished"
        file = reader.http.get(
            node + "/realtime-session-result", params={"request_id": request_id}, headers=headers
        )
        assert file.status_code == 200, file.text
        return file.content

    # collected by one replica, its status and file from the other
    found = collected(replicas.a, replicas.b, b'{"sql_key": "pg_realtime", "filter": "active"}')
    assert [line.split(b",")[0] for line in found.splitlines()] == [b"id", str(victim.id).encode()]
    # a NUL in the request, kept as JSON, is no trouble for PostgreSQL
    assert collected(replicas.b, replicas.a, b'{"sql_key": "\\u0000"}').startswith(b"id,user,")  # fmt: skip


def test_node_passwords_are_encrypted_in_postgresql(
    world: World, postgres: PostgresServer, replicas: Replicas
) -> None:
    dump = postgres.sql("\\c taurus\nSELECT admin_password_enc FROM nodes;")
    assert dump.strip() and world.sandbox.admin.password not in dump
    assert httpx.get(f"{replicas.second.url}/openapi.json").status_code == 200


def test_folder_is_removed_after_stop(tmp_path: Path) -> None:
    server = PostgresServer(ensure_bin_dir())
    server.start()
    folder = server.folder
    assert (folder / "data").exists()
    server.stop()
    assert not folder.exists()


def test_audit_records_written_by_asyncpg_read_back_as_sqlalchemys(postgres: PostgresServer) -> None:
    """The audit writer's own statements (asyncpg, one round trip) store what SQLAlchemy would."""
    url = postgres.create_database("audit_writer")
    at = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
    event = {
        "at": at,
        "action": "deleteProcesses",
        "project_id": "p1",
        "actor_kind": "user",
        "actor_name": "d/alice",
        "dry_run": False,
        "requested": {"processes": [7]},
        "outcome": "pending",
        "results": [{"id": 7, "outcome": "pending", "info": "SELECT 'é 😀'"}],
    }
    finish = {
        "outcome": "ok",
        "http_status": 200,
        "results": [{"id": 7, "outcome": "killed"}],
        "duration_ms": 1.5,
    }

    async def scenario() -> list[dict[str, object]]:
        engine = create_engine(url)
        await migrate(engine)
        writer = PostgresAuditWriter(engine, 10.0)
        try:
            ours = await writer.insert({**event, "request_id": "ours"})
            await writer.update(ours, finish)
            async with engine.begin() as conn:
                key = (
                    await conn.execute(insert(AuditEvent), {**event, "request_id": "theirs"})
                ).inserted_primary_key
                assert key is not None
                await conn.execute(update(AuditEvent).where(AuditEvent.id == key[0]).values(**finish))
            async with engine.connect() as conn:
                rows = (await conn.execute(select(AuditEvent).order_by(AuditEvent.id))).all()
            return [dict(row._mapping) for row in rows]
        finally:
            await writer.aclose()
            await engine.dispose()

    ours, theirs = asyncio.run(scenario())
    assert (ours.pop("id"), ours.pop("request_id")) != (theirs.pop("id"), theirs.pop("request_id"))
    assert ours == theirs
    assert ours["at"] == at and ours["results"] == [{"id": 7, "outcome": "killed"}]

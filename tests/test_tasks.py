"""Kill tasks on real nodes: they keep killing, stop, finish, survive restarts, never run twice.

Passes, stops and ends run in process (``in_process``): the test moves the service's clock on and
the runner takes its rounds, so an interval or a duration costs no waiting. A restart, and the
lease one replica hands over to another, need real processes.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import World
from support.client import Api
from support.inprocess import InProcessWorld
from support.personas import (
    ADMIN,
    AUDITOR,
    DOMAIN,
    MAIN_PROJECT,
    OPERATOR,
    OUTSIDER,
    PASSWORD,
    READONLY,
    Persona,
)
from support.poll import eventually
from support.service import ServiceProcess
from support.sessions import Session, Sessions, wait_gone
from support.world import populate
from taurus_sessions.inventory.audit_events import AuditQuery
from taurus_sessions.sandbox.instance import Account, SandboxInstance
from taurus_sessions.sandbox.registration import create_user


def create_task(api: Api, token: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return api.http.post(
        path.removesuffix("/processes") + "/kill-tasks", json=body, headers={"X-Auth-Token": token}
    )


def task_url(project_id: str, task_id: str = "") -> str:
    return f"/v3/{project_id}/kill-tasks" + (f"/{task_id}" if task_id else "")


def show(api: Api, token: str, project_id: str, task_id: str) -> dict[str, Any]:
    response = api.http.get(task_url(project_id, task_id), headers={"X-Auth-Token": token})
    assert response.status_code == 200, response.text
    return dict(response.json())


def stop(api: Api, token: str, project_id: str, task_id: str) -> httpx.Response:
    return api.http.post(task_url(project_id, task_id) + "/stop", headers={"X-Auth-Token": token})


def open_reporters(
    sandbox: SandboxInstance, sessions: Sessions, account: Account, count: int
) -> list[Session]:
    return [sessions.open(sandbox.primary, account.user, account.password, None) for _ in range(count)]


@pytest.fixture
def task_cleanup(world: World) -> Iterator[list[str]]:
    created: list[str] = []
    yield created
    for task_id in created:
        stop(world.api, world.token(ADMIN), world.main.project_id, task_id)


def test_a_task_kills_sessions_that_appear_after_it_started(
    in_process: InProcessWorld, sessions: Sessions, reporter: Account
) -> None:
    world = in_process
    token = world.token(ADMIN)
    response = create_task(
        world.api,
        token,
        world.path(),
        {
            "name": "reporters",
            "filter": {"user": reporter.user},
            "interval_seconds": 1,
            "duration_seconds": 120,
        },
    )
    assert response.status_code == 201, response.text
    task = response.json()["task"]
    assert task["state"] == "running" and task["created_by"] == ADMIN.display_name
    assert task["filter"] == {"user": reporter.user} and task["ends_at"] is not None
    world.run_kill_tasks()  # the first pass, at once
    bystander = sessions.open(
        world.sandbox.primary, world.sandbox.app.user, world.sandbox.app.password, "shop"
    )

    late = open_reporters(world.sandbox, sessions, reporter, 3)
    world.let_time_pass(1)  # the next pass

    assert wait_gone(world.sandbox.primary, {s.id for s in late}, timeout=8) == set()
    assert bystander.alive()
    shown = show(world.api, token, world.main.project_id, task["id"])
    assert shown["task"]["victims_killed"] >= 3
    assert shown["task"]["passes"] == 2
    assert {s.id for s in late} <= {v["id"] for v in shown["recent_victims"]}
    assert all(v["user"] == reporter.user for v in shown["recent_victims"])

    events, _ = world.inventory(lambda inv: inv.audit.query(AuditQuery(action="killTask", actor=task["id"])))
    assert events and all(e.actor_kind == "task" and e.actor_name == ADMIN.display_name for e in events)
    assert all(e.task_id == task["id"] for e in events)
    # the creation is on the trail with the status it was answered with
    (created,) = world.inventory(
        lambda inv: inv.audit.query(
            AuditQuery(action="createKillTask", request_id=response.headers["x-request-id"])
        )
    )[0]
    assert (created.outcome, created.http_status, created.task_id) == ("ok", 201, task["id"])


def test_stop_on_request(in_process: InProcessWorld, sessions: Sessions, reporter: Account) -> None:
    world = in_process
    token = world.token(OPERATOR)
    task = create_task(
        world.api, token, world.path(), {"filter": {"user": reporter.user}, "interval_seconds": 1}
    )
    task_id = task.json()["task"]["id"]
    world.run_kill_tasks()  # its first pass: the runner holds the task's lease now

    stopped = stop(world.api, token, world.main.project_id, task_id)

    assert stopped.status_code == 200
    assert stopped.json()["task"]["state"] == "stopped"
    assert stopped.json()["task"]["stopped_by"] == OPERATOR.display_name
    survivors = open_reporters(world.sandbox, sessions, reporter, 2)
    world.let_time_pass(2.5)
    assert all(s.alive() for s in survivors)
    again = stop(world.api, token, world.main.project_id, task_id)
    assert again.status_code == 200 and again.json()["task"]["state"] == "stopped"


def test_a_task_finishes_at_its_end(
    in_process: InProcessWorld, sessions: Sessions, reporter: Account
) -> None:
    world = in_process
    token = world.token(ADMIN)
    body = {"filter": {"user": reporter.user}, "interval_seconds": 1, "duration_seconds": 2}
    task_id = create_task(world.api, token, world.path(), body).json()["task"]["id"]
    world.run_kill_tasks()

    world.let_time_pass(2)

    assert show(world.api, token, world.main.project_id, task_id)["task"]["state"] == "finished"
    survivors = open_reporters(world.sandbox, sessions, reporter, 2)
    world.let_time_pass(2)
    assert all(s.alive() for s in survivors)
    listed = world.api.http.get(
        task_url(world.main.project_id), params={"state": "finished"}, headers={"X-Auth-Token": token}
    ).json()
    assert task_id in {t["id"] for t in listed["tasks"]}


def test_a_task_resumes_after_a_restart(
    world: World, sessions: Sessions, reporter: Account, task_cleanup: list[str]
) -> None:
    token = world.token(ADMIN)
    body = {"filter": {"user": reporter.user}, "interval_seconds": 1, "duration_seconds": None}
    task = create_task(world.api, token, world.path(), body).json()["task"]
    task_cleanup.append(task["id"])
    assert task["duration_seconds"] is None and task["ends_at"] is None  # until stopped

    world.service.restart()

    late = open_reporters(world.sandbox, sessions, reporter, 2)
    assert wait_gone(world.sandbox.primary, {s.id for s in late}, timeout=10) == set()
    assert show(world.api, token, world.main.project_id, task["id"])["task"]["state"] == "running"


# An operator for one test: the role is revoked while the task runs.
DEMOTED = Persona("tess", "operator", MAIN_PROJECT, "runs kill tasks until the operator role is revoked")


def test_creator_losing_the_right_fails_the_task(
    in_process: InProcessWorld, sessions: Sessions, reporter: Account
) -> None:
    world = in_process
    project_id = world.main.project_id
    user_id = world.inventory(
        lambda inv: create_user(inv, DOMAIN, DEMOTED.name, PASSWORD, project_id, DEMOTED.role)
    )
    token = world.token(DEMOTED)
    body = {"filter": {"user": reporter.user}, "interval_seconds": 1}
    task_id = create_task(world.api, token, world.path(), body).json()["task"]["id"]

    world.inventory(lambda inv: inv.users.revoke(user_id, project_id, DEMOTED.role))
    world.run_kill_tasks()

    admin = world.token(ADMIN)
    shown = show(world.api, admin, project_id, task_id)["task"]
    assert shown["state"] == "failed"
    assert "no longer" in shown["last_error"]
    survivor = open_reporters(world.sandbox, sessions, reporter, 1)[0]
    world.let_time_pass(1.5)
    assert survivor.alive()


def test_task_permissions_and_validation(world: World, reporter: Account) -> None:
    body = {"filter": {"user": reporter.user}, "interval_seconds": 1, "duration_seconds": 5}
    refused = create_task(world.api, world.token(READONLY), world.path(), body)
    assert refused.status_code == 403 and refused.json()["error_code"] == "DBS.200010"
    task_id = create_task(world.api, world.token(ADMIN), world.path(), body).json()["task"]["id"]
    try:
        assert show(world.api, world.token(READONLY), world.main.project_id, task_id)["task"]["id"] == task_id
        assert stop(world.api, world.token(READONLY), world.main.project_id, task_id).status_code == 403
        auditor = world.api.http.get(
            task_url(world.main.project_id), headers={"X-Auth-Token": world.token(AUDITOR)}
        )
        assert auditor.status_code == 403
        foreign = world.api.http.get(
            task_url(world.main.project_id, task_id), headers={"X-Auth-Token": world.token(OUTSIDER)}
        )
        assert foreign.status_code == 403
    finally:
        stop(world.api, world.token(ADMIN), world.main.project_id, task_id)
    missing = world.api.http.get(
        task_url(world.main.project_id, "0" * 32), headers={"X-Auth-Token": world.token(ADMIN)}
    )
    assert missing.status_code == 404 and missing.json()["error_code"] == "DBS.280406"
    malformed = world.api.http.get(
        task_url(world.main.project_id, "xyz"), headers={"X-Auth-Token": world.token(ADMIN)}
    )
    assert malformed.status_code == 400
    bad_bodies: list[dict[str, Any]] = [
        {"filter": {}},
        {"filter": {"user": "x"}, "interval_seconds": 0},
        {"filter": {"user": "x"}, "interval_seconds": 3601},
        {"filter": {"user": "x"}, "duration_seconds": 0},
        {"filter": {"user": "x"}, "max_victims_per_pass": 0},
        {"filter": {"user": "x"}, "victims": "random"},
        {"filter": {"user": "x"}, "name": 5},
    ]
    for bad in bad_bodies:
        response = create_task(world.api, world.token(ADMIN), world.path(), bad)
        assert response.status_code == 400, bad


@pytest.fixture
def replicas(world: World, tmp_path: Path) -> Iterator[tuple[ServiceProcess, ServiceProcess, Any]]:
    """Two service processes on one inventory (as behind a load balancer), with short task leases;
    each looks for due tasks five times a second, so a pass starts right when it is due."""
    lease_and_poll = {"TAURUS_TASK_LEASE_SECONDS": "3", "TAURUS_TASK_POLL_SECONDS": "0.2"}
    first = ServiceProcess(tmp_path / "shared", **lease_and_poll)
    main, _ = first.inventory(lambda inv: populate(inv, world.sandbox))
    second = ServiceProcess(tmp_path / "shared", **lease_and_poll)
    first.start()
    second.start()
    yield first, second, main
    first.stop()
    second.stop()


def test_replicas_never_run_a_task_twice_and_take_over(
    replicas: tuple[ServiceProcess, ServiceProcess, Any], world: World, sessions: Sessions, reporter: Account
) -> None:
    first, second, main = replicas
    api = Api(first.url)
    other = Api(second.url)
    try:
        token = api.token(ADMIN.name, PASSWORD, DOMAIN, project_name=main.project_name)
        path = Api.processes_path(main.project_id, main.instance_id, main.primary.node_id)
        body = {"filter": {"user": reporter.user}, "interval_seconds": 1, "duration_seconds": None}
        task_id = create_task(api, token, path, body).json()["task"]["id"]
        started = time.monotonic()

        def three_passes() -> int:
            passes = int(show(other, token, main.project_id, task_id)["task"]["passes"])
            return passes if passes >= 3 else 0

        passes = eventually(three_passes, timeout=20, interval=0.1, message="three passes of the task")
        elapsed = time.monotonic() - started
        # one runner at a time: about one pass a second (two runners would make about two)
        assert 3 <= passes <= elapsed + 1.5, (passes, elapsed)

        assert first.process is not None
        os.kill(first.process.pid, signal.SIGKILL)  # no clean shutdown: its lease must run out
        first.process.wait(10)
        late = open_reporters(world.sandbox, sessions, reporter, 2)
        assert wait_gone(world.sandbox.primary, {s.id for s in late}, timeout=12) == set()
        assert stop(other, token, main.project_id, task_id).status_code == 200
    finally:
        api.close()
        other.close()

"""ListTaurusDbNodeProcesses against real nodes: paging, ordering, internal threads never listed."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import World, open_app_sessions
from support.personas import ADMIN, READONLY
from support.sessions import Session, Sessions, thread_ids, wait_for_state
from taurus_sessions.sandbox.instance import APP_DATABASE


def test_lists_user_sessions_in_id_order_with_all_fields(world: World, sessions: Sessions) -> None:
    opened = open_app_sessions(world.sandbox, sessions, 3)
    opened[0].run_async("SELECT SLEEP(30) AS busy")
    wait_for_state(world.sandbox.primary, opened[0].id, "Query")

    response = world.api.list(world.token(ADMIN), world.path())

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    assert len(response.headers["x-request-id"]) == 32
    page = response.json()
    listed = {p["id"]: p for p in page["processes"]}
    assert {s.id for s in opened} <= set(listed)
    ids = [p["id"] for p in page["processes"]]
    assert ids == sorted(ids)
    busy = listed[opened[0].id]
    assert busy["user"] == world.sandbox.app.user
    assert busy["db"] == APP_DATABASE
    assert busy["command"] == "Query"
    assert busy["info"] == "SELECT SLEEP(30) AS busy"
    assert busy["state"] == "User sleep"
    assert busy["host"].startswith("127.0.0.1:")
    assert isinstance(busy["time"], int) and busy["time"] >= 0
    assert set(busy) == {"id", "user", "host", "db", "command", "time", "state", "info"}
    assert page["total_count"] == len(page["processes"])


def test_paging_is_stable_and_total_count_is_the_snapshot(world: World, sessions: Sessions) -> None:
    open_app_sessions(world.sandbox, sessions, 7)
    token = world.token(ADMIN)
    full = world.api.list(token, world.path(), offset=0, limit=100).json()
    total = full["total_count"]
    assert total >= 7

    pages = []
    for offset in range(0, total, 3):
        page = world.api.list(token, world.path(), offset=offset, limit=3).json()
        assert page["total_count"] == total
        assert len(page["processes"]) == min(3, total - offset)
        pages.extend(page["processes"])
    assert [p["id"] for p in pages] == [p["id"] for p in full["processes"]]

    past_end = world.api.list(token, world.path(), offset=total + 50, limit=10)
    assert past_end.status_code == 200
    assert past_end.json() == {"processes": [], "total_count": total}


def test_defaults_are_offset_0_limit_100(world: World, sessions: Sessions) -> None:
    open_app_sessions(world.sandbox, sessions, 2)
    token = world.token(ADMIN)
    assert (
        world.api.list(token, world.path()).json()
        == world.api.list(token, world.path(), offset=0, limit=100).json()
    )


def test_internal_threads_on_the_primary_are_never_listed(
    world: World, metric_session: Session, sessions: Sessions
) -> None:
    primary = world.sandbox.primary
    open_app_sessions(world.sandbox, sessions, 1)
    world.api.list(world.token(ADMIN), world.path())  # the service's own pool is open now
    internal = {
        "event_scheduler": thread_ids(primary, "USER = 'event_scheduler'"),
        "binlog dump": thread_ids(primary, "COMMAND LIKE 'Binlog Dump%'"),
        "rdsMetric": thread_ids(primary, "USER = 'rdsMetric'"),
        "service": thread_ids(primary, "USER = 'rdsAdmin'"),
    }
    for name, found in internal.items():
        assert found, f"the sandbox should have a {name} thread"

    listed = {p["id"] for p in world.api.all_processes(world.token(ADMIN), world.path())}

    for name, found in internal.items():
        assert not (found & listed), f"{name} threads were listed"
    users = {p["user"] for p in world.api.all_processes(world.token(ADMIN), world.path())}
    assert not {u.lower() for u in users} & {"rdsadmin", "rdsrepl", "rdsbackup", "rdsmetric", "rdsproxy"}


def test_replication_threads_on_the_replica_are_never_listed(world: World, sessions: Sessions) -> None:
    replica = world.sandbox.replica
    assert replica is not None
    replication = thread_ids(replica, "COMMAND IN ('Slave_IO', 'Slave_SQL', 'Slave_worker')")
    assert len(replication) >= 2
    reader = open_app_sessions(world.sandbox, sessions, 1, replica=True)[0]

    page = world.api.list(world.token(ADMIN), world.path("readreplica")).json()

    listed = {p["id"] for p in page["processes"]}
    assert reader.id in listed
    assert not replication & listed
    assert all(p["user"] != "system user" for p in page["processes"])


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "abc"},
        {"limit": -1},
        {"limit": "1.5"},
        {"limit": ""},
        {"offset": -1},
        {"offset": "x"},
        {"offset": "99999999999999999999999"},
    ],
)
def test_bad_offset_or_limit_is_a_parameter_error(world: World, params: dict[str, Any]) -> None:
    response = world.api.list(world.token(ADMIN), world.path(), **params)
    assert response.status_code == 400
    assert response.json()["error_code"] == "DBS.200001"
    assert response.json()["error_msg"].startswith("Parameter error.")


def test_readonly_role_can_list(world: World) -> None:
    assert world.api.list(world.token(READONLY), world.path()).status_code == 200

"""DeleteTaurusDbNodeProcesses against real nodes: what is killed is gone, internal threads survive."""

from __future__ import annotations

import pytest

from conftest import World, open_app_sessions
from support.personas import ADMIN, READONLY
from support.sessions import Session, Sessions, thread_ids, wait_for_state, wait_gone


def test_kills_application_sessions_and_they_are_gone_on_the_node(world: World, sessions: Sessions) -> None:
    victims = open_app_sessions(world.sandbox, sessions, 3)
    bystander = open_app_sessions(world.sandbox, sessions, 1)[0]
    victims[0].run_async("SELECT SLEEP(60)")
    wait_for_state(world.sandbox.primary, victims[0].id, "Query")
    ids = [s.id for s in victims]

    response = world.api.kill(world.token(ADMIN), world.path(), ids)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    assert response.json() == {"processes_killed": ids, "processes_not_found": []}
    assert wait_gone(world.sandbox.primary, set(ids)) == set()
    assert not victims[1].alive()
    assert bystander.alive()
    listed = {p["id"] for p in world.api.all_processes(world.token(ADMIN), world.path())}
    assert not listed & set(ids)


def test_kill_on_the_read_replica(world: World, sessions: Sessions) -> None:
    reader = open_app_sessions(world.sandbox, sessions, 1, replica=True)[0]
    replica = world.sandbox.replica
    assert replica is not None

    response = world.api.kill(world.token(ADMIN), world.path("readreplica"), [reader.id])

    assert response.json() == {"processes_killed": [reader.id], "processes_not_found": []}
    assert wait_gone(replica, {reader.id}) == set()
    # replication keeps running: the kill touched only the user session
    assert len(thread_ids(replica, "COMMAND IN ('Slave_IO', 'Slave_SQL')")) == 2


def test_ids_that_never_existed_are_not_found(world: World, sessions: Sessions) -> None:
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]
    ghosts = [987654321, 2**63 - 1, 0]

    response = world.api.kill(world.token(ADMIN), world.path(), [ghosts[0], victim.id, ghosts[1], ghosts[2]])

    assert response.json() == {"processes_killed": [victim.id], "processes_not_found": ghosts}


def test_duplicates_are_reported_once_in_request_order(world: World, sessions: Sessions) -> None:
    a, b = open_app_sessions(world.sandbox, sessions, 2)

    response = world.api.kill(world.token(ADMIN), world.path(), [b.id, a.id, b.id, 424242, a.id, 424242])

    assert response.json() == {"processes_killed": [b.id, a.id], "processes_not_found": [424242]}


def test_an_already_killed_session_is_not_found_the_second_time(world: World, sessions: Sessions) -> None:
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]
    token = world.token(ADMIN)
    assert world.api.kill(token, world.path(), [victim.id]).json()["processes_killed"] == [victim.id]
    wait_gone(world.sandbox.primary, {victim.id})

    assert world.api.kill(token, world.path(), [victim.id]).json() == {
        "processes_killed": [],
        "processes_not_found": [victim.id],
    }


def test_internal_threads_are_not_found_and_survive(
    world: World, metric_session: Session, sessions: Sessions
) -> None:
    primary = world.sandbox.primary
    token = world.token(ADMIN)
    world.api.list(token, world.path())  # make sure the service holds a pooled connection
    internal = sorted(
        thread_ids(primary, "USER = 'event_scheduler'")
        | thread_ids(primary, "COMMAND LIKE 'Binlog Dump%'")
        | thread_ids(primary, "USER = 'rdsMetric'")
        | thread_ids(primary, "USER = 'rdsAdmin'")
    )
    assert len(internal) >= 4
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]

    response = world.api.kill(token, world.path(), [*internal, victim.id])

    assert response.json() == {"processes_killed": [victim.id], "processes_not_found": internal}
    assert set(internal) <= thread_ids(primary)
    assert metric_session.alive()
    world.sandbox.wait_replica_caught_up()  # the Binlog Dump thread still feeds the replica


def test_replication_threads_on_the_replica_are_not_found_and_survive(world: World) -> None:
    replica = world.sandbox.replica
    assert replica is not None
    replication = sorted(thread_ids(replica, "COMMAND IN ('Slave_IO', 'Slave_SQL', 'Slave_worker')"))
    scheduler = sorted(thread_ids(replica, "USER = 'event_scheduler'"))

    response = world.api.kill(world.token(ADMIN), world.path("readreplica"), replication + scheduler)

    assert response.json() == {"processes_killed": [], "processes_not_found": replication + scheduler}
    assert set(replication + scheduler) <= thread_ids(replica)


def test_the_root_like_account_is_a_user_session(world: World, sessions: Sessions) -> None:
    dba = sessions.open(world.sandbox.primary, world.sandbox.root.user, world.sandbox.root.password)
    response = world.api.kill(world.token(ADMIN), world.path(), [dba.id])
    assert response.json()["processes_killed"] == [dba.id]


def test_twenty_ids_is_the_limit(world: World, sessions: Sessions) -> None:
    victims = open_app_sessions(world.sandbox, sessions, 20)
    token = world.token(ADMIN)
    too_many = world.api.kill(token, world.path(), [s.id for s in victims] + [1])
    assert too_many.status_code == 400
    assert too_many.json()["error_code"] == "DBS.200001"
    assert all(s.alive() for s in victims)  # nothing killed on a refused call

    response = world.api.kill(token, world.path(), [s.id for s in victims])
    assert response.json()["processes_killed"] == [s.id for s in victims]


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json;charset=utf-8", "application/json; charset=UTF-8", None],
)
def test_json_with_or_without_content_type_is_accepted(
    world: World, sessions: Sessions, content_type: str | None
) -> None:
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]
    body = f'{{"processes": [{victim.id}]}}'.encode()
    response = world.api.kill(world.token(ADMIN), world.path(), body=body, content_type=content_type)
    assert response.json() == {"processes_killed": [victim.id], "processes_not_found": []}


def test_unknown_extra_keys_are_ignored(world: World, sessions: Sessions) -> None:
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]
    body = f'{{"processes": [{victim.id}], "force": true, "reason": "x"}}'.encode()
    assert world.api.kill(world.token(ADMIN), world.path(), body=body).json()["processes_killed"] == [
        victim.id
    ]


def test_readonly_role_is_refused_a_kill_and_nothing_dies(world: World, sessions: Sessions) -> None:
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]
    for language, text in (
        ("en-us", "The DB instance ID or user ID may be null"),
        ("zh-cn", "实例ID和用户ID可能为空"),
    ):
        response = world.api.kill(world.token(READONLY), world.path(), [victim.id], language=language)
        assert response.status_code == 403
        assert response.json()["error_code"] == "DBS.200010"
        assert response.json()["error_msg"].startswith(text)
    assert victim.alive()

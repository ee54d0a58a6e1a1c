"""Extensions on real nodes: filtered listing, kill with reasons, kill-query, dry runs, kill by filter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import World, open_app_sessions
from support.client import Api
from support.inprocess import InProcessWorld
from support.personas import ADMIN, READONLY, Persona
from support.poll import eventually
from support.service import extra_node
from support.sessions import (
    INNODB_CACHE_POLL,
    Session,
    Sessions,
    thread_ids,
    wait_for_state,
    wait_gone,
    wait_seconds_in_state,
)
from taurus_sessions.inventory.audit_events import AuditQuery
from taurus_sessions.sandbox.instance import APP_DATABASE, Account


def ids_of(response: httpx.Response) -> set[int]:
    assert response.status_code == 200, response.text
    return {p["id"] for p in response.json()["processes"]}


def kill_ext(
    world: World, body: dict[str, Any], who: Persona = ADMIN, path: str | None = None
) -> httpx.Response:
    return world.api.http.post(
        (path or world.path()) + "/kill", json=body, headers={"X-Auth-Token": world.token(who)}
    )


def kill_filter(world: World, body: dict[str, Any], who: Persona = ADMIN) -> httpx.Response:
    return world.api.http.post(
        world.path() + "/kill-by-filter", json=body, headers={"X-Auth-Token": world.token(who)}
    )


def outcomes(response: httpx.Response) -> dict[int, str]:
    assert response.status_code == 200, response.text
    return {r["id"]: r["outcome"] for r in response.json()["results"]}


# -- filtered listing -------------------------------------------------------------------------
def test_each_filter_narrows_the_list(world: World, sessions: Sessions, reporter: Account) -> None:
    primary = world.sandbox.primary
    app_idle, app_busy = open_app_sessions(world.sandbox, sessions, 2)
    rep = sessions.open(primary, reporter.user, reporter.password, None)
    app_busy.run_async("SELECT SLEEP(30) /* nightly-report */")
    wait_for_state(primary, app_busy.id, "Query")
    token, path = world.token(ADMIN), world.path()

    assert {app_idle.id, app_busy.id} <= ids_of(world.api.list(token, path, user=world.sandbox.app.user))
    assert rep.id not in ids_of(world.api.list(token, path, user=world.sandbox.app.user))
    assert ids_of(world.api.list(token, path, user="report*")) >= {rep.id}
    assert app_idle.id not in ids_of(world.api.list(token, path, user="report*"))
    assert ids_of(world.api.list(token, path, user="SHOP_APP")) == set()  # account names are case-sensitive
    assert rep.id in ids_of(world.api.list(token, path, user="r?porter"))
    assert app_busy.id in ids_of(world.api.list(token, path, host="127.0.0.1:*"))
    assert ids_of(world.api.list(token, path, host="10.*")) == set()
    by_db = ids_of(world.api.list(token, path, db=APP_DATABASE))
    assert {app_idle.id, app_busy.id} <= by_db and rep.id not in by_db
    running = ids_of(world.api.list(token, path, command="Query"))
    assert app_busy.id in running and app_idle.id not in running
    assert app_busy.id in ids_of(world.api.list(token, path, command="query"))  # case-insensitive
    assert ids_of(world.api.list(token, path, state="User sleep")) >= {app_busy.id}
    assert ids_of(world.api.list(token, path, info="nightly-report")) == {app_busy.id}
    assert ids_of(world.api.list(token, path, info="SLEEP(*) /*")) == {app_busy.id}
    assert ids_of(world.api.list(token, path, info="100%")) == set()  # % is literal, not a wildcard
    combined = ids_of(world.api.list(token, path, user=world.sandbox.app.user, command="Sleep"))
    assert app_idle.id in combined and app_busy.id not in combined


def test_min_time_sort_order_and_stats(
    in_process: InProcessWorld, sessions: Sessions, reporter: Account
) -> None:
    world = in_process
    old = open_app_sessions(world.sandbox, sessions, 1)[0]
    # TIME is the node's, in whole seconds: 2 for `old`, while `fresh`, opened now, shows 0 or 1
    wait_seconds_in_state(world.sandbox.primary, old.id, 2)
    fresh = open_app_sessions(world.sandbox, sessions, 1)[0]
    rep = sessions.open(world.sandbox.primary, reporter.user, reporter.password, None)
    token, path = world.token(ADMIN), world.path()

    aged = ids_of(world.api.list(token, path, min_time=2, user=world.sandbox.app.user))
    assert old.id in aged and fresh.id not in aged

    by_time = world.api.list(token, path, sort="time", order="desc").json()["processes"]
    times = [p["time"] for p in by_time]
    assert times == sorted(times, reverse=True)
    by_user = world.api.list(token, path, sort="user").json()["processes"]
    assert [p["user"] for p in by_user] == sorted(p["user"] for p in by_user)
    descending_ids = [p["id"] for p in world.api.list(token, path, order="desc").json()["processes"]]
    assert descending_ids == sorted(descending_ids, reverse=True)

    page = world.api.list(token, path, stats="true").json()
    stats = page["stats"]
    assert stats["user"][world.sandbox.app.user] >= 2 and stats["user"][reporter.user] >= 1
    assert stats["host"]["127.0.0.1"] == page["total_count"]  # per machine: the port is dropped
    assert stats["db"][APP_DATABASE] >= 2 and stats["db"][""] >= 1
    assert sum(stats["command"].values()) == page["total_count"]
    assert rep.id in ids_of(world.api.list(token, path))


def test_paging_stays_stable_under_a_filter(world: World, sessions: Sessions, reporter: Account) -> None:
    mine = {s.id for s in open_app_sessions(world.sandbox, sessions, 5)}
    for _ in range(3):
        sessions.open(world.sandbox.primary, reporter.user, reporter.password, None)
    token, path = world.token(ADMIN), world.path()
    user = world.sandbox.app.user
    total = world.api.list(token, path, user=user).json()["total_count"]
    seen: list[int] = []
    for offset in range(0, total, 2):
        page = world.api.list(token, path, user=user, offset=offset, limit=2).json()
        assert page["total_count"] == total
        seen.extend(p["id"] for p in page["processes"])
    assert seen == sorted(seen) and len(seen) == total and mine <= set(seen)


def test_idle_in_transaction(world: World, sessions: Sessions) -> None:
    idle_trx, idle_plain, busy = open_app_sessions(world.sandbox, sessions, 3)
    idle_trx.execute("BEGIN")
    idle_trx.execute("SELECT * FROM orders WHERE id = 2 FOR UPDATE")
    busy.run_async("SELECT SLEEP(30)")
    wait_for_state(world.sandbox.primary, busy.id, "Query")

    found = ids_of(world.api.list(world.token(ADMIN), world.path(), idle_in_trx="true"))

    assert idle_trx.id in found
    assert idle_plain.id not in found and busy.id not in found
    idle_trx.execute("ROLLBACK")
    eventually(
        lambda: (
            idle_trx.id not in ids_of(world.api.list(world.token(ADMIN), world.path(), idle_in_trx="true"))
        ),
        timeout=2,
        interval=INNODB_CACHE_POLL,
        message="the rolled back transaction to leave the list",
    )


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "host"},
        {"order": "up"},
        {"min_time": -1},
        {"idle_in_trx": "maybe"},
        {"stats": "2"},
        {"user": "x" * 2000},
    ],
)
def test_bad_filter_values_are_parameter_errors(world: World, params: dict[str, Any]) -> None:
    response = world.api.list(world.token(ADMIN), world.path(), **params)
    assert response.status_code == 400 and response.json()["error_code"] == "DBS.200001"


def test_filters_need_only_the_list_right(world: World) -> None:
    assert (
        world.api.list(world.token(READONLY), world.path(), command="Query", stats="true").status_code == 200
    )


# -- kill with reasons ------------------------------------------------------------------------
def test_reasons_per_id(world: World, sessions: Sessions, metric_session: Session) -> None:
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]
    internal = min(thread_ids(world.sandbox.primary, "USER = 'rdsMetric'"))

    response = kill_ext(world, {"processes": [victim.id, internal, 999999999, victim.id]})

    assert outcomes(response) == {victim.id: "killed", internal: "internal", 999999999: "not_found"}
    body = response.json()
    assert body["mode"] == "connection" and body["dry_run"] is False
    assert [r["id"] for r in body["results"]] == [victim.id, internal, 999999999]
    killed = body["results"][0]["process"]
    assert killed["user"] == world.sandbox.app.user and killed["db"] == APP_DATABASE
    assert "process" not in body["results"][1]  # nothing about an internal thread is revealed
    assert body["summary"]["killed"] == 1 and body["summary"]["internal"] == 1
    assert wait_gone(world.sandbox.primary, {victim.id}) == set()
    assert metric_session.alive()


def test_kill_query_stops_the_statement_and_keeps_the_connection(world: World, sessions: Sessions) -> None:
    busy = open_app_sessions(world.sandbox, sessions, 1)[0]
    busy.run_async("SELECT SLEEP(60)")
    wait_for_state(world.sandbox.primary, busy.id, "Query")

    response = kill_ext(world, {"processes": [busy.id], "mode": "query"})

    assert outcomes(response) == {busy.id: "killed"}
    assert response.json()["mode"] == "query"
    assert busy.thread is not None
    busy.thread.join(10)
    assert not busy.thread.is_alive()  # the statement ended
    assert busy.alive()  # the connection lives on
    assert busy.execute("SELECT 41 + 1") == ((42,),)
    assert busy.id in thread_ids(world.sandbox.primary)


def test_dry_run_kills_nothing_and_needs_only_the_list_right(world: World, sessions: Sessions) -> None:
    victims = open_app_sessions(world.sandbox, sessions, 2)
    ids = [s.id for s in victims]
    for who in (ADMIN, READONLY):
        response = kill_ext(world, {"processes": [*ids, 31337], "dry_run": True}, who=who)
        assert outcomes(response) == {ids[0]: "would_kill", ids[1]: "would_kill", 31337: "not_found"}
        assert response.json()["dry_run"] is True
    assert all(s.alive() for s in victims)
    refused = kill_ext(world, {"processes": ids}, who=READONLY)
    assert refused.status_code == 403
    assert all(s.alive() for s in victims)


def test_identity_guard(world: World, sessions: Sessions, reporter: Account) -> None:
    primary = world.sandbox.primary
    app, busy = open_app_sessions(world.sandbox, sessions, 2)
    busy.run_async("SELECT SLEEP(60) /* batch 7 */")
    wait_for_state(primary, busy.id, "Query")
    rep = sessions.open(primary, reporter.user, reporter.password, None)

    response = kill_ext(
        world,
        {
            "processes": [
                {"id": app.id, "user": "someone_else"},  # the id is now another account's session
                {"id": busy.id, "info": "SELECT SLEEP(60) /* batch 6 */"},  # a different statement now
                {"id": rep.id, "user": reporter.user, "host": rep_host(world, rep.id), "command": "Sleep"},
            ]
        },
    )

    results = {r["id"]: r for r in response.json()["results"]}
    assert results[app.id]["outcome"] == "changed" and results[app.id]["changed"] == ["user"]
    assert results[app.id]["process"]["user"] == world.sandbox.app.user  # what it is now
    assert results[busy.id]["outcome"] == "changed" and results[busy.id]["changed"] == ["info"]
    assert results[rep.id]["outcome"] == "killed"
    assert app.alive()
    assert busy.id in thread_ids(primary, "COMMAND = 'Query'")  # still running its statement
    assert wait_gone(primary, {rep.id}) == set()


def rep_host(world: World, thread_id: int) -> str:
    return world.sandbox.primary.sql(
        f"SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = {thread_id}"
    )[0][0]


@pytest.fixture
def limited_node(world: World) -> Iterator[str]:
    """The same primary through an account that may see sessions (PROCESS) but not kill them."""
    world.sandbox.primary.sql(
        "CREATE USER IF NOT EXISTS 'watcher'@'%' IDENTIFIED BY 'watcher-password-1';\n"
        "GRANT PROCESS ON *.* TO 'watcher'@'%';"
    )

    watcher = extra_node(
        world.service, world.main.instance_id, name="watcher", port=world.sandbox.primary.port,
        user="watcher", password="watcher-password-1",
    )  # fmt: skip
    with watcher as node_id:
        yield Api.processes_path(world.main.project_id, world.main.instance_id, node_id)


def test_a_kill_the_node_refuses_is_denied(world: World, sessions: Sessions, limited_node: str) -> None:
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]
    assert outcomes(kill_ext(world, {"processes": [victim.id]}, path=limited_node)) == {victim.id: "denied"}
    faithful = world.api.kill(world.token(ADMIN), limited_node, [victim.id])
    assert faithful.json() == {"processes_killed": [], "processes_not_found": [victim.id]}
    assert victim.alive()


def test_the_id_cap_is_the_operators(world: World) -> None:
    too_many = kill_ext(world, {"processes": list(range(1, 22))})
    assert too_many.status_code == 400 and too_many.json()["error_code"] == "DBS.200001"


@pytest.mark.parametrize(
    "body",
    [
        {"processes": [1], "mode": "hard"},
        {"processes": [1], "dry_run": "yes"},
        {"processes": [{"user": "x"}]},
        {"processes": [{"id": 1, "user": 5}]},
        {"processes": []},
        {"processes": [True]},
        {"mode": "query"},
    ],
)
def test_bad_kill_bodies(world: World, body: dict[str, Any]) -> None:
    response = kill_ext(world, body)
    assert response.status_code == 400 and response.json()["error_code"] == "DBS.200001"


# -- kill by filter ---------------------------------------------------------------------------
def test_dry_run_returns_exactly_the_victims(world: World, sessions: Sessions, reporter: Account) -> None:
    reps = [sessions.open(world.sandbox.primary, reporter.user, reporter.password, None) for _ in range(3)]
    open_app_sessions(world.sandbox, sessions, 2)

    response = kill_filter(world, {"filter": {"user": reporter.user}, "dry_run": True})

    body = response.json()
    assert outcomes(response) == {s.id: "would_kill" for s in reps}
    assert body["matched"] == 3 and body["dry_run"] is True
    assert all(s.alive() for s in reps)


def test_kill_by_filter_spares_everything_else(
    world: World, sessions: Sessions, reporter: Account, metric_session: Session
) -> None:
    primary = world.sandbox.primary
    reps = [sessions.open(primary, reporter.user, reporter.password, None) for _ in range(4)]
    bystanders = open_app_sessions(world.sandbox, sessions, 2)
    internal_before = thread_ids(primary, "USER IN ('rdsMetric', 'rdsAdmin', 'event_scheduler', 'rdsRepl')")

    response = kill_filter(world, {"filter": {"user": reporter.user, "command": "Sleep"}})

    assert outcomes(response) == {s.id: "killed" for s in reps}
    assert wait_gone(primary, {s.id for s in reps}) == set()
    assert all(s.alive() for s in bystanders)
    assert metric_session.alive()
    assert internal_before <= thread_ids(primary)


def test_a_filter_that_matches_internal_threads_still_spares_them(
    world: World, sessions: Sessions, metric_session: Session
) -> None:
    """command=Sleep matches the idle rdsMetric and rdsAdmin sessions too; they must survive."""
    primary = world.sandbox.primary
    internal = thread_ids(primary, "USER IN ('rdsMetric', 'rdsAdmin') AND COMMAND = 'Sleep'")
    assert internal
    response = kill_filter(world, {"filter": {"command": "Sleep", "user": "rds*"}, "dry_run": True})
    assert response.json()["matched"] == 0
    assert internal <= thread_ids(primary)


def test_victim_choice_and_cap(world: World, sessions: Sessions, reporter: Account) -> None:
    primary = world.sandbox.primary
    oldest = sessions.open(primary, reporter.user, reporter.password, None)
    wait_seconds_in_state(primary, oldest.id, 1)  # older than the others by the node's TIME, not only by id
    others = [sessions.open(primary, reporter.user, reporter.password, None) for _ in range(3)]
    flt = {"user": reporter.user}

    only_oldest = kill_filter(world, {"filter": flt, "victims": "oldest", "dry_run": True})
    assert list(outcomes(only_oldest)) == [oldest.id]
    but_oldest = kill_filter(world, {"filter": flt, "victims": "all-but-oldest", "dry_run": True})
    assert set(outcomes(but_oldest)) == {s.id for s in others}
    capped = kill_filter(world, {"filter": flt, "max_victims": 2, "dry_run": True})
    assert len(outcomes(capped)) == 2 and capped.json()["matched"] == 4
    assert next(iter(outcomes(capped))) == oldest.id  # oldest first

    killed = kill_filter(world, {"filter": flt, "victims": "all-but-oldest"})
    assert set(outcomes(killed)) == {s.id for s in others}
    assert oldest.alive()


@pytest.mark.parametrize(
    "body",
    [
        {"filter": {}},
        {"filter": {"idle_in_trx": False}},
        {},
        {"filter": {"user": "x"}, "victims": "some"},
        {"filter": {"user": "x"}, "max_victims": 0},
        {"filter": {"min_time": "5"}},
        {"filter": "user=x"},
    ],
)
def test_bad_filter_bodies(world: World, body: dict[str, Any]) -> None:
    response = kill_filter(world, body)
    assert response.status_code == 400 and response.json()["error_code"] == "DBS.200001"


def test_kill_by_filter_needs_the_delete_right_unless_dry(
    world: World, sessions: Sessions, reporter: Account
) -> None:
    rep = sessions.open(world.sandbox.primary, reporter.user, reporter.password, None)
    assert kill_filter(world, {"filter": {"user": reporter.user}}, who=READONLY).status_code == 403
    dry = kill_filter(world, {"filter": {"user": reporter.user}, "dry_run": True}, who=READONLY)
    assert outcomes(dry) == {rep.id: "would_kill"}
    assert rep.alive()


def test_extension_kills_are_audited(world: World, sessions: Sessions, reporter: Account) -> None:
    rep = sessions.open(world.sandbox.primary, reporter.user, reporter.password, None)
    dry = kill_filter(world, {"filter": {"user": reporter.user}, "dry_run": True}, who=READONLY)
    real = kill_filter(world, {"filter": {"user": reporter.user}, "mode": "query"})

    def record(response: httpx.Response) -> Any:
        events, _ = world.service.inventory(
            lambda inv: inv.audit.query(AuditQuery(request_id=response.headers["x-request-id"]))
        )
        return events[0]

    dry_event, real_event = record(dry), record(real)
    assert (dry_event.action, dry_event.dry_run, dry_event.actor_name) == (
        "killByFilter",
        True,
        READONLY.display_name,
    )
    assert dry_event.results == [dict(dry_event.results[0], outcome="would_kill")]
    assert real_event.mode == "query" and real_event.requested["filter"] == {"user": reporter.user}
    assert [r["outcome"] for r in real_event.results] == ["killed"]
    assert rep.alive()  # kill-query on an idle session leaves it connected

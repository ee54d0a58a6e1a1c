"""DAS's "Cloud DBA" operations through the official DAS SDK (huaweicloudsdkdas), AK/SK-signed and
with a token, against real MariaDB nodes: database users, sessions as those users, kills."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from huaweicloudsdkdas.v3 import (
    DasClient,
    DeleteDbUserRequest,
    DeleteProcessReqBody,
    DeleteProcessRequest,
    ListDbUsersRequest,
    ListProcessesRequest,
    RegisterDbUserRequest,
    RegisterDbUserRequestBody,
    ShowDbUserRequest,
    UpdateDbUserRequest,
    UpdateDbUserRequestBody,
)

from conftest import World, open_app_sessions
from support.das import Das, das_client, expect_das_error, make_key, register, registered
from support.personas import ADMIN, DOMAIN
from support.sessions import Sessions, thread_ids, wait_gone
from taurus_sessions.sandbox.instance import APP_DATABASE, Account


@pytest.fixture(scope="module")
def das(world: World) -> Iterator[Das]:
    yield from registered(world)


def ids_of(response: Any) -> list[int]:
    return [int(p.id) for p in response.processes]


# -- database users -------------------------------------------------------------------------------
def test_register_checks_the_password_on_the_node_and_never_returns_it(world: World, das: Das) -> None:
    sandbox = world.sandbox
    metric = sandbox.accounts["rdsMetric"]
    body = RegisterDbUserRequestBody(
        db_username=metric.user, db_user_password="Zq-not-it-91", datastore_type="mysql"
    )
    for language, text in (("en-us", "Failed to connect to the database."), ("zh-cn", "连接数据库异常。")):
        error = expect_das_error(
            partial(
                das.alice.register_db_user,
                RegisterDbUserRequest(instance_id=das.instance_id, body=body, x_language=language),
            ),
            400,
            "DAS.220001",
            text,
        )
        assert "Zq-not-it-91" not in error.error_msg and "password is wrong" in error.error_msg
    db_user_id = register(das.token, das.instance_id, metric.user, metric.password)  # by token this time
    try:
        assert len(db_user_id) == 36 and db_user_id.count("-") == 4
        shown = das.alice.show_db_user(ShowDbUserRequest(instance_id=das.instance_id, db_user_id=db_user_id))
        assert (shown.db_user.db_user_id, shown.db_user.db_username) == (db_user_id, metric.user)
        assert metric.password not in shown.raw_content.decode()
        expect_das_error(  # the same account twice for one instance
            lambda: register(das.alice, das.instance_id, metric.user, metric.password),
            400,
            "DAS.290003",
            "The database user is already registered",
        )
    finally:
        das.alice.delete_db_user(DeleteDbUserRequest(instance_id=das.instance_id, db_user_id=db_user_id))
    assert metric.password not in world.service.log_text()


def test_list_and_page_db_users(world: World, das: Das) -> None:
    everyone = das.alice.list_db_users(ListDbUsersRequest(instance_id=das.instance_id))
    assert everyone.total == 2 and isinstance(everyone.total, int)
    assert [u.db_user_id for u in everyone.db_users] == [das.dba, das.app]  # oldest first
    pages = [
        das.token.list_db_users(ListDbUsersRequest(instance_id=das.instance_id, offset=offset, limit=1))
        for offset in (0, 1, 2)
    ]
    assert [[u.db_username for u in page.db_users] for page in pages] == [
        [world.sandbox.root.user],
        [world.sandbox.app.user],
        [],
    ]
    assert {page.total for page in pages} == {2}
    by_name = das.rita.list_db_users(
        ListDbUsersRequest(instance_id=das.instance_id, db_username=world.sandbox.app.user)
    )
    assert (by_name.total, by_name.db_users[0].db_user_id) == (1, das.app)
    by_id = das.alice.list_db_users(ListDbUsersRequest(instance_id=das.instance_id, db_user_id=das.dba))
    assert [u.db_username for u in by_id.db_users] == [world.sandbox.root.user]
    # A registration belongs to its instance: the other project's instance has none.
    other = das_client(
        world.service.url, make_key(world.service.inventory, DOMAIN, "otto"), world.other.project_id
    )
    assert other.list_db_users(ListDbUsersRequest(instance_id=world.other.instance_id)).total == 0
    expect_das_error(
        lambda: other.show_db_user(
            ShowDbUserRequest(instance_id=world.other.instance_id, db_user_id=das.dba)
        ),
        400,
        "DAS.220003",
        "The database user does not exist.",
    )


def test_update_checks_the_new_password_and_delete_forgets(world: World, das: Das, reporter: Account) -> None:
    db_user_id = register(das.alice, das.instance_id, reporter.user, reporter.password)
    request = UpdateDbUserRequest(
        instance_id=das.instance_id,
        db_user_id=db_user_id,
        body=UpdateDbUserRequestBody(db_username=reporter.user, db_user_password="not-the-password"),
    )
    expect_das_error(lambda: das.alice.update_db_user(request), 400, "DAS.220001", "Failed to connect")
    request.body = UpdateDbUserRequestBody(db_username=reporter.user, db_user_password=reporter.password)
    assert das.alice.update_db_user(request).result == "OK"
    assert das.processes(db_user_id).count >= 0
    delete = DeleteDbUserRequest(instance_id=das.instance_id, db_user_id=db_user_id)
    assert das.alice.delete_db_user(delete).result == "OK"
    for call in (
        lambda: das.alice.delete_db_user(delete),
        lambda: das.alice.show_db_user(ShowDbUserRequest(instance_id=das.instance_id, db_user_id=db_user_id)),
        lambda: das.processes(db_user_id),
    ):
        expect_das_error(call, 400, "DAS.220003", "The database user does not exist.")


# -- sessions as the registered account ---------------------------------------------------------
def test_an_account_with_process_sees_every_session(
    world: World, das: Das, sessions: Sessions, reporter: Account
) -> None:
    mine = {s.id for s in open_app_sessions(world.sandbox, sessions, 3)}
    theirs = sessions.open(world.sandbox.primary, reporter.user, reporter.password, APP_DATABASE)
    page = das.processes(das.dba, limit=100)
    seen = {int(p.id): p for p in page.processes}
    assert mine | {theirs.id} <= set(seen)
    assert isinstance(page.count, int) and page.count == len(page.processes)
    sample = seen[min(mine)]
    assert (sample.user, sample.database, sample.command) == (world.sandbox.app.user, APP_DATABASE, "Sleep")
    assert sample.host.startswith("127.0.0.1:") and sample.time.isdigit()
    assert (sample.sql, sample.trx_executed_time) == ("", "0")
    # As DAS's own example shows, server threads are listed (and never killed, see below).
    scheduler = next(p for p in page.processes if p.user == "event_scheduler")
    assert scheduler.database == "--" and scheduler.command == "Daemon"
    # Filters are exact and combine; paging is by id with a stable count.
    filtered = das.processes(das.dba, user=world.sandbox.app.user, database=APP_DATABASE, limit=2)
    assert filtered.count >= 3 and len(filtered.processes) == 2
    assert {p.user for p in filtered.processes} == {world.sandbox.app.user}
    collected = ids_of(filtered)
    for offset in range(2, filtered.count, 2):
        collected += ids_of(
            das.processes(das.dba, user=world.sandbox.app.user, database=APP_DATABASE, offset=offset, limit=2)
        )
    assert collected == sorted(collected) and mine <= set(collected)
    assert das.processes(das.dba).count == das.processes(das.dba, limit=1).count  # default limit 20


def test_an_open_transaction_shows_its_age(world: World, das: Das, app_session: Any) -> None:
    app_session.execute("BEGIN")
    app_session.execute("UPDATE orders SET amount = amount WHERE id = 1")
    time.sleep(1.1)
    row = next(p for p in das.processes(das.dba, limit=100).processes if int(p.id) == app_session.id)
    assert int(row.trx_executed_time) >= 1
    app_session.execute("ROLLBACK")


def test_an_account_without_process_sees_only_its_own(
    world: World, das: Das, sessions: Sessions, reporter: Account
) -> None:
    mine = {s.id for s in open_app_sessions(world.sandbox, sessions, 2)}
    theirs = sessions.open(world.sandbox.primary, reporter.user, reporter.password, APP_DATABASE)
    page = das.processes(das.app, limit=100)
    assert {p.user for p in page.processes} == {world.sandbox.app.user}
    assert mine <= set(ids_of(page)) and theirs.id not in ids_of(page)
    assert page.count == len(page.processes)


def test_node_id_picks_the_replica(world: World, das: Das, sessions: Sessions) -> None:
    replica = open_app_sessions(world.sandbox, sessions, 1, replica=True)[0]
    on_replica = das.processes(das.dba, node_id=world.main.replica.node_id, limit=100)
    on_primary = das.processes(das.dba, limit=100)
    assert replica.id in ids_of(on_replica)
    assert any(p.command.startswith("Slave") for p in on_replica.processes)
    assert not any(p.command.startswith("Slave") for p in on_primary.processes)


def _kill(das: Das, client: DasClient | None = None, **body: Any) -> Any:
    request = DeleteProcessRequest(instance_id=das.instance_id, body=DeleteProcessReqBody(**body))
    return (client or das.alice).delete_process(request)


def test_kill_by_ids(world: World, das: Das, sessions: Sessions) -> None:
    victim, bystander = open_app_sessions(world.sandbox, sessions, 2)
    response = _kill(das, db_user_id=das.dba, process_ids=[str(victim.id), "987654321"])
    assert response.status_code == 200
    assert wait_gone(world.sandbox.primary, {victim.id}) == set()
    assert bystander.alive()


def test_kill_by_user_and_by_user_and_database(
    world: World, das: Das, sessions: Sessions, reporter: Account
) -> None:
    server = world.sandbox.primary
    reports = [sessions.open(server, reporter.user, reporter.password, APP_DATABASE) for _ in range(2)]
    in_shop = open_app_sessions(world.sandbox, sessions, 2)
    nowhere = sessions.open(server, world.sandbox.app.user, world.sandbox.app.password)  # no database
    _kill(das, db_user_id=das.dba, user=reporter.user)
    assert wait_gone(server, {s.id for s in reports}) == set()
    assert all(s.alive() for s in (*in_shop, nowhere))
    # Criteria combine with AND: shop_app's sessions in shop go, its session without one stays.
    _kill(das, db_user_id=das.dba, user=world.sandbox.app.user, database=APP_DATABASE)
    assert wait_gone(server, {s.id for s in in_shop}) == set()
    assert nowhere.alive()


def test_kill_by_database(world: World, das: Das, sessions: Sessions, reporter: Account) -> None:
    server = world.sandbox.primary
    victims = [
        *open_app_sessions(world.sandbox, sessions, 2),
        sessions.open(server, reporter.user, reporter.password, APP_DATABASE),
    ]
    elsewhere = sessions.open(server, world.sandbox.app.user, world.sandbox.app.password)
    _kill(das, db_user_id=das.dba, database=APP_DATABASE)
    assert wait_gone(server, {s.id for s in victims}) == set()
    assert elsewhere.alive()


def test_an_account_without_process_kills_only_its_own(
    world: World, das: Das, sessions: Sessions, reporter: Account
) -> None:
    server = world.sandbox.primary
    own = open_app_sessions(world.sandbox, sessions, 1)[0]
    theirs = sessions.open(server, reporter.user, reporter.password, APP_DATABASE)
    _kill(das, db_user_id=das.app, process_ids=[str(own.id), str(theirs.id)])
    assert wait_gone(server, {own.id}) == set()
    assert theirs.alive()
    _kill(das, db_user_id=das.app, user=reporter.user)  # sees none of them: kills none
    assert theirs.alive()


def test_internal_threads_are_never_killed(world: World, das: Das, metric_session: Any) -> None:
    server = world.sandbox.primary
    internal = thread_ids(server, "USER IN ('event_scheduler', 'rdsMetric')")
    assert metric_session.id in internal
    _kill(das, db_user_id=das.dba, process_ids=[str(i) for i in sorted(internal)])
    _kill(das, db_user_id=das.dba, user="rdsMetric")
    _kill(das, db_user_id=das.dba, user="event_scheduler")
    time.sleep(0.3)
    assert internal <= thread_ids(server)
    assert metric_session.alive()


def test_every_kill_is_audited_naming_the_database_user(world: World, das: Das, sessions: Sessions) -> None:
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]
    _kill(das, das.token, db_user_id=das.dba, process_ids=[str(victim.id)])
    response = world.api.http.get(
        f"/v3/{world.main.project_id}/audit-events",
        params={"action": "dasDeleteProcess", "limit": 100},
        headers={"X-Auth-Token": world.token(ADMIN)},
    )
    assert response.status_code == 200, response.text
    event = next(e for e in response.json()["events"] if any(r["id"] == victim.id for r in e["results"]))
    assert event["outcome"] == "ok" and event["actor_name"] == f"{DOMAIN}/alice"
    assert event["requested"]["db_user"] == world.sandbox.root.user
    assert event["requested"]["db_user_id"] == das.dba
    assert event["node_id"] == world.main.primary.node_id
    assert [r["outcome"] for r in event["results"]] == ["killed"]


def test_a_reader_may_list_but_not_kill_or_register(world: World, das: Das, app_session: Any) -> None:
    assert app_session.id in ids_of(
        das.rita.list_processes(
            ListProcessesRequest(instance_id=das.instance_id, db_user_id=das.dba, limit=100)
        )
    )
    for language, text in (("en-us", "Authentication failed."), ("zh-cn", "鉴权失败。")):
        expect_das_error(
            partial(
                das.rita.delete_process,
                DeleteProcessRequest(
                    instance_id=das.instance_id,
                    x_language=language,
                    body=DeleteProcessReqBody(db_user_id=das.dba, process_ids=[str(app_session.id)]),
                ),
            ),
            403,
            "DAS.200051",
            text,
        )
        expect_das_error(
            partial(register, das.rita, das.instance_id, "x", "y", x_language=language),
            403,
            "DAS.200051",
            text,
        )
    assert app_session.alive()
    denied = world.api.http.get(
        f"/v3/{world.main.project_id}/audit-events",
        params={"action": "dasDeleteProcess", "outcome": "refused", "limit": 100},
        headers={"X-Auth-Token": world.token(ADMIN)},
    ).json()["events"]
    assert any(e["error_code"] == "DAS.200051" and e["actor_name"] == f"{DOMAIN}/rita" for e in denied)


def test_password_reaches_no_log_line(world: World, das: Das) -> None:
    text = world.service.log_text()
    for account in (world.sandbox.root, world.sandbox.app):
        assert account.password not in text


def test_filters_with_any_characters_are_answered(world: World, das: Das) -> None:
    """Quotes, LIKE's own characters and characters beyond utf8mb3 reach the node only as values."""
    odd = "\U0001f600'\"%_\\"
    assert das.processes(das.dba, user=odd, database=odd).count == 0
    assert das.processes(das.app, user=odd).count == 0
    assert _kill(das, db_user_id=das.dba, user=odd, database=odd).status_code == 200


def test_the_openapi_document_answers_das_routes_with_das_codes(world: World) -> None:
    document = world.api.http.get("/openapi.json").json()
    routes = {
        operation["operationId"]: operation
        for operations in document["paths"].values()
        for operation in operations.values()
    }
    das_operations = (
        "RegisterDbUser",
        "ListDbUsers",
        "ShowDbUser",
        "UpdateDbUser",
        "DeleteDbUser",
        "ListProcesses",
        "DeleteProcess",
        "ListMetadataLocks",
        "ListInnodbLocks",
    )
    for name in das_operations:
        codes = " ".join(r["description"] for r in routes[name]["responses"].values() if "description" in r)
        assert "DAS.200100" in codes and "DAS.220003" in codes and "APIGW.0301" in codes, name
        assert "DBS." not in codes, name
    assert "DAS." not in str(routes["ListTaurusDbNodeProcesses"]["responses"])
    assert "event_scheduler" in routes["ListProcesses"]["description"]  # the decision, written down
    assert "AND" in routes["DeleteProcess"]["description"]

"""Realtime session collection (CollectRealtimeSession, ShowRealtimeSessionTaskStatus,
DownloadRealtimeSession) on a real node of its own, through the official SDK and signed raw calls:
each filter and sort checked against the node's own processlist and InnoDB transactions, the
parameters refused, the life of a collection (running, finished, error, expired), the caps."""

from __future__ import annotations

import contextlib
import csv
import io
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkgaussdb.v3 import (
    CollectRealtimeSessionRequest,
    DownloadRealtimeSessionRequest,
    GaussDBClient,
    RealtimeSessionRequest,
    ShowRealtimeSessionTaskStatusRequest,
)

from support.service import ServiceProcess, extra_node
from support.sessions import Session, Sessions, thread_ids
from taurus_sessions.auth.signing import sign_request
from taurus_sessions.errors import ApiError
from taurus_sessions.ids import new_instance_id, new_node_id
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.inventory.models import RealtimeSessionJob, utcnow
from taurus_sessions.nodes.realtime import COLUMNS
from taurus_sessions.sandbox.instance import APP_DATABASE, Account, SandboxInstance
from taurus_sessions.sandbox.mariadb import free_port
from taurus_sessions.sandbox.registration import Registration, create_user, register_instance

PASSWORD = "correct horse battery staple"
DOMAIN = "acme"
RESULT_SECONDS = 4  # how long a file is kept, here
# A second account whose name differs from the application's in case only: MariaDB's account
# names are case-sensitive, and so is the user filter.
OTHER = Account("Shop_App", "other-password-1")
INTERNAL_USERS = ("rdsAdmin", "rdsMetric", "event_scheduler", "system user")


@dataclass
class Site:
    nodes: SandboxInstance
    service: ServiceProcess
    main: Registration
    spare: Registration  # another project: its caps are its own
    keys: dict[str, tuple[str, str]]

    def node_path(self, node_id: str | None = None, instance_id: str | None = None) -> str:
        instance = instance_id or self.main.instance_id
        return f"/v3/{self.main.project_id}/instances/{instance}/nodes/{node_id or self.main.primary.node_id}"

    def sdk(self, user: str = "alice") -> GaussDBClient:
        ak, sk = self.keys[user]
        project = self.spare.project_id if user == "sam" else self.main.project_id
        config = HttpConfig.get_default_config()
        config.timeout = (5, 60)
        builder = GaussDBClient.new_builder().with_http_config(config).with_endpoints([self.service.url])
        return builder.with_credentials(BasicCredentials(ak, sk, project)).build()

    def signed(
        self,
        method: str,
        path: str,
        content: bytes = b"",
        *,
        content_type: str | None = "application/json",
        as_user: str = "alice",
        language: str = "en-us",
        **query: str,
    ) -> httpx.Response:
        """A raw call signed as the SDKs sign (for bodies and ids the SDK would not send)."""
        ak, sk = self.keys[as_user]
        url = httpx.URL(self.service.url + path, params=query)
        headers = {"X-Project-Id": path.split("/")[2], "X-Language": language}
        if content_type is not None:
            headers["Content-Type"] = content_type
        signed = sign_request(method, str(url), headers, content, ak, sk)
        return httpx.request(method, url, content=content, headers=signed, timeout=60)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    nodes = SandboxInstance.start(tmp_path_factory.mktemp("realtime-node"), with_replica=False)
    nodes.primary.sql(
        f"CREATE USER '{OTHER.user}'@'%' IDENTIFIED BY '{OTHER.password}';\n"
        f"GRANT SELECT ON {APP_DATABASE}.* TO '{OTHER.user}'@'%';"
    )
    service = ServiceProcess(
        tmp_path_factory.mktemp("realtime-service"),
        TAURUS_REALTIME_SESSION_RESULT_SECONDS=str(RESULT_SECONDS),
    )

    async def populate(inventory: Inventory) -> tuple[Registration, Registration, dict[str, tuple[str, str]]]:
        main = await register_instance(inventory, nodes, project_name="cn-realtime-1", domain=DOMAIN)
        spare = await register_instance(
            inventory, nodes, project_name="cn-realtime-2", domain=DOMAIN, instance_name="spare"
        )
        keys = {}
        users = (("alice", "admin", main), ("rita", "readonly", main), ("audrey", "auditor", main))
        for user, role, registration in (*users, ("sam", "admin", spare)):
            user_id = await create_user(inventory, DOMAIN, user, PASSWORD, registration.project_id, role)
            key, sk = await inventory.access_keys.create(user_id)
            keys[user] = (key.ak, sk.get_secret_value())
        return main, spare, keys

    main, spare, keys = service.inventory(populate)
    service.start()
    yield Site(nodes, service, main, spare, keys)
    service.stop()
    nodes.stop()


# -- the sessions a collection is checked against --------------------------------------------------
LONG_SLEEP = "SELECT SLEEP(600) AS rt_long"
# LIKE's own characters in the statement: sql_key must match them as themselves
SHORT_SLEEP = "SELECT SLEEP(600) AS rt_short, 'Marker_%_!' AS tag"
WAITING_UPDATE = "UPDATE orders SET amount = amount + 2 WHERE id = 1"


@dataclass
class Scene:
    idle: Session  # the application's account, in the shop database, idle
    other: Session  # the other account, no database, idle
    long_sleep: Session  # a statement running since the start
    short_sleep: Session  # a statement running since three seconds later
    holder: Session  # an idle session with a transaction holding row locks (from the start)
    second: Session  # a later transaction, on two tables
    waiter: Session  # a statement waiting for the holder's row lock
    internal: Session  # rdsMetric running a statement: never listed
    opened: Sessions = field(default_factory=Sessions)

    @property
    def user_ids(self) -> set[int]:
        return {s.id for s in self.all_users}

    @property
    def all_users(self) -> list[Session]:
        return [
            self.idle,
            self.other,
            self.long_sleep,
            self.short_sleep,
            self.holder,
            self.second,
            self.waiter,
        ]


@pytest.fixture(scope="module")
def scene(site: Site) -> Iterator[Scene]:
    opened = Sessions()
    node = site.nodes.primary
    app = site.nodes.app

    def app_session(database: str | None = APP_DATABASE) -> Session:
        return opened.open(node, app.user, app.password, database)

    idle, other = app_session(), opened.open(node, OTHER.user, OTHER.password)
    holder = app_session()
    holder.execute("BEGIN")
    holder.execute("UPDATE orders SET amount = amount + 1 WHERE id IN (1, 2)")
    long_sleep = app_session()
    long_sleep.run_async(LONG_SLEEP)
    metric = site.nodes.accounts["rdsMetric"]
    internal = opened.open(node, metric.user, metric.password)
    internal.run_async("SELECT SLEEP(600) AS rt_internal")
    time.sleep(3.0)
    second = app_session()
    second.execute("BEGIN")
    second.execute("UPDATE jobs SET name = 'weekly report' WHERE id = 1")
    second.execute("SELECT * FROM orders WHERE id = 3 FOR UPDATE")
    short_sleep = app_session()
    short_sleep.run_async(SHORT_SLEEP)
    waiter = app_session()
    waiter.execute("SET SESSION innodb_lock_wait_timeout = 1000")  # waits as long as the module runs
    waiter.run_async(WAITING_UPDATE)
    time.sleep(1.2)  # the later ones a second old; InnoDB's transaction tables refreshed
    scene = Scene(idle, other, long_sleep, short_sleep, holder, second, waiter, internal, opened)
    yield scene
    holder.execute("ROLLBACK")
    opened.close_all()


# -- calls ------------------------------------------------------------------------------------------
def collect(site: Site, body: RealtimeSessionRequest | None = None, node_id: str | None = None) -> str:
    request = CollectRealtimeSessionRequest(
        instance_id=site.main.instance_id, node_id=node_id or site.main.primary.node_id, body=body
    )
    request_id = site.sdk().collect_realtime_session(request).request_id
    assert isinstance(request_id, str) and uuid.UUID(request_id)
    return request_id


def status(site: Site, request_id: str, node_id: str | None = None) -> str:
    request = ShowRealtimeSessionTaskStatusRequest(
        instance_id=site.main.instance_id, node_id=node_id or site.main.primary.node_id, request_id=request_id
    )
    return str(site.sdk().show_realtime_session_task_status(request).status)


def settled(site: Site, request_id: str, node_id: str | None = None, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while (state := status(site, request_id, node_id)) == "running":
        assert time.monotonic() < deadline, "the collection is still running"
        time.sleep(0.05)
    return state


def download(site: Site, request_id: str) -> bytes:
    request = DownloadRealtimeSessionRequest(
        instance_id=site.main.instance_id, node_id=site.main.primary.node_id, request_id=request_id
    )
    response = site.sdk().download_realtime_session(request)
    chunks: list[bytes] = []
    response.consume_download_stream(lambda stream: chunks.extend(stream.iter_content(65536)))
    return b"".join(chunks)


def parse(body: bytes) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(body.decode("utf-8")))
    rows = list(reader)
    assert reader.fieldnames == list(COLUMNS)
    return rows


def snapshot(site: Site, **fields: Any) -> list[dict[str, str]]:
    """Collect with these fields (through the SDK), wait for it, and read the file."""
    request_id = collect(site, RealtimeSessionRequest(**fields))
    assert settled(site, request_id) == "finished"
    return parse(download(site, request_id))


def ids_of(rows: list[dict[str, str]]) -> list[int]:
    return [int(row["id"]) for row in rows]


def node_ids(site: Site, where: str) -> set[int]:
    """The node's own answer, for the scene's user sessions only."""
    return thread_ids(site.nodes.primary, f"USER IN ('shop_app', 'Shop_App') AND ({where})")


def refused(response: httpx.Response, status_code: int, code: str, language: str = "en-us") -> str:
    assert response.status_code == status_code, response.text
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    body = response.json()
    assert body["error_code"] == code
    row = ApiError.registry[code]
    assert body["error_msg"].startswith(row.zh if language == "zh-cn" else row.en)
    return str(body["error_msg"])


# -- what a collection holds -------------------------------------------------------------------------
def test_total_is_every_user_session_with_its_innodb_transaction(site: Site, scene: Scene) -> None:
    rows = parse(download(site, settled_id(site, collect(site))))  # no body: the SDK sends none
    by_id = {int(row["id"]): row for row in rows}
    assert ids_of(rows) == sorted(scene.user_ids)  # by id, ascending: the defaults
    internal = thread_ids(site.nodes.primary, f"USER IN ({', '.join(repr(u) for u in INTERNAL_USERS)})")
    assert scene.internal.id in internal and not internal & set(by_id)

    ids = ", ".join(str(i) for i in by_id)
    node = {
        int(row[0]): row[1:]
        for row in site.nodes.primary.sql(
            "SELECT p.ID, p.USER, p.HOST, IFNULL(p.DB, ''), p.COMMAND, p.TIME_MS / 1000, "
            "IFNULL(trx.trx_id, ''), IFNULL(trx.trx_state, ''), IFNULL(trx.trx_rows_locked, ''), "
            "IFNULL(trx.trx_tables_locked, ''), IFNULL(trx.trx_rows_modified, ''), "
            "IFNULL(TIMESTAMPDIFF(SECOND, trx.trx_started, NOW()), '') "
            "FROM information_schema.PROCESSLIST p LEFT JOIN information_schema.INNODB_TRX trx "
            f"ON trx.trx_mysql_thread_id = p.ID WHERE p.ID IN ({ids})"
        )
    }
    for thread_id, row in by_id.items():
        user, host, db, command, seconds, trx_id, trx_state, locked, tables, modified, age = node[thread_id]
        assert (row["user"], row["host"], row["db"], row["command"]) == (user, host, db, command)
        assert abs(float(row["state_duration"]) - float(seconds)) < 2 and int(row["time"]) >= 0
        assert (row["trx_id"], row["trx_state"]) == (trx_id, trx_state)
        assert (row["trx_lock_rows"], row["trx_lock_tables"], row["trx_update_rows"]) == (
            locked,
            tables,
            modified,
        )
        if age:
            assert abs(int(row["trx_executed_time"]) - int(age)) <= 1 and row["trx_started"]
        else:
            assert row["trx_executed_time"] == row["trx_started"] == row["trx_lock_duration"] == ""

    holder, second, waiter = by_id[scene.holder.id], by_id[scene.second.id], by_id[scene.waiter.id]
    assert (holder["command"], holder["info"], holder["trx_state"]) == ("Sleep", "", "RUNNING")
    assert holder["trx_update_rows"] == "2" and int(holder["trx_lock_rows"]) >= 2
    assert holder["trx_lock_duration"] == "0"  # holds locks, waits for none
    assert int(holder["trx_executed_time"]) >= 4
    assert second["trx_lock_tables"] == "2" and second["trx_update_rows"] == "1"
    assert (waiter["command"], waiter["info"], waiter["trx_state"]) == ("Query", WAITING_UPDATE, "LOCK WAIT")
    assert int(waiter["trx_lock_duration"]) >= 1 and waiter["trx_update_rows"] == "0"
    assert by_id[scene.long_sleep.id]["info"] == LONG_SLEEP
    assert float(by_id[scene.long_sleep.id]["state_duration"]) >= 4
    assert by_id[scene.short_sleep.id]["info"] == SHORT_SLEEP
    assert by_id[scene.idle.id]["trx_id"] == "" and by_id[scene.other.id]["db"] == ""


def settled_id(site: Site, request_id: str) -> str:
    assert settled(site, request_id) == "finished"
    return request_id


def test_no_body_an_empty_body_and_an_empty_object_mean_the_defaults(site: Site, scene: Scene) -> None:
    path = site.node_path() + "/realtime-session"
    answers = [
        site.signed("POST", path, b""),  # what the SDK sends for body=None
        site.signed("POST", path, b"", content_type=None),
        site.signed("POST", path, b"{}"),
        site.signed("POST", path, b'{"unknown": 1}'),  # unknown keys are ignored
    ]
    request_ids = []
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json;charset=UTF-8"
        (request_id,) = answer.json().values()
        request_ids.append(request_id)
    request_ids.append(collect(site, RealtimeSessionRequest()))  # the SDK's {}
    for request_id in request_ids:
        assert ids_of(parse(download(site, settled_id(site, request_id)))) == sorted(scene.user_ids)

    stored = site.service.inventory(lambda inv: inv.realtime_sessions.get(request_ids[0]))
    assert stored is not None and stored.request == {
        "filter": "total",
        "slow_process_threshold": 10,
        "user": None,
        "host": None,
        "db": None,
        "command": None,
        "sql_key": None,
        "sort_key": "id",
        "sort_dir": "asc",
    }
    assert stored.created_by == f"{DOMAIN}/alice" and stored.row_count == len(scene.user_ids)


def _seconds(site: Site, expression: str, sessions: list[Session]) -> list[int]:
    ids = ", ".join(str(s.id) for s in sessions)
    rows = site.nodes.primary.sql(
        f"SELECT {expression} FROM information_schema.PROCESSLIST p LEFT JOIN "
        "information_schema.INNODB_TRX trx ON trx.trx_mysql_thread_id = p.ID "
        f"WHERE p.ID IN ({ids}) ORDER BY p.ID"
    )
    return [int(row[0]) for row in rows]


def test_active_slow_and_long_sessions(site: Site, scene: Scene) -> None:
    active = {scene.long_sleep.id, scene.short_sleep.id, scene.waiter.id}
    assert set(ids_of(snapshot(site, filter="active"))) == active == node_ids(site, "COMMAND <> 'Sleep'")
    assert set(ids_of(snapshot(site, filter="slow", slow_process_threshold=1))) == active

    # a threshold between the statements begun first and those begun three seconds later
    late = max(_seconds(site, "p.TIME", [scene.short_sleep, scene.waiter]))
    threshold = late + 2
    assert _seconds(site, "p.TIME", [scene.long_sleep])[0] >= threshold
    slow = set(ids_of(snapshot(site, filter="slow", slow_process_threshold=threshold)))
    assert slow == {scene.long_sleep.id}

    trx_age = "TIMESTAMPDIFF(SECOND, trx.trx_started, NOW())"
    late = max(_seconds(site, trx_age, [scene.second, scene.waiter]))
    assert _seconds(site, trx_age, [scene.holder])[0] >= late + 2
    long = set(ids_of(snapshot(site, filter="long", slow_process_threshold=late + 2)))
    assert long == {scene.holder.id}  # idle, yet in a transaction for long
    every_trx = {scene.holder.id, scene.second.id, scene.waiter.id}
    assert set(ids_of(snapshot(site, filter="long", slow_process_threshold=1))) == every_trx
    assert (
        node_ids(site, "ID IN (SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX)") == every_trx
    )
    assert snapshot(site, filter="long", slow_process_threshold=86400) == []


def _host_of(site: Site, session: Session) -> str:
    return site.nodes.primary.sql(f"SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = {session.id}")[
        0
    ][0]


def test_user_host_db_command_and_sql_key(site: Site, scene: Scene) -> None:
    every = scene.user_ids
    app = every - {scene.other.id}
    sleeping = {scene.idle.id, scene.other.id, scene.holder.id, scene.second.id}
    cases: list[tuple[dict[str, Any], set[int]]] = [
        ({"user": "shop_app"}, app),
        ({"user": "Shop_App"}, {scene.other.id}),  # account names are case-sensitive
        ({"user": "SHOP_APP"}, set()),
        ({"user": "shop"}, set()),  # exact, not a prefix
        ({"host": "127.0.0.1"}, every),  # without the port: every port
        ({"host": _host_of(site, scene.idle)}, {scene.idle.id}),  # with it: that client only
        ({"host": "127.0.0.2"}, set()),
        ({"host": "127.0.0."}, set()),
        ({"db": APP_DATABASE}, app),
        ({"db": "SHOP"}, set()),  # schema names are case-sensitive here
        ({"command": "Sleep"}, sleeping),
        ({"command": "Query"}, every - sleeping),
        ({"command": "Init DB"}, set()),
        ({"sql_key": "marker_%_!"}, {scene.short_sleep.id}),  # case-insensitive, LIKE's signs literal
        ({"sql_key": "marker%"}, set()),
        ({"sql_key": "rt_"}, {scene.long_sleep.id, scene.short_sleep.id}),  # not rt_internal's
        ({"sql_key": "AMOUNT + 2"}, {scene.waiter.id}),
        ({"sql_key": "\U0001f600"}, set()),  # beyond utf8mb3: no match, no error
        ({"user": "\U0001f600", "host": "\U0001f600", "db": "\U0001f600"}, set()),
        ({"user": "shop_app", "db": APP_DATABASE, "command": "Sleep"}, sleeping - {scene.other.id}),
        ({"filter": "active", "sql_key": "sleep"}, {scene.long_sleep.id, scene.short_sleep.id}),
    ]
    for fields, expected in cases:
        assert set(ids_of(snapshot(site, **fields))) == expected, fields
    assert node_ids(site, "USER = BINARY 'shop_app'") == app
    assert node_ids(site, "COMMAND = 'Sleep'") == sleeping


def _key(row: dict[str, str], key: str) -> Decimal | None:
    return Decimal(row[key]) if row[key] != "" else None


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize(
    "key",
    [
        "id",
        "state_duration",
        "trx_executed_time",
        "trx_id",
        "trx_lock_duration",
        "trx_lock_rows",
        "trx_lock_tables",
        "trx_update_rows",
    ],
)
def test_sort_keys_and_directions(site: Site, scene: Scene, key: str, direction: str) -> None:
    rows = snapshot(site, sort_key=key, sort_dir=direction)
    assert set(ids_of(rows)) == scene.user_ids
    descending = direction == "desc"
    valued = [row for row in rows if _key(row, key) is not None]
    empty = [row for row in rows if _key(row, key) is None]
    assert rows == valued + empty  # without a transaction: last, in either direction
    ordered = sorted(valued, key=lambda row: (_key(row, key), int(row["id"])), reverse=descending)
    assert ids_of(valued) == ids_of(ordered)
    assert ids_of(empty) == sorted(ids_of(empty), reverse=descending)
    if key.startswith("trx_"):
        assert set(ids_of(valued)) == {scene.holder.id, scene.second.id, scene.waiter.id}
    distinct = {_key(row, key) for row in valued}
    assert len(distinct) > 1 or key == "trx_lock_duration"  # the order says something


# -- parameters, ids, rights ----------------------------------------------------------------------
BAD_BODIES = [
    b'{"filter": "all"}',
    b'{"filter": "TOTAL"}',
    b'{"filter": null}',
    b'{"slow_process_threshold": 0}',
    b'{"slow_process_threshold": 86401}',
    b'{"slow_process_threshold": "10"}',
    b'{"slow_process_threshold": 10.5}',
    b'{"slow_process_threshold": true}',
    b'{"command": "sleep"}',
    b'{"command": "Quit"}',
    b'{"sort_key": "time"}',
    b'{"sort_dir": "DESC"}',
    b'{"user": ""}',
    b'{"user": 7}',
    b'{"host": ["127.0.0.1"]}',
    b'{"sql_key": "' + b"x" * 1025 + b'"}',
    b'{"db": "' + b"d" * 1025 + b'"}',
    b"[]",
    b"{filter",
    b'"total"',
]


def test_bad_parameters_are_refused(site: Site) -> None:
    path = site.node_path() + "/realtime-session"
    for body in BAD_BODIES:
        refused(site.signed("POST", path, body), 400, "DBS.200001")
    refused(site.signed("POST", path, b'{"filter": "slow"}', content_type="text/plain"), 400, "DBS.200001")
    assert site.signed("POST", path, b'{"user": "' + b"u" * 1024 + b'"}').status_code == 200
    for operation in ("/realtime-session-task", "/realtime-session-result"):
        for bad in ("abc", str(uuid.uuid4()) + "0", str(uuid.uuid4()).replace("-", ""), "", "x" * 2000):
            refused(site.signed("GET", site.node_path() + operation, request_id=bad), 400, "DBS.200001")
        refused(site.signed("GET", site.node_path() + operation), 400, "DBS.200001")  # none at all


def _operations(site: Site, node_path: str) -> list[Callable[[str], httpx.Response]]:
    some_id = str(uuid.uuid4())
    return [
        lambda user: site.signed("POST", node_path + "/realtime-session", b"{}", as_user=user),
        lambda user: site.signed(
            "GET", node_path + "/realtime-session-task", as_user=user, request_id=some_id
        ),
        lambda user: site.signed(
            "GET", node_path + "/realtime-session-result", as_user=user, request_id=some_id
        ),
    ]


def test_ids_and_rights(site: Site) -> None:
    cases = [
        (site.node_path(node_id="bad"), 400, "DBS.280404"),
        (site.node_path(instance_id="x" * 36), 400, "DBS.280404"),
        (site.node_path(node_id=new_node_id()), 404, "DBS.200013"),
        (site.node_path(instance_id=new_instance_id()), 404, "DBS.200002"),
        # another project's instance and node, on this project's path
        (site.node_path(site.spare.primary.node_id, site.spare.instance_id), 404, "DBS.200002"),
    ]
    for path, status_code, code in cases:
        for call in _operations(site, path):
            refused(call("alice"), status_code, code)
    for call in _operations(site, site.node_path()):
        refused(call("audrey"), 403, "DBS.200010")  # the auditor lacks getRealtimeSession
        assert call("rita").status_code in (200, 404)  # the read-only role has it
    own = site.signed("POST", site.node_path() + "/realtime-session", b"{}", as_user="rita")
    assert own.status_code == 200 and settled(site, own.json()["request_id"]) == "finished"
    # an access key acts only where its user has a role
    other_project = site.node_path().replace(site.main.project_id, site.spare.project_id)
    refused(
        site.signed("POST", other_project + "/realtime-session", b"{}", as_user="rita"), 403, "DBS.200010"
    )


# -- a collection's life ----------------------------------------------------------------------------
def eventually(check: Callable[[], Any], timeout: float, message: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, message
        time.sleep(0.1)
    return value


def test_a_finished_collection_downloads_until_it_expires(site: Site, scene: Scene) -> None:
    request_id = collect(site, RealtimeSessionRequest(filter="active", sort_dir="desc"))
    assert settled(site, request_id) == "finished"
    path = site.node_path() + "/realtime-session-result"
    answer = site.signed("GET", path, request_id=request_id)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    filename = f"realtime-session-{site.main.primary.node_id}-{request_id}.csv"
    assert answer.headers["content-disposition"] == f'attachment; filename="{filename}"'
    assert int(answer.headers["content-length"]) == len(answer.content)
    assert ids_of(parse(answer.content)) == sorted(
        {scene.long_sleep.id, scene.short_sleep.id, scene.waiter.id}, reverse=True
    )
    assert status(site, request_id.upper()) == "finished"  # the id's case does not matter

    unknown = str(uuid.uuid4())
    assert status(site, unknown) == "unrecognized"
    refused(site.signed("GET", path, request_id=unknown), 404, "DBS.280412")
    zh = site.signed("GET", path, request_id=unknown, language="zh-cn")
    refused(zh, 404, "DBS.280412", "zh-cn")
    with extra_node(
        site.service, site.main.instance_id, name="elsewhere", port=free_port(), user="x", password="y"
    ) as elsewhere:
        # another node of the same instance does not know it
        assert status(site, request_id, elsewhere) == "unrecognized"
        refused(
            site.signed("GET", site.node_path(elsewhere) + "/realtime-session-result", request_id=request_id),
            404,
            "DBS.280412",
        )

    time.sleep(RESULT_SECONDS + 0.5)
    assert status(site, request_id) == "unrecognized"
    refused(site.signed("GET", path, request_id=request_id), 404, "DBS.280412")
    eventually(
        lambda: site.service.inventory(lambda inv: inv.realtime_sessions.get(request_id)) is None,
        5,
        "the expired collection was never purged",
    )


def test_an_unreachable_node_makes_the_collection_fail(site: Site) -> None:
    secret = "never-in-an-answer-9"
    with extra_node(
        site.service, site.main.instance_id, name="gone", port=free_port(), user="ghost", password=secret
    ) as gone:
        request_id = collect(site, node_id=gone)
        assert settled(site, request_id, gone) == "error"
        answer = site.signed("GET", site.node_path(gone) + "/realtime-session-result", request_id=request_id)
        message = refused(answer, 400, "DBS.280411")
        assert "could not be reached" in message and secret not in message and "ghost" not in message
        stored = site.service.inventory(lambda inv: inv.realtime_sessions.get(request_id))
        assert stored is not None and stored.error and secret not in stored.error
    assert secret not in site.service.log_text()


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A port that takes connections and never says a word (a node hung before its greeting)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_running_collections_count_against_the_projects_cap(site: Site) -> None:
    path = site.node_path() + "/realtime-session"
    with (
        silent_listener() as port,
        extra_node(
            site.service, site.main.instance_id, name="hung", port=port, user="x", password="y"
        ) as hung,
    ):
        started = [collect(site, node_id=hung) for _ in range(4)]  # TAURUS_REALTIME_SESSION_MAX_RUNNING
        assert {status(site, request_id, hung) for request_id in started} == {"running"}
        result = site.node_path(hung) + "/realtime-session-result"
        refused(site.signed("GET", result, request_id=started[0]), 400, "DBS.280410")
        refused(site.signed("POST", path, b"{}"), 400, "DBS.280413")
        # the node never greets: each gives up at the connect timeout (1.5 s here)
        assert {settled(site, request_id, hung) for request_id in started} == {"error"}
    assert settled(site, collect(site)) == "finished"  # room again


def _add_jobs(site: Site, jobs: list[RealtimeSessionJob]) -> None:
    async def add(inventory: Inventory) -> None:
        async with inventory.sessions.begin() as session:
            session.add_all(jobs)

    site.service.inventory(add)


def _job(registration: Registration, status: str, started_ago: float, **extra: Any) -> RealtimeSessionJob:
    now = utcnow()
    return RealtimeSessionJob(
        id=str(uuid.uuid4()),
        project_id=registration.project_id,
        instance_id=registration.instance_id,
        node_id=registration.primary.node_id,
        created_by=f"{DOMAIN}/alice",
        created_at=now - timedelta(seconds=started_ago),
        status=status,
        request={},
        expires_at=now + timedelta(hours=1),
        **extra,
    )


def test_a_collection_left_running_by_a_stopped_process_reads_as_error(site: Site) -> None:
    # begun an hour ago, far past what a collection may take: its process stopped mid-way
    abandoned, fresh = _job(site.main, "running", 3600), _job(site.main, "running", 0)
    _add_jobs(site, [abandoned, fresh])
    path = site.node_path() + "/realtime-session-result"
    try:
        assert status(site, abandoned.id) == "error"
        message = refused(site.signed("GET", path, request_id=abandoned.id), 400, "DBS.280411")
        assert "stopped before it finished" in message
        assert status(site, fresh.id) == "running"  # another process may still be at it
        refused(site.signed("GET", path, request_id=fresh.id), 400, "DBS.280410")
        stored = site.service.inventory(lambda inv: inv.realtime_sessions.get(abandoned.id))
        assert stored is not None and stored.status == "error"  # settled by the reader
    finally:  # the fresh one would count against the project's running cap for a minute
        site.service.inventory(lambda inv: inv.realtime_sessions.fail(fresh.id, "test", utcnow(), utcnow()))


def test_the_files_kept_per_project_are_capped(site: Site) -> None:
    spare = site.spare
    _add_jobs(site, [_job(spare, "finished", 1, result=b"id\n", row_count=0) for _ in range(100)])
    request = CollectRealtimeSessionRequest(instance_id=spare.instance_id, node_id=spare.primary.node_id)
    with pytest.raises(ClientRequestException) as caught:
        site.sdk("sam").collect_realtime_session(request)
    assert (caught.value.status_code, caught.value.error_code) == (400, "DBS.280414")
    assert "at most 100" in caught.value.error_msg
    _add_jobs(site, [_job(spare, "running", 0) for _ in range(4)])
    with pytest.raises(ClientRequestException) as caught:
        site.sdk("sam").collect_realtime_session(request)
    assert caught.value.error_code == "DBS.280413"  # the running ones are counted first
    # another project is not held back by this one's
    assert settled(site, collect(site)) == "finished"


def test_the_service_stopping_settles_its_running_collections(site: Site) -> None:
    with (
        silent_listener() as port,
        extra_node(
            site.service, site.main.instance_id, name="hung-again", port=port, user="x", password="y"
        ) as hung,
    ):
        request_id = collect(site, node_id=hung)
        assert status(site, request_id, hung) == "running"
        site.service.restart()  # SIGTERM mid-collection
        stored = site.service.inventory(lambda inv: inv.realtime_sessions.get(request_id))
        assert stored is not None and stored.status == "error"
        assert stored.error is not None and "stopped before the collection finished" in stored.error


def test_no_sql_reaches_the_node_unparsed(site: Site, scene: Scene) -> None:
    hostile = "x' OR '1'='1"
    for name in ("user", "host", "db", "sql_key"):
        assert snapshot(site, **{name: hostile}) == [], name
    assert set(ids_of(snapshot(site))) == scene.user_ids

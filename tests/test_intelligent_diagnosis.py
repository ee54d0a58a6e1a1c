"""TaurusDB's session family, part 1, on real nodes: intelligent kill through the official SDK, the
automatic kill tasks, the switch, kill-all and the kill history through signed raw calls (they are
newer than the SDK). A primary and a replica of their own, so that kill-all touches no other test."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkgaussdb.v3 import (
    ExecuteIntelligentKillSessionRequest,
    GaussDBClient,
    IntelligentKillSessionsReq,
    ListIntelligentKillSessionHistoryRequest,
    ShowIntelligentKillSessionStatisticRequest,
)

from support.client import token_body
from support.poll import eventually
from support.service import ServiceProcess
from support.sessions import Session, Sessions
from support.signed import gaussdb_client, signed_call
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.sandbox.instance import APP_DATABASE, SandboxInstance
from taurus_sessions.sandbox.registration import Registration, create_user, register_instance

PASSWORD = "correct horse battery staple"
DOMAIN = "acme"


@dataclass
class Site:
    nodes: SandboxInstance
    service: ServiceProcess
    main: Registration
    keys: dict[str, tuple[str, str]]

    @property
    def base(self) -> str:
        return f"/v3/{self.main.project_id}/instances/{self.main.instance_id}"

    def sdk(self, user: str = "alice") -> GaussDBClient:
        return gaussdb_client(self.service.url, *self.keys[user], self.main.project_id)

    def signed(
        self, method: str, path: str, body: Any = None, as_user: str = "alice", **query: Any
    ) -> httpx.Response:
        """A raw call signed as the SDKs sign (these operations are newer than the SDK)."""
        url = self.service.url + self.base + path
        return signed_call(method, url, *self.keys[as_user], self.main.project_id, body=body, query=query)

    def token(self, user: str = "alice") -> str:
        body = token_body(user, PASSWORD, DOMAIN, project_id=self.main.project_id)
        response = httpx.post(self.service.url + "/v3/auth/tokens", json=body)
        assert response.status_code == 201, response.text
        return response.headers["X-Subject-Token"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    nodes = SandboxInstance.start(tmp_path_factory.mktemp("diagnosis-nodes"))
    # MariaDB's KILL of a thread sleeping in SLEEP() retries for up to a second while other sleepers
    # hold SLEEP's one global mutex: a batch killing a dozen of them can take seconds.
    service = ServiceProcess(
        tmp_path_factory.mktemp("diagnosis-service"),
        TAURUS_DOWNLOAD_LINK_SECONDS="3",
        TAURUS_NODE_READ_TIMEOUT="15",
    )

    async def populate(inventory: Inventory) -> tuple[Registration, dict[str, tuple[str, str]]]:
        main = await register_instance(inventory, nodes, project_name="cn-diagnosis-1", domain=DOMAIN)
        keys = {}
        for user, role in (("alice", "admin"), ("rita", "readonly")):
            user_id = await create_user(inventory, DOMAIN, user, PASSWORD, main.project_id, role)
            key, sk = await inventory.access_keys.create(user_id)
            keys[user] = (key.ak, sk.get_secret_value())
        return main, keys

    main, keys = service.inventory(populate)
    service.start()
    yield Site(nodes, service, main, keys)
    service.stop()
    nodes.stop()


def app_session(site: Site, sessions: Sessions, replica: bool = False) -> Session:
    server = site.nodes.replica if replica and site.nodes.replica else site.nodes.primary
    return sessions.open(server, site.nodes.app.user, site.nodes.app.password, APP_DATABASE)


def alive(site: Site, ids: list[int], replica: bool = False) -> set[int]:
    server = site.nodes.replica if replica and site.nodes.replica else site.nodes.primary
    if not ids:
        return set()
    rows = server.sql(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND <> 'Killed' AND ID IN "
        f"({','.join(map(str, ids))})"
    )
    return {int(row[0]) for row in rows}


# -- intelligent kill --------------------------------------------------------------------------------------
# Six groups of statements that differ only in their literals, started so that each strategy ranks
# a different three first: (group, offset in seconds from the first, sessions).
GROUPS = {
    "grp_b": [0.0],  # the longest single execution, one session
    "grp_c": [2.0, 10.0, 10.0],  # one long and two short: a high maximum, a low average
    "grp_d": [5.0, 5.0],
    "grp_e": [6.0],  # a single session: a high average, a low count
    "grp_a": [10.0, 10.0, 10.0, 10.0],  # the most sessions, all short
    "grp_f": [11.0],  # in no strategy's top three
}
EXPECTED = {
    "top3_time": {"grp_b", "grp_c", "grp_d"},
    "top3_count": {"grp_a", "grp_c", "grp_d"},
    "top3_avg_time": {"grp_b", "grp_d", "grp_e"},
}


def start_groups(site: Site, sessions: Sessions) -> dict[str, list[Session]]:
    started = time.monotonic()
    plan = sorted((offset, group) for group, offsets in GROUPS.items() for offset in offsets)
    members: dict[str, list[Session]] = {group: [] for group in GROUPS}
    for number, (offset, group) in enumerate(plan):
        time.sleep(max(0.0, started + offset - time.monotonic()))
        session = app_session(site, sessions)
        # different literals, one template: SELECT SLEEP(?) AS grp_x, ? AS copy
        session.run_async(f"SELECT SLEEP({300 + number}) AS {group}, 'copy {number}' AS copy")
        members[group].append(session)
    time.sleep(1.0)
    return members


def group_of(keyword: str) -> str:
    return next(group for group in GROUPS if group in keyword)


def test_intelligent_kill_groups_by_template_ranks_per_strategy_and_kills_those_groups(
    site: Site, sessions: Sessions
) -> None:
    idle = [app_session(site, sessions) for _ in range(3)]  # sleeping sessions are not grouped
    members = start_groups(site, sessions)
    metric = site.nodes.accounts["rdsMetric"]
    internal = sessions.open(site.nodes.primary, metric.user, metric.password)
    internal.run_async("SELECT SLEEP(300) AS grp_internal")  # running, but internal: never grouped
    time.sleep(0.3)
    client = site.sdk()
    node = site.main.primary.node_id
    request = ShowIntelligentKillSessionStatisticRequest(instance_id=site.main.instance_id, node_id=node)
    statistics = client.show_intelligent_kill_session_statistic(request).statistics
    node_seconds = {
        int(row[0]): float(row[1]) / 1000
        for row in site.nodes.primary.sql("SELECT ID, TIME_MS FROM information_schema.PROCESSLIST")
    }

    by_strategy: dict[str, set[str]] = {}
    for stat in statistics:
        group = group_of(stat.keyword)
        by_strategy.setdefault(stat.strategy, set()).add(group)
        ids = {s.id for s in members[group]}
        assert set(stat.ids) == ids and stat.count == len(ids)
        assert stat.keyword == f"SELECT SLEEP(?) AS {group}, ? AS copy"
        assert stat.example_sql_text.startswith("SELECT SLEEP(") and group in stat.example_sql_text
        seconds = [node_seconds[i] for i in ids]
        assert abs(stat.max_time - max(seconds)) < 1 and abs(stat.total_time - sum(seconds)) < len(ids)
        assert abs(stat.avg_time - sum(seconds) / len(seconds)) < 1
    assert by_strategy == EXPECTED

    # the read-only user may preview, not execute
    with pytest.raises(ClientRequestException) as refused:
        site.sdk("rita").execute_intelligent_kill_session(
            ExecuteIntelligentKillSessionRequest(
                instance_id=site.main.instance_id, body=IntelligentKillSessionsReq(node_id=node)
            )
        )
    assert refused.value.status_code == 403 and refused.value.error_code == "DBS.200010"

    before = int(time.time() * 1000) - 1000
    task_id = client.execute_intelligent_kill_session(
        ExecuteIntelligentKillSessionRequest(
            instance_id=site.main.instance_id, body=IntelligentKillSessionsReq(node_id=node)
        )
    ).task_id
    chosen = [s.id for group in set().union(*EXPECTED.values()) for s in members[group]]
    assert eventually(lambda: not alive(site, chosen), 10, "the chosen groups are still alive")
    spared = [s.id for s in members["grp_f"]] + [s.id for s in idle] + [internal.id]
    assert alive(site, spared) == set(spared)

    # the history lists the task, and its link downloads the killed sessions (with authentication)
    history = client.list_intelligent_kill_session_history(
        ListIntelligentKillSessionHistoryRequest(
            instance_id=site.main.instance_id,
            node_id=node,
            start_time=before,
            end_time=int(time.time() * 1000) + 1000,
        )
    )
    assert history.total_count == 1
    (entry,) = history.intelligent_kill_session_histories
    assert entry.task_id == task_id and entry.start_time <= entry.end_time
    link = entry.download_link
    download = httpx.get(link, headers={"X-Auth-Token": site.token()})
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert {int(row["id"]) for row in rows} == set(chosen) and {row["outcome"] for row in rows} == {"killed"}
    unauthenticated = httpx.get(link)
    assert unauthenticated.status_code == 401
    forged = httpx.get(link[:-6] + "AAAAAA", headers={"X-Auth-Token": site.token()})
    assert forged.status_code == 403 and forged.json()["error_code"] == "DBS.280409"
    time.sleep(3.5)  # TAURUS_DOWNLOAD_LINK_SECONDS=3 here
    expired = httpx.get(link, headers={"X-Auth-Token": site.token()})
    assert expired.status_code == 403 and expired.json()["error_code"] == "DBS.280409"
    # the kill is in the audit trail, write-ahead, as one task
    audit = httpx.get(
        site.service.url + f"/v3/{site.main.project_id}/audit-events",
        params={"action": "intelligentKillSession", "outcome": "ok"},
        headers={"X-Auth-Token": site.token()},
    ).json()
    (record,) = audit["events"]
    assert record["task_id"] == task_id and {r["id"] for r in record["results"]} == set(chosen)


@pytest.mark.parametrize("language", ["en-us", "zh-cn"])
def test_intelligent_kill_errors_through_the_sdk(site: Site, language: str) -> None:
    client = site.sdk()
    cases = [
        (
            ShowIntelligentKillSessionStatisticRequest(instance_id=site.main.instance_id, node_id="bad"),
            400,
            "DBS.280404",
        ),
        (
            ShowIntelligentKillSessionStatisticRequest(
                instance_id=site.main.instance_id, node_id="a" * 32 + "no07"
            ),
            404,
            "DBS.200013",
        ),
        (
            ShowIntelligentKillSessionStatisticRequest(
                instance_id="b" * 32 + "in07", node_id=site.main.primary.node_id
            ),
            404,
            "DBS.200002",
        ),
        (
            ListIntelligentKillSessionHistoryRequest(
                instance_id=site.main.instance_id,
                node_id=site.main.primary.node_id,
                start_time=2000,
                end_time=1000,
            ),
            400,
            "DBS.200001",
        ),
        (
            ListIntelligentKillSessionHistoryRequest(
                instance_id=site.main.instance_id,
                node_id=site.main.primary.node_id,
                start_time=1,
                end_time=2,
                limit="0",
            ),
            400,
            "DBS.200001",
        ),
    ]
    for request, status, code in cases:
        request.x_language = language
        call = (
            client.show_intelligent_kill_session_statistic
            if isinstance(request, ShowIntelligentKillSessionStatisticRequest)
            else client.list_intelligent_kill_session_history
        )
        with pytest.raises(ClientRequestException) as caught:
            call(request)
        assert (caught.value.status_code, caught.value.error_code) == (status, code)
        assert len(caught.value.request_id) == 32
        if language == "zh-cn" and code == "DBS.200013":
            assert caught.value.error_msg == "节点不存在。"


# -- automatic kill tasks, the switch, kill-all --------------------------------------------------------------
def crowd_session(site: Site, sessions: Sessions, replica: bool = False) -> Session:
    return app_session(site, sessions, replica)


def test_an_automatic_kill_task_kills_matching_sessions_for_its_duration_and_not_after(
    site: Site, sessions: Sessions
) -> None:
    assert site.signed("PUT", "/process/task/switch", {"status": "OFF"}).status_code == 200
    task = {"user": site.nodes.app.user, "time": 1, "task_duration": 4}
    refused = site.signed("POST", "/process/task", task)
    assert refused.status_code == 400 and refused.json()["error_code"] == "DBS.280408"
    assert site.signed("PUT", "/process/task/switch", {"status": "ON"}).status_code == 200
    assert site.signed("GET", "/process/task/switch").json() == {"status": "ON"}

    on_primary, on_replica = crowd_session(site, sessions), crowd_session(site, sessions, replica=True)
    time.sleep(1.2)
    # the whole range the reference gives for ``time`` (the fuzzer found 2^31-1 answered 500)
    longest = site.signed("GET", "/process/task/preview", time=2147483647, db="d")
    assert longest.status_code == 200 and longest.json() == {"processes": [], "total_count": 0}
    preview = site.signed("GET", "/process/task/preview", time=1, user=site.nodes.app.user).json()
    seen = {(p["node_id"], p["id"]) for p in preview["processes"]}
    assert (site.main.primary.node_id, on_primary.id) in seen and (
        site.main.replica.node_id,
        on_replica.id,
    ) in seen
    created = site.signed("POST", "/process/task", task)
    assert created.status_code == 200, created.text
    task_id = created.json()["id"]
    # on every node of the instance
    assert eventually(
        lambda: not alive(site, [on_primary.id]) and not alive(site, [on_replica.id], True), 8, "not killed"
    )
    listed = site.signed("GET", "/process/task").json()["processes"]
    item = next(p for p in listed if p["id"] == task_id)
    assert item["user"] == site.nodes.app.user and item["time"] == 1 and item["task_duration"] == 4
    # after its duration, the task is finished and kills no more
    eventually(
        lambda: (
            next(p for p in site.signed("GET", "/process/task").json()["processes"] if p["id"] == task_id)[
                "status"
            ]
            == "finished"
        ),
        10,
        "the task never finished",
    )
    later = crowd_session(site, sessions)
    time.sleep(2.5)
    assert alive(site, [later.id]) == {later.id}


def test_the_switch_off_stops_the_tasks_and_a_sixth_is_refused(site: Site, sessions: Sessions) -> None:
    assert site.signed("PUT", "/process/task/switch", {"status": "ON"}).status_code == 200
    tasks = []
    for _ in range(5):
        created = site.signed(
            "POST", "/process/task", {"user": "nobody_here", "time": 100, "task_duration": 60}
        )
        assert created.status_code == 200, created.text
        tasks.append(created.json()["id"])
    sixth = site.signed("POST", "/process/task", {"user": "nobody_here", "time": 100, "task_duration": 60})
    assert sixth.status_code == 400 and sixth.json()["error_code"] == "DBS.280407"
    for task_id in tasks:
        assert site.signed("PUT", "/process/task", {"id": task_id}).status_code == 200
    statuses = {p["id"]: p["status"] for p in site.signed("GET", "/process/task").json()["processes"]}
    assert {statuses[t] for t in tasks} == {"stopped"}

    watching = site.signed(
        "POST", "/process/task", {"user": site.nodes.app.user, "time": 1, "task_duration": 60}
    )
    watching_id = watching.json()["id"]
    assert site.signed("PUT", "/process/task/switch", {"status": "OFF"}).status_code == 200
    spared = crowd_session(site, sessions)
    time.sleep(3)
    assert alive(site, [spared.id]) == {spared.id}  # off: the task waits
    assert site.signed("PUT", "/process/task/switch", {"status": "ON"}).status_code == 200
    assert eventually(lambda: not alive(site, [spared.id]), 8, "not killed once the switch was on again")
    assert site.signed("PUT", "/process/task", {"task_id": watching_id}).status_code == 200
    missing = site.signed("PUT", "/process/task", {"id": "0" * 32})
    assert missing.status_code == 404 and missing.json()["error_code"] == "DBS.280406"


def test_kill_all_kills_every_user_session_and_no_internal_thread(site: Site, sessions: Sessions) -> None:
    assert site.signed("PUT", "/process/task/switch", {"status": "ON"}).status_code == 200
    users = [crowd_session(site, sessions) for _ in range(3)] + [
        crowd_session(site, sessions, True) for _ in range(2)
    ]
    metric = site.nodes.accounts["rdsMetric"]
    internal = sessions.open(site.nodes.primary, metric.user, metric.password)
    for refused_user in ("rita",):
        denied = site.signed("PUT", "/all/process", as_user=refused_user)
        assert denied.status_code == 403 and denied.json()["error_code"] == "DBS.200010"
    since = int(time.time() * 1000) - 1000
    done = site.signed("PUT", "/all/process")
    assert done.status_code == 200 and done.json() == {}
    assert not alive(site, [s.id for s in users[:3]]) and not alive(site, [s.id for s in users[3:]], True)
    assert internal.alive()
    status = site.nodes.replica.sql("SHOW SLAVE STATUS") if site.nodes.replica else []
    assert status and "Yes" in status[0]  # replication (internal threads) untouched
    history = site.signed("GET", "/process/kill/history", start_time=since, page_size=100).json()
    # times a datetime cannot hold are a parameter error (the fuzzer found them answered 500)
    beyond = site.signed("GET", "/process/kill/history", end_time=253402300799999 + 1)
    assert beyond.status_code == 400 and beyond.json()["error_code"] == "DBS.200001"
    assert site.signed("GET", "/process/kill/history", end_time=253402300799999).status_code == 200
    killed = {(h["node_id"], h["id"]) for h in history["kill_process_histories"] if h["task_id"] is None}
    assert {(site.main.primary.node_id, s.id) for s in users[:3]} <= killed
    assert {(site.main.replica.node_id, s.id) for s in users[3:]} <= killed
    assert history["total_count"] >= 5
    assert site.signed("PUT", "/process/task/switch", {"status": "OFF"}).status_code == 200
    off = site.signed("PUT", "/all/process")
    assert off.status_code == 400 and off.json()["error_code"] == "DBS.280408"


def test_automatic_kill_parameters_are_checked(site: Site) -> None:
    for body in (
        {"user": "x", "task_duration": 10},  # time is required
        {"user": "x", "time": 0, "task_duration": 10},
        {"user": "x y", "time": 5, "task_duration": 10},  # Huawei's user names: letters, digits, - and _
        {"db": "a" * 65, "time": 5, "task_duration": 10},
        {"time": "5s", "task_duration": 10},
        {"time": 5, "task_duration": 31 * 24 * 3600},
    ):
        response = site.signed("POST", "/process/task", body)
        assert response.status_code == 400 and response.json()["error_code"] == "DBS.200001", (
            body,
            response.text,
        )
    assert (
        site.signed(
            "POST", "/process/task", {"time": "5", "task_duration": "10", "user": "u"}, as_user="rita"
        ).status_code
        == 403
    )
    # the edges of the ranges, found by the fuzzer as 500s: the longest time in state a server
    # reports, and Unix milliseconds past the year 9999 (no date can hold them)
    longest = site.signed("GET", "/process/task/preview", time=2**31 - 1)
    assert longest.status_code == 200 and longest.json()["total_count"] == 0
    last = 253_402_300_799_999
    assert site.signed("GET", "/process/kill/history", start_time=last - 1, end_time=last).status_code == 200
    for path, query in (
        ("/process/kill/history", {"start_time": 10**15}),
        (
            "/intelligent-kill-session/history",
            {"node_id": site.main.primary.node_id, "start_time": 1, "end_time": 10**15},
        ),
    ):
        beyond = site.signed("GET", path, **query)
        assert beyond.status_code == 400 and beyond.json()["error_code"] == "DBS.200001", beyond.text
    wrong = site.signed("PUT", "/process/task/switch", {"status": "on"})
    assert wrong.status_code == 400 and wrong.json()["error_code"] == "DBS.200001"
    zh = httpx.get(
        site.service.url + site.base + "/process/task/switch",
        headers={"X-Auth-Token": site.token(), "X-Language": "zh-cn"},
    )
    assert zh.status_code == 200


def test_the_cli_drives_the_family(site: Site, sessions: Sessions) -> None:
    ak, sk = site.keys["alice"]
    env = {
        "HUAWEICLOUD_SDK_AK": ak,
        "HUAWEICLOUD_SDK_SK": sk,
        "HUAWEICLOUD_SDK_PROJECT_ID": site.main.project_id,
        "TAURUS_ENDPOINT": site.service.url,
    }
    instance = ["--instance", site.main.instance_id]
    cli = site.service.cli
    assert cli("diagnosis", "kill-task", "switch", "ON", *instance, env=env).stdout.strip() == "ON"
    added = cli(
        "diagnosis",
        "kill-task",
        "add",
        *instance,
        "--user",
        "nobody_at_all",
        "--time",
        "50",
        "--duration",
        "30",
        env=env,
    )
    assert added.returncode == 0, added.stderr
    task_id = added.stdout.strip()
    listed = cli("diagnosis", "kill-task", "list", *instance, env=env)
    assert task_id in listed.stdout and "running" in listed.stdout
    assert cli("diagnosis", "kill-task", "stop", task_id, *instance, env=env).returncode == 0
    victim = app_session(site, sessions)
    victim.run_async("SELECT SLEEP(120) AS cli_group")
    time.sleep(0.5)
    node = ["--node", site.main.primary.node_id]
    preview = cli("diagnosis", "intelligent-kill", "preview", *instance, *node, env=env)
    assert "SELECT SLEEP(?) AS cli_group" in preview.stdout, preview.stderr
    refused = cli("diagnosis", "intelligent-kill", "run", *instance, *node, env=env)
    assert refused.returncode == 2 and alive(site, [victim.id]) == {victim.id}
    ran = cli("diagnosis", "intelligent-kill", "run", *instance, *node, "--yes", env=env)
    assert ran.returncode == 0, ran.stderr
    killed_task = ran.stdout.strip()
    victim.join()
    history = cli(
        "diagnosis", "intelligent-kill", "history", *instance, *node, "--download", killed_task, env=env
    )
    assert history.returncode == 0, history.stderr
    assert str(victim.id) in history.stdout and history.stdout.startswith("task_id,")
    assert cli("diagnosis", "kill-all", *instance, env=env).returncode == 2  # not without --yes

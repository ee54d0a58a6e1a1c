"""Autonomous SQL limiting on real nodes, through the official SDK: a burst of one slow SELECT fires a
rule and is held to max_concurrency (counted on the node every 100 ms), other statements and
internal threads are untouched, the limit ends on time; the CPU condition from the server's own
process and from a real node-exporter, and unknown without a source; every error of the operations.

One minute of the rules is one second here (TAURUS_LIMITING_MINUTE_SECONDS), so a rule's
``duration: 2`` is two seconds."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkgaussdb.v3 import (
    AutoSqlLimitingRule,
    DeleteAutoSqlLimitingRequest,
    GaussDBClient,
    SetAutoSqlLimitingReq,
    SetAutoSqlLimitingRequest,
    ShowAutoSqlLimitingLogRequest,
    ShowGaussMySqlJobInfoRequest,
    ShowSqlAutoSqlLimitingReq,
    ShowSqlAutoSqlLimitingRequest,
)

from support.personas import DOMAIN, PASSWORD
from support.poll import eventually
from support.service import ServiceProcess
from support.sessions import Session, Sessions
from support.signed import gaussdb_client, signed_call
from taurus_sessions.inventory.audit_events import AuditQuery
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.sandbox.instance import APP_DATABASE, SandboxInstance
from taurus_sessions.sandbox.mariadb import free_port
from taurus_sessions.sandbox.postgres import PostgresServer, ensure_bin_dir
from taurus_sessions.sandbox.registration import Registration, create_user, register_instance

# The burst: one SELECT whose copies differ in a literal, each waiting for a row lock (it runs for
# as long as the lock is held, costs no CPU, and stops at once when killed).
BURST = "SELECT customer, 'copy {n}' AS copy FROM orders WHERE id = 1 LOCK IN SHARE MODE"
BURST_PATTERN = "SELECT~customer~AS~copy~FROM~orders~WHERE~id~LOCK~IN~SHARE~MODE"
LIMITER = {
    "TAURUS_LIMITING_MINUTE_SECONDS": "1",
    "TAURUS_LIMITING_CHECK_SECONDS": "0.2",
    "TAURUS_NODE_READ_TIMEOUT": "10",
}


@dataclass
class Site:
    nodes: SandboxInstance
    service: ServiceProcess
    main: Registration
    keys: dict[str, tuple[str, str]]

    @property
    def instance_id(self) -> str:
        return self.main.instance_id

    @property
    def node_id(self) -> str:
        return self.main.primary.node_id

    def sdk(self, user: str = "alice", service: ServiceProcess | None = None) -> GaussDBClient:
        return gaussdb_client((service or self.service).url, *self.keys[user], self.main.project_id)

    def signed(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> httpx.Response:
        """A raw signed call (to send what the SDK's models would not)."""
        url = f"{self.service.url}/v3/{self.main.project_id}{path}"
        return signed_call(method, url, *self.keys["alice"], self.main.project_id, body=body, raw=raw)

    def set_rule(self, node_id: str | None = None, user: str = "alice", **fields: Any) -> str:
        rule = rule_fields(node_id or self.node_id) | fields
        request = SetAutoSqlLimitingRequest(
            instance_id=self.instance_id,
            body=SetAutoSqlLimitingReq(auto_sql_limiting_rules=[AutoSqlLimitingRule(**rule)]),
        )
        return str(self.sdk(user).set_auto_sql_limiting(request).job_id)

    def show(self, *node_ids: str) -> list[Any]:
        request = ShowSqlAutoSqlLimitingRequest(
            instance_id=self.instance_id,
            body=ShowSqlAutoSqlLimitingReq(node_ids=list(node_ids or [self.node_id])),
        )
        return list(self.sdk().show_sql_auto_sql_limiting(request).auto_sql_limiting_rules)

    def show_raw(self) -> dict[str, Any]:
        """The answer with the extension fields the SDK's model leaves out."""
        answer = self.signed(
            "POST", f"/instances/{self.instance_id}/auto-sql-limiting", {"node_ids": [self.node_id]}
        )
        assert answer.status_code == 200, answer.text
        rules = answer.json()["auto_sql_limiting_rules"]
        assert len(rules) == 1
        return dict(rules[0])

    def log(self) -> list[Any]:
        request = ShowAutoSqlLimitingLogRequest(instance_id=self.instance_id, node_id=self.node_id)
        return list(self.sdk().show_auto_sql_limiting_log(request).logs or [])

    def switch_off(self, node_id: str | None = None) -> None:
        request = DeleteAutoSqlLimitingRequest(instance_id=self.instance_id, node_id=node_id or self.node_id)
        self.sdk().delete_auto_sql_limiting(request)


def rule_fields(node_id: str) -> dict[str, Any]:
    return {
        "node_id": node_id,
        "start_time": "00:00",
        "end_time": "23:59",
        "condition": "or",
        "cpu_usage": 100,
        "active_sessions": 10,
        "clear_time": 4,
        "duration": 2,
        "max_concurrency": 3,
        "retain_sql_rule": True,
    }


async def _populate(
    inventory: Inventory, nodes: SandboxInstance
) -> tuple[Registration, dict[str, tuple[str, str]]]:
    main = await register_instance(inventory, nodes, project_name="cn-limiting-1", domain=DOMAIN)
    keys = {}
    for user, role in (("alice", "admin"), ("rita", "readonly")):
        user_id = await create_user(inventory, DOMAIN, user, PASSWORD, main.project_id, role)
        key, sk = await inventory.access_keys.create(user_id)
        keys[user] = (key.ak, sk.get_secret_value())
    return main, keys


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    nodes = SandboxInstance.start(tmp_path_factory.mktemp("limiting-nodes"))
    # the internal account runs the burst's statement too, to show that it is never limited
    nodes.primary.sql(f"GRANT SELECT ON {APP_DATABASE}.* TO 'rdsMetric'@'%'")
    service = ServiceProcess(tmp_path_factory.mktemp("limiting-service"), **LIMITER)
    main, keys = service.inventory(lambda inventory: _populate(inventory, nodes))
    service.start()
    yield Site(nodes, service, main, keys)
    service.stop()
    nodes.stop()


@pytest.fixture
def clean(site: Site) -> Iterator[None]:
    """Each test starts and ends with limiting off on the primary."""
    yield
    with contextlib.suppress(ClientRequestException):  # DBS.280417: already off
        site.switch_off()


def app_session(site: Site, sessions: Sessions) -> Session:
    return sessions.open(site.nodes.primary, site.nodes.app.user, site.nodes.app.password, APP_DATABASE)


def running(site: Site, marker: str) -> dict[int, str]:
    """Thread id → statement of the statements running on the primary that hold ``marker``."""
    rows = site.nodes.primary.sql(
        "SELECT ID, INFO FROM information_schema.PROCESSLIST "
        f"WHERE COMMAND = 'Query' AND INFO LIKE '%{marker}%' AND INFO NOT LIKE '%PROCESSLIST%'"
    )
    return {int(row[0]): str(row[1]) for row in rows}


def copies(site: Site) -> set[int]:
    """The burst's statements running now (the internal account's copy left out)."""
    return {i for i, sql in running(site, "AS copy FROM orders").items() if "copy internal" not in sql}


def audit_stops(site: Site) -> list[dict[str, Any]]:
    async def read(inventory: Inventory) -> list[dict[str, Any]]:
        events, _ = await inventory.audit.query(
            AuditQuery(project_id=site.main.project_id, action="autoSqlLimiting", limit=500)
        )
        return [
            {"task_id": e.task_id, "actor": e.actor_name, "kind": e.actor_kind, "mode": e.mode, **r}
            for e in events
            for r in e.results
        ]

    return site.service.inventory(read)


def hold_row_lock(site: Site, sessions: Sessions) -> Session:
    holder = app_session(site, sessions)
    holder.execute("BEGIN")
    holder.execute("SELECT * FROM orders WHERE id = 1 FOR UPDATE")
    return holder


def start_burst(site: Site, sessions: Sessions, count: int, first: int = 0) -> list[Session]:
    burst = []
    for n in range(first, first + count):
        session = app_session(site, sessions)
        session.run_async(BURST.format(n=n))
        burst.append(session)
    eventually(lambda: len(running(site, "AS copy")) >= count, 10, "the burst did not start")
    return burst


# -- the burst ---------------------------------------------------------------------------------------
def test_a_burst_fires_the_rule_and_is_held_to_max_concurrency_until_clear_time(
    site: Site, sessions: Sessions, clean: None
) -> None:
    holder = hold_row_lock(site, sessions)
    others = [app_session(site, sessions) for _ in range(2)]
    for other in others:
        other.run_async("SELECT SLEEP(60) AS other_work")
    metric = site.nodes.accounts["rdsMetric"]
    internal = sessions.open(site.nodes.primary, metric.user, metric.password, APP_DATABASE)
    internal.run_async(BURST.format(n="internal"))
    burst = start_burst(site, sessions, 30)
    query_ids = {
        int(row[0]): int(row[1])
        for row in site.nodes.primary.sql("SELECT ID, QUERY_ID FROM information_schema.PROCESSLIST")
    }

    logged = len(site.log())
    job_id = site.set_rule(clear_time=8)
    set_at = time.monotonic()
    job = site.sdk().show_gauss_my_sql_job_info(ShowGaussMySqlJobInfoRequest(id=job_id)).job
    assert job.status == "Completed" and job.name == "SetAutoSqlLimiting"
    assert job.instance.id == site.instance_id and job.created and job.ended

    # duration 2 (seconds here): not before, and soon after
    logs = eventually(lambda: (lambda all_: all_ if len(all_) > logged else None)(site.log()), 6, "no fire")
    fired_after = time.monotonic() - set_at
    assert 1.8 <= fired_after <= 4.5, fired_after
    assert len(logs) == logged + 1
    entry = logs[0]
    assert entry.pattern == BURST_PATTERN and entry.sql_type == "SELECT" and entry.max_concurrency == 3
    assert entry.node_id == site.node_id
    assert 7900 <= entry.expire_at - entry.create_at <= 8100  # clear_time 8 "minutes" of 1 s

    # from then on at most 3 copies run, counted on the node every 100 ms; the 3 oldest go on
    oldest = sorted(burst, key=lambda s: query_ids[s.id])[:3]
    eventually(lambda: len(copies(site)) <= 3, 3, "the burst was not cut to 3")
    counts = []
    for _ in range(20):
        counts.append(len(copies(site)))
        time.sleep(0.1)
    assert max(counts) <= 3, counts
    assert copies(site) == {s.id for s in oldest}

    # other statements and the internal thread are untouched
    assert len(running(site, "other_work")) == 2
    assert len(running(site, "copy internal")) == 1

    # a new copy during the limit is stopped, newest first, within a few checks
    delays, late_ids = [], set()
    for n in range(100, 103):
        started = time.monotonic()
        late = app_session(site, sessions)
        late_ids.add(late.id)
        late.run_async(BURST.format(n=n))
        eventually(lambda: late.error is not None, 3, "a copy beyond the limit was not stopped")  # noqa: B023
        delays.append(time.monotonic() - started)
        assert "interrupted" in str(late.error).lower()
    assert copies(site) == {s.id for s in oldest}

    # each stop is audited: KILL QUERY, in alice's name, the limit as the task
    stops = audit_stops(site)
    stopped_ids = {stop["id"] for stop in stops if stop["outcome"] == "killed"}
    assert stopped_ids == ({s.id for s in burst} - {s.id for s in oldest}) | late_ids
    assert all(stop["mode"] == "query" and stop["actor"] == f"{DOMAIN}/alice" for stop in stops)
    assert all(stop["kind"] == "task" for stop in stops)
    limiting = site.show_raw()
    assert limiting["state"] == "limiting" and limiting["active_limits"][0]["pattern"] == BURST_PATTERN
    assert limiting["active_limits"][0]["stopped"] == len(stopped_ids)

    # after clear_time nothing is stopped any more: a new burst runs in full
    remaining = entry.expire_at / 1000 - time.time()
    time.sleep(max(0.0, remaining) + 0.5)
    stops_before = len(audit_stops(site))
    fresh = start_burst(site, sessions, 8, first=200)
    time.sleep(1.0)
    assert {s.id for s in fresh} <= copies(site)
    assert len(audit_stops(site)) == stops_before
    assert all(s.error is None for s in fresh)
    assert site.show_raw()["active_limits"] == []

    holder.execute("ROLLBACK")
    for session in [*oldest, *fresh, internal]:
        session.join(10)
    print(f"stop delays of copies beyond the limit (check every 0.2 s): {[round(d, 2) for d in delays]}")


def test_with_and_and_no_cpu_source_the_rule_never_fires_and_says_why(
    site: Site, sessions: Sessions, clean: None
) -> None:
    holder = hold_row_lock(site, sessions)
    start_burst(site, sessions, 12, first=300)
    logged = len(site.log())
    site.set_rule(condition="and", cpu_usage=70, active_sessions=5)
    time.sleep(3.5)  # longer than duration
    shown = site.show_raw()
    assert shown["cpu_source"] == "none" and shown["cpu_condition"] == "unknown"
    assert shown["state"] == "watching" and shown["active_sessions_now"] >= 12
    assert "CPU" in shown["note"] and "only an 'or' rule can fire" in shown["note"]
    assert len(site.log()) == logged
    assert len(copies(site)) == 12  # nothing stopped
    holder.execute("ROLLBACK")


def test_the_cpu_of_the_servers_own_process_fires_an_and_rule(
    site: Site, sessions: Sessions, clean: None
) -> None:
    primary = site.nodes.primary
    source = f"pidfile:{primary.pid_file}"
    answer = site.service.cli("node", "set-cpu-source", site.node_id, source)
    assert answer.returncode == 0, answer.stderr
    # On one CPU, and ahead of whatever else runs on the machine, three busy statements keep the
    # server's process near 100% of what it may use, however loaded the machine is.
    favour(primary.pid, {sorted(os.sched_getaffinity(0))[0]}, -15)
    try:
        burners = [app_session(site, sessions) for _ in range(3)]
        for n, burner in enumerate(burners):
            burner.run_async(f"SELECT BENCHMARK(4000000000, MD5('{n}')) AS cpu_burn")
        site.set_rule(condition="and", cpu_usage=70, active_sessions=2, max_concurrency=1)
        entry = eventually(
            lambda: next((e for e in site.log() if "cpu_burn" in e.pattern), None),
            10,
            lambda: f"the CPU condition to fire the rule ({site.show_raw()})",
        )
        assert entry.pattern == "SELECT~BENCHMARK~MD5~AS~cpu_burn"
        shown = site.show_raw()
        assert shown["cpu_source"] == "process" and shown["cpu_usage_now"] is not None
        # (a stopped BENCHMARK returns early rather than failing, so the node is what tells)
        eventually(lambda: len(running(site, "cpu_burn")) == 1, 5, "the excess was not stopped")
        stopped = [stop for stop in audit_stops(site) if "cpu_burn" in (stop.get("info") or "")]
        assert len(stopped) == 2 and all(stop["outcome"] == "killed" for stop in stopped)
    finally:
        favour(primary.pid, os.sched_getaffinity(0), 0)
        site.service.cli("node", "set-cpu-source", site.node_id, "none")
        for row in site.nodes.primary.sql(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT BENCHMARK%'"
        ):
            site.nodes.primary.sql(f"KILL QUERY {int(row[0])}")


def favour(pid: int, cpus: set[int], nice: int) -> None:
    """Pin every thread of a process to ``cpus`` and set the scheduling weight of its session (the
    server runs in a session of its own, and Linux shares CPU between sessions first)."""
    for thread in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(thread), cpus)
    with open(f"/proc/{pid}/autogroup", "w") as autogroup:
        autogroup.write(str(nice))


def test_a_node_exporter_is_a_cpu_source(site: Site, clean: None, tmp_path: Any) -> None:
    binary = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"
    port = free_port()
    exporter = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults", "--collector.cpu"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        eventually(lambda: _answers(url), 10, "the node-exporter did not start")
        assert site.service.cli("node", "set-cpu-source", site.node_id, url).returncode == 0
        site.set_rule(condition="and", cpu_usage=100, active_sessions=5000)
        shown = eventually(
            lambda: (lambda s: s if s["cpu_usage_now"] is not None else None)(site.show_raw()),
            10,
            "no CPU reading from the node-exporter",
        )
        assert shown["cpu_source"] == "node_exporter" and 0 <= shown["cpu_usage_now"] <= 100
        expected = "met" if shown["cpu_usage_now"] >= 100 else "not_met"
        assert shown["cpu_condition"] == expected
        # the exporter goes away: the CPU is unknown again, and the note says why
        exporter.terminate()
        exporter.wait(10)
        shown = eventually(
            lambda: (lambda s: s if s["cpu_usage_now"] is None else None)(site.show_raw()),
            15,
            "the reading did not become unknown",
        )
        assert shown["cpu_condition"] == "unknown" and "node-exporter" in shown["note"]
    finally:
        exporter.kill()
        exporter.wait(10)
        site.service.cli("node", "set-cpu-source", site.node_id, "none")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


# -- the operations -----------------------------------------------------------------------------------
def test_set_show_change_switch_off_and_the_log(site: Site, clean: None) -> None:
    site.set_rule(start_time="22:00", end_time="02:00", retain_sql_rule=False)
    [shown] = site.show()
    assert (shown.node_id, shown.start_time, shown.end_time, shown.condition) == (
        site.node_id,
        "22:00",
        "02:00",
        "or",
    )
    assert (shown.cpu_usage, shown.active_sessions, shown.clear_time, shown.duration) == (100, 10, 4, 2)
    assert shown.max_concurrency == 3
    raw = site.show_raw()
    assert "retain_sql_rule" not in raw and raw["minute_seconds"] == 1.0
    # a change replaces the rule; Terraform sends retain_sql_rule as a string
    body = {
        "auto_sql_limiting_rules": [rule_fields(site.node_id) | {"retain_sql_rule": "true", "duration": 5}]
    }
    changed = site.signed("PUT", f"/instances/{site.instance_id}/auto-sql-limiting", body)
    assert changed.status_code == 200 and changed.json()["job_id"]
    assert site.show()[0].duration == 5
    # a node without a rule is left out; switched off, the primary is too
    assert site.show(site.main.replica.node_id) == []
    site.switch_off()
    assert site.show() == []
    with pytest.raises(ClientRequestException) as again:
        site.switch_off()
    assert again.value.error_code == "DBS.280417" and again.value.status_code == 404


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"cpu_usage": 69}, "cpu_usage"),
        ({"cpu_usage": 101}, "cpu_usage"),
        ({"active_sessions": 0}, "active_sessions"),
        ({"active_sessions": 5001}, "active_sessions"),
        ({"clear_time": 0}, "clear_time"),
        ({"clear_time": 1441}, "clear_time"),
        ({"duration": 1}, "duration"),
        ({"duration": 61}, "duration"),
        ({"max_concurrency": -1}, "max_concurrency"),
        ({"max_concurrency": 1000000001}, "max_concurrency"),
        ({"start_time": "24:00"}, "start_time"),
        ({"end_time": "9:30"}, "end_time"),
        ({"condition": "AND"}, "condition"),
        ({"retain_sql_rule": "yes"}, "retain_sql_rule"),
        ({"duration": "2"}, "duration"),
        ({"node_id": "x" * 36}, "node_id"),
    ],
)
def test_set_refuses_values_out_of_range(site: Site, change: dict[str, Any], where: str) -> None:
    body = {"auto_sql_limiting_rules": [rule_fields(site.node_id) | change]}
    answer = site.signed("PUT", f"/instances/{site.instance_id}/auto-sql-limiting", body)
    assert answer.status_code == 400 and answer.json()["error_code"] == "DBS.200001", answer.text
    assert where in answer.json()["error_msg"]


def test_errors_of_the_operations(site: Site) -> None:
    path = f"/instances/{site.instance_id}/auto-sql-limiting"
    rule = rule_fields(site.node_id)

    def put(body: Any) -> dict[str, Any]:
        answer = site.signed("PUT", path, body)
        return {"status": answer.status_code, **answer.json()}

    missing = {k: v for k, v in rule.items() if k != "duration"}
    assert put({"auto_sql_limiting_rules": [missing]})["error_code"] == "DBS.200001"
    assert put({"auto_sql_limiting_rules": []})["error_code"] == "DBS.200001"
    assert put({"auto_sql_limiting_rules": [rule, rule]})["error_code"] == "DBS.200001"
    empty = site.signed("PUT", path, raw=b"")
    assert empty.json()["error_code"] == "DBS.200006"
    replica = site.main.replica.node_id
    not_primary = put({"auto_sql_limiting_rules": [rule | {"node_id": replica}]})
    assert (not_primary["status"], not_primary["error_code"]) == (400, "DBS.280416")
    unknown = put({"auto_sql_limiting_rules": [rule | {"node_id": "a" * 32 + "no07"}]})
    assert (unknown["status"], unknown["error_code"]) == (404, "DBS.200013")
    other_instance = site.signed(
        "PUT", f"/instances/{'b' * 32}in07/auto-sql-limiting", {"auto_sql_limiting_rules": [rule]}
    )
    assert other_instance.json()["error_code"] == "DBS.200002"
    bad_instance = site.signed(
        "PUT", "/instances/nope/auto-sql-limiting", {"auto_sql_limiting_rules": [rule]}
    )
    assert bad_instance.json()["error_code"] == "DBS.280404"

    bodies: tuple[dict[str, Any], ...] = ({"node_ids": []}, {"node_ids": ["nope"]}, {})
    for body in bodies:
        shown = site.signed("POST", path, body)
        assert shown.status_code == 400 and shown.json()["error_code"] == "DBS.200001", body
    assert site.signed("POST", path, {"node_ids": ["c" * 32 + "no07"]}).json()["error_code"] == "DBS.200013"
    bad_node = site.signed("DELETE", f"/instances/{site.instance_id}/nodes/nope/auto-sql-limiting")
    assert bad_node.json()["error_code"] == "DBS.280404"
    log_unknown = site.signed(
        "GET", f"/instances/{site.instance_id}/nodes/{'d' * 32}no07/auto-sql-limiting/log"
    )
    assert log_unknown.json()["error_code"] == "DBS.200013"

    # the read-only role reads, never sets or switches off
    with pytest.raises(ClientRequestException) as refused:
        site.set_rule(user="rita")
    assert refused.value.error_code == "DBS.200010"
    request = DeleteAutoSqlLimitingRequest(instance_id=site.instance_id, node_id=site.node_id)
    with pytest.raises(ClientRequestException) as refused:
        site.sdk("rita").delete_auto_sql_limiting(request)
    assert refused.value.error_code == "DBS.200010"
    show = ShowSqlAutoSqlLimitingRequest(
        instance_id=site.instance_id, body=ShowSqlAutoSqlLimitingReq(node_ids=[site.node_id])
    )
    assert site.sdk("rita").show_sql_auto_sql_limiting(show).auto_sql_limiting_rules == []

    # jobs: unknown, malformed
    with pytest.raises(ClientRequestException) as no_job:
        site.sdk().show_gauss_my_sql_job_info(
            ShowGaussMySqlJobInfoRequest(id="0" * 8 + "-0000-0000-0000-" + "0" * 12)
        )
    assert (no_job.value.status_code, no_job.value.error_code) == (404, "DBS.280415")
    with pytest.raises(ClientRequestException) as bad_job:
        site.sdk().show_gauss_my_sql_job_info(ShowGaussMySqlJobInfoRequest(id="../x"))
    assert bad_job.value.error_code == "DBS.200001"


def test_changing_a_rule_ends_its_limits_at_once(site: Site, sessions: Sessions, clean: None) -> None:
    holder = hold_row_lock(site, sessions)
    start_burst(site, sessions, 12, first=400)
    logged = len(site.log())
    site.set_rule(clear_time=60, max_concurrency=2)
    eventually(lambda: len(site.log()) > logged, 6, "the rule did not fire")
    eventually(lambda: len(copies(site)) <= 2, 3, "the limit was not enforced")
    site.set_rule(clear_time=60, max_concurrency=2, active_sessions=5000)  # a change: it starts over
    raw = site.signed("GET", f"/instances/{site.instance_id}/nodes/{site.node_id}/auto-sql-limiting/log")
    assert raw.json()["logs"][0]["end_reason"] == "the rule was changed"
    assert raw.json()["logs"][0]["ended_at"] is not None
    again = start_burst(site, sessions, 5, first=450)
    time.sleep(1.0)
    assert all(s.error is None for s in again)  # no limit in force: nothing is stopped
    holder.execute("ROLLBACK")


# -- two service processes, one PostgreSQL inventory ----------------------------------------------------
@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer(ensure_bin_dir())
    server.start()
    yield server
    server.stop()


def test_two_processes_on_postgresql_enforce_a_limit_once(
    site: Site, postgres: PostgresServer, sessions: Sessions, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("limiting-pg")
    settings = {**LIMITER, "TAURUS_TASK_LEASE_SECONDS": "3"}
    first = ServiceProcess(folder, database_url=postgres.url, **settings)
    main, keys = first.inventory(lambda inventory: _populate(inventory, site.nodes))
    second = ServiceProcess(folder, database_url=postgres.url, **settings)
    first.start()
    second.start()
    try:
        pg_site = Site(site.nodes, first, main, keys)
        holder = hold_row_lock(pg_site, sessions)
        burst = start_burst(pg_site, sessions, 30, first=500)
        pg_site.set_rule(max_concurrency=4, clear_time=30)
        eventually(pg_site.log, 8, "the rule did not fire")
        eventually(lambda: sum(s.error is not None for s in burst) == 26, 5, "the excess was not stopped")
        time.sleep(1.5)  # both processes check five times a second: time enough to stop twice
        stops = audit_stops(pg_site)
        killed = [stop["id"] for stop in stops if stop["outcome"] == "killed"]
        assert len(killed) == 26 and len(set(killed)) == 26  # each copy stopped once, by one process
        assert len(pg_site.log()) == 1  # one limit, not one per process
        assert [s.error is None for s in burst].count(True) == 4
        holder.execute("ROLLBACK")
    finally:
        first.stop()
        second.stop()


def test_the_cli_sets_shows_logs_and_switches_off(site: Site, sessions: Sessions, clean: None) -> None:
    ak, sk = site.keys["alice"]
    env = {
        "HUAWEICLOUD_SDK_AK": ak,
        "HUAWEICLOUD_SDK_SK": sk,
        "HUAWEICLOUD_SDK_PROJECT_ID": site.main.project_id,
        "TAURUS_ENDPOINT": site.service.url,
    }
    where = ["--instance", site.instance_id, "--node", site.node_id]
    cli = site.service.cli
    holder = hold_row_lock(site, sessions)
    start_burst(site, sessions, 6, first=600)
    logged = len(site.log())
    limit = ["--active-sessions", "5", "--max-concurrency", "2", "--clear-time", "30"]
    set_ = cli("diagnosis", "sql-limit", "set", *where, *limit, env=env)
    assert set_.returncode == 0 and set_.stdout.strip().endswith(" Completed"), set_.stderr
    eventually(lambda: len(site.log()) > logged, 6, "the rule did not fire")
    shown = eventually(
        lambda: (lambda out: out if "LIMITED SQL" in out else None)(
            cli("diagnosis", "sql-limit", "show", *where, env=env).stdout
        ),
        5,
        "show lists no limit in force",
    )
    assert "active sessions >= 5" in shown and "state limiting" in shown and BURST_PATTERN in shown
    assert "no CPU source" in shown and "one minute of the rule is 1.0s" in shown
    log = cli("diagnosis", "sql-limit", "log", *where, env=env)
    assert BURST_PATTERN in log.stdout and log.stdout.startswith("CREATED")
    bad = cli("diagnosis", "sql-limit", "set", *where, *limit, "--condition", "xor", env=env)
    assert bad.returncode == 2 and "and or or" in bad.stderr
    assert cli("diagnosis", "sql-limit", "delete", *where, env=env).returncode == 0
    off = cli("diagnosis", "sql-limit", "show", *where, env=env)
    assert "off on this node" in off.stdout
    again = cli("diagnosis", "sql-limit", "delete", *where, env=env)
    assert again.returncode != 0 and "DBS.280417" in again.stderr
    wrong_source = cli("node", "set-cpu-source", site.node_id, "pidfile:relative")
    assert wrong_source.returncode == 2 and "absolute" in wrong_source.stderr
    holder.execute("ROLLBACK")

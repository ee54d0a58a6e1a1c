"""S9 the DAS API: ListProcesses and DeleteProcess as a registered database user, at S3's and S1's
sizes, against the driver logged in as that same user.

The benchmark creates a database account with PROCESS and SUPER (it sees and may kill every
session), registers it through RegisterDbUser, and then:

- **list** (S3's population): ``GET …/processes?db_user_id=…&offset=0&limit=100`` against DAS's own
  page statement (``nodes/das_sql.py``: the processlist with each session's transaction age and the
  window count, the caller's own connection left out) on a warm driver connection as the account;
- **kill** (S1's population): ``DELETE …/process`` with 20 ``process_ids`` against DAS's read of
  those sessions (internal verdict included) then one ``KILL CONNECTION`` per id, as the account.

Calls alternate (ABBA); every kill must remove all 20 sessions, every page be full, and both sides
count the same sessions (each leaves out its own connection and sees the other's).
"""

from __future__ import annotations

import random
import secrets
import time
from dataclasses import replace
from typing import Any

import orjson

from bench import population
from bench.api import ApiError, expect_ok
from bench.raw import RawNode
from bench.reference_sql import internal_rule
from bench.results import Figure, ScenarioResult, Target, check, latency_figures, latency_run
from bench.rig import Rig
from taurus_sessions.nodes import das_sql, sql

KEY = "S9"
TITLE = "DAS API: ListProcesses and DeleteProcess as a registered database user"
ACCOUNT = "das_dba"
IDS_PER_CALL = 20
PAGE = 100
LIST_LIMIT = 1.1  # S3's
KILL_LIMIT = 1.15  # S1's


async def _register(rig: Rig) -> tuple[str, str]:
    """The account on the node and its registration; (db_user_id, password)."""
    password = secrets.token_hex(12)
    who = f"'{ACCOUNT}'@'%'"
    await rig.node_sql(
        f"CREATE USER {who} IDENTIFIED BY '{password}';\nGRANT PROCESS, SUPER ON *.* TO {who};"
    )
    node = rig.node
    path = f"/v3/{node.project_id}/instances/{node.instance_id}/db-users"
    body = {"db_username": ACCOUNT, "db_user_password": password, "datastore_type": "MySQL"}
    response = await rig.http.send(
        rig.http.prepare(
            "POST",
            path,
            {"X-Auth-Token": rig.token, "Content-Type": "application/json"},
            orjson.dumps(body),
        )
    )
    if response.status != 200:
        raise ApiError(f"RegisterDbUser: HTTP {response.status} {response.body[:300]!r}")
    return str(response.json()["db_user_id"]), password  # type: ignore[index]


async def run(rig: Rig, repeats: int, seed: int) -> ScenarioResult:
    size = rig.size
    rng = random.Random(seed)
    db_user_id, password = await _register(rig)
    raw = await RawNode.open(rig.host, rig.port, ACCOUNT, password)
    rule = internal_rule(rig.sandbox.admin.user)  # only its dialect matters to DAS's statements
    node = rig.node
    base = f"/v3/{node.project_id}/instances/{node.instance_id}"
    headers = {"X-Auth-Token": rig.token}
    try:
        lists = await _lists(rig, raw, rule, base, headers, db_user_id, repeats)
        kills = await _kills(rig, raw, rule, base, headers, db_user_id, repeats, rng)
    finally:
        raw.close()
        # The service's DAS pool holds sessions of the account, which any later scenario's listing
        # would count as users' sessions: end them and the account.
        await rig.node_sql(f"KILL USER {ACCOUNT};\nDROP USER '{ACCOUNT}'@'%'")
    list_p50, list_p99 = latency_figures(lists, "driver as the account: DAS's page statement")
    kill_p50, kill_p99 = latency_figures(kills, "driver as the account: read + 20 KILL")
    list_sessions, kill_sessions = size.s9_list[0], size.s9_kill[0]
    figures = [
        _named(list_p50, f"ListProcesses p50, {list_sessions:,} sessions"),
        _named(list_p99, f"ListProcesses p99, {list_sessions:,} sessions"),
        _named(kill_p50, f"DeleteProcess p50, {kill_sessions:,} sessions"),
        _named(kill_p99, f"DeleteProcess p99, {kill_sessions:,} sessions"),
    ]
    return ScenarioResult(
        key=KEY,
        title=TITLE,
        figures=figures,
        targets=[
            Target(figures[0].name, "<=", LIST_LIMIT, figures[0].ratio),
            Target(figures[2].name, "<=", KILL_LIMIT, figures[2].ratio),
        ],
        runs=[{"kind": "ListProcesses", **r} for r in lists]
        + [{"kind": "DeleteProcess", **r} for r in kills],
        checks={
            "list_sessions_on_node": list_sessions,
            "kill_sessions_on_node": kill_sessions,
            "sessions_killed_and_gone": sum(r["killed"] for r in kills),
            "every_page_full_and_counts_agree": True,
        },
        notes=[f"the registered account {ACCOUNT} holds PROCESS and SUPER"],
    )


def _named(figure: Figure, name: str) -> Figure:
    return replace(figure, name=name)


async def _lists(
    rig: Rig,
    raw: RawNode,
    rule: sql.InternalRule,
    base: str,
    headers: dict[str, str],
    db_user_id: str,
    repeats: int,
) -> list[dict[str, Any]]:
    size = rig.size
    total, calls = size.s9_list
    await population.clear(rig)
    await population.open_sessions(rig, rig.app, total)
    request = rig.http.prepare(
        "GET", f"{base}/processes?db_user_id={db_user_id}&offset=0&limit={PAGE}", headers
    )
    page = das_sql.processes(rule, None, None, 0, PAGE, True)
    counts: set[int] = set()

    async def service() -> int:
        started = time.perf_counter_ns()
        response = await rig.http.send(request)
        elapsed = time.perf_counter_ns() - started
        body = expect_ok(response, "ListProcesses")
        check(len(body["processes"]) == PAGE, f"ListProcesses returned {len(body['processes'])} sessions")
        counts.add(int(body["count"]))
        return elapsed

    async def reference() -> int:
        started = time.perf_counter_ns()
        rows = await raw.fetch(page.sql, page.params)
        elapsed = time.perf_counter_ns() - started
        check(len(rows) == PAGE, f"the reference read {len(rows)} sessions")
        counts.add(int(das_sql.DasProcessRow._make(rows[0]).total))
        return elapsed

    runs: list[dict[str, Any]] = []
    for repeat in range(repeats):
        timings: dict[str, list[int]] = {"service": [], "reference": []}
        for call in range(size.s3_warmup + calls):
            sides = ("service", "reference") if (call + repeat) % 2 == 0 else ("reference", "service")
            for side in sides:
                elapsed = await (service() if side == "service" else reference())
                if call >= size.s3_warmup:
                    timings[side].append(elapsed)
        runs.append({"sessions": total, **latency_run(timings["service"], timings["reference"])})
    # Each side leaves out its own connection and sees the other's: the same count, the population
    # plus the node's other sessions (the service's pools, the references, internal threads).
    check(min(counts) >= total and max(counts) - min(counts) <= 4, f"counts disagree: {sorted(counts)}")
    await population.clear(rig)
    return runs


async def _kills(
    rig: Rig,
    raw: RawNode,
    rule: sql.InternalRule,
    base: str,
    headers: dict[str, str],
    db_user_id: str,
    repeats: int,
    rng: random.Random,
) -> list[dict[str, Any]]:
    size = rig.size
    total, calls = size.s9_kill
    await population.clear(rig)
    live = set(await population.open_sessions(rig, rig.app, total))
    kill_headers = {**headers, "Content-Type": "application/json"}

    async def service(victims: list[int]) -> int:
        body = orjson.dumps({"db_user_id": db_user_id, "process_ids": [str(v) for v in victims]})
        request = rig.http.prepare("DELETE", f"{base}/process", kill_headers, body)
        started = time.perf_counter_ns()
        response = await rig.http.send(request)
        elapsed = time.perf_counter_ns() - started
        expect_ok(response, "DeleteProcess")  # DAS answers {}; the node shows the result below
        return elapsed

    async def reference(victims: list[int]) -> int:
        read = das_sql.victims(rule, victims, None, None, len(victims))
        started = time.perf_counter_ns()
        rows = await raw.fetch(read.sql, read.params)
        to_kill = [int(r.id) for r in map(sql.ThreadRow._make, rows) if not r.internal]
        killed = await raw.kill_each(to_kill)
        elapsed = time.perf_counter_ns() - started
        check(sorted(killed) == sorted(victims), f"reference killed {len(killed)} of {len(victims)} sessions")
        return elapsed

    runs: list[dict[str, Any]] = []
    for repeat in range(repeats):
        timings: dict[str, list[int]] = {"service": [], "reference": []}
        killed: list[int] = []
        for call in range(size.s1_warmup + calls):
            sides = ("service", "reference") if (call + repeat) % 2 == 0 else ("reference", "service")
            round_victims: list[int] = []
            for side in sides:
                victims = rng.sample(sorted(live), IDS_PER_CALL)
                live.difference_update(victims)
                round_victims += victims
                elapsed = await (service(victims) if side == "service" else reference(victims))
                if call >= size.s1_warmup:
                    timings[side].append(elapsed)
            # The service's victims must be gone as well (its answer says nothing).
            await population.wait_gone(rig, round_victims)
            await rig.holder.close(round_victims)
            live.update(await rig.holder.open(rig.app, len(round_victims)))
            killed += round_victims
        await population.expect_exactly(rig, rig.app, live, "S9 population after the kills")
        runs.append(
            {
                "sessions": total,
                "killed": len(killed),
                **latency_run(timings["service"], timings["reference"]),
            }
        )
    await population.clear(rig)
    return runs

"""S10 the newer features' cost: intelligent kill's grouping, the SQL limiter's CPU and its stops,
and S1/S3 with an SQL limit in force on the node under test.

- **grouping**: ``GET …/intelligent-kill-session/statistic`` on a node where every user session runs
  a statement (ten templates, each with its own literals), against the service's own read of those
  rows (``nodes.sql.executing_threads``) on a warm driver connection. The service reads the same rows,
  then groups them by template; the target is its p50 ≤ 1.5× the read.
- **the limiter**: a second service (its own inventory, the same node, one rule minute = 1 s, so
  the rule's shortest duration, two minutes, passes in 2 s) gets an auto SQL limiting rule that
  fires on 6 active sessions and limits their template to 3. Its CPU (user + system of the
  process) is measured over the same wall time with the rule in force and before it was set, the
  node holding S1's idle population either way; the difference is what the limiter costs (target
  ≤ 5 % of a core). Then, one at a time, an excess execution of the limited template is started
  and the node polled (every 5 ms, over the driver) until its statement is gone: p50 and p99 of
  that delay, start to stop.
- **S1 and S3 with a limit**: S1's and S3's calls through that second service, before the rule was
  set and with the limit in force (the limiter checking the node every second), each against the
  driver as in S1 and S3, held to their targets.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import replace
from typing import Any

import orjson
import psutil

from bench import population
from bench.api import ApiError, expect_ok
from bench.results import (
    Figure,
    ScenarioResult,
    Target,
    check,
    latency_figures,
    latency_run,
    paired_figure,
)
from bench.rig import Deployed, Rig, deploy
from bench.scenarios import s1_kill, s3_list
from bench.stats import median, ms, percentile
from taurus_sessions.nodes import sql

KEY = "S10"
TITLE = "intelligent kill's grouping, the SQL limiter's CPU and stops, S1/S3 with a limit in force"
GROUPING_LIMIT = 1.5
CPU_LIMIT = 5.0  # % of one core
TEMPLATES = 10
FIRE_AT = 6  # active sessions that fire the rule
MAX_CONCURRENCY = 3
MARKER = "limited_by_s10"
POLL = 0.005
SLEEP = "SLEEP(86400)"


def _grouped_statements(count: int) -> list[str]:
    # Ten templates (the alias differs), each executed with its own literal.
    return [f"SELECT {SLEEP} AS g{index % TEMPLATES}, {index}" for index in range(count)]


def _limited_statement(index: int) -> str:
    return f"SELECT {SLEEP} AS {MARKER}, {index}"


async def _executing(rig: Rig) -> set[int]:
    rows = await rig.node_sql(
        f"SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '{rig.app.user}' "
        "AND COMMAND = 'Query' AND INFO LIKE 'SELECT SLEEP%'"
    )
    return {int(row[0]) for row in rows}


async def _end(rig: Rig) -> None:
    """Stop every running statement of the population (a closed socket does not end a SLEEP), then
    drop the sessions."""
    # Newest first, over the warm driver connection: MariaDB looks a thread up from the newest, so
    # thousands of KILLs oldest first through the command-line client take minutes.
    await rig.raw.kill_each(sorted(await _executing(rig), reverse=True))
    await population.clear(rig)


async def _until(what: str, condition: Any, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise ApiError(f"S10: {what} did not happen within {within:g} s")
        await asyncio.sleep(0.05)


async def _grouping(rig: Rig, repeats: int) -> list[dict[str, Any]]:
    size = rig.size
    sessions, calls = size.s10_grouping
    await population.clear(rig)
    opened = set(await rig.holder.open(rig.app, sessions, _grouped_statements(sessions)))

    async def all_running() -> bool:
        return await _executing(rig) == opened

    await _until(f"{sessions} running statements", all_running)
    node = rig.node
    request = rig.http.prepare(
        "GET",
        f"/v3/{node.project_id}/instances/{node.instance_id}/intelligent-kill-session/statistic"
        f"?node_id={node.node_id}",
        {"X-Auth-Token": rig.token},
    )
    read = sql.executing_threads(rig.rule)
    per_group = sessions // TEMPLATES

    async def service() -> int:
        started = time.perf_counter_ns()
        response = await rig.http.send(request)
        elapsed = time.perf_counter_ns() - started
        statistics = expect_ok(response, "ShowIntelligentKillSessionStatistic")["statistics"]
        check(bool(statistics), "the statistic is empty")
        counts = {int(stat["count"]) for stat in statistics}
        check(counts <= {per_group, per_group + 1}, f"groups of {sorted(counts)}, expected {per_group}")
        return elapsed

    async def reference() -> int:
        started = time.perf_counter_ns()
        rows = await rig.raw.fetch(read.sql, read.params)
        elapsed = time.perf_counter_ns() - started
        check(len(rows) >= sessions, f"the reference read {len(rows)} executing sessions")
        return elapsed

    runs: list[dict[str, Any]] = []
    for repeat in range(repeats):
        timings: dict[str, list[int]] = {"service": [], "reference": []}
        for call in range(size.s1_warmup + calls):
            sides = ("service", "reference") if (call + repeat) % 2 == 0 else ("reference", "service")
            for side in sides:
                elapsed = await (service() if side == "service" else reference())
                if call >= size.s1_warmup:
                    timings[side].append(elapsed)
        runs.append({"sessions": sessions, **latency_run(timings["service"], timings["reference"])})
    await _end(rig)
    return runs


async def _cpu_percent(target: Deployed, seconds: float) -> float:
    """The service process's CPU over ``seconds`` of wall time, in % of one core."""
    process = psutil.Process(target.service.pid)
    before, started = process.cpu_times(), time.monotonic()
    await asyncio.sleep(seconds)
    after, wall = process.cpu_times(), time.monotonic() - started
    used = (after.user - before.user) + (after.system - before.system)
    return float(100.0 * used / wall)


async def _set_rule(target: Deployed) -> None:
    node = target.node
    rule = {
        "node_id": node.node_id,
        "start_time": "00:00",
        "end_time": "23:59",
        "condition": "or",
        "cpu_usage": 100,
        "active_sessions": FIRE_AT,
        "clear_time": 1440,  # rule minutes (1 s each here): in force for the rest of the run
        "duration": 2,
        "max_concurrency": MAX_CONCURRENCY,
        "retain_sql_rule": True,
    }
    request = target.http.prepare(
        "PUT",
        f"/v3/{node.project_id}/instances/{node.instance_id}/auto-sql-limiting",
        {"X-Auth-Token": target.token, "Content-Type": "application/json"},
        orjson.dumps({"auto_sql_limiting_rules": [rule]}),
    )
    expect_ok(await target.http.send(request), "SetAutoSqlLimiting")


async def _fire(rig: Rig, limited: Deployed) -> None:
    """Set the rule, run FIRE_AT executions of one template, and wait for the limit to stop all but
    MAX_CONCURRENCY of them."""
    await _set_rule(limited)
    statements = [_limited_statement(index) for index in range(FIRE_AT)]
    await rig.holder.open(rig.app, FIRE_AT, statements)

    async def limited_to_max() -> bool:
        return len(await _executing(rig)) == MAX_CONCURRENCY

    await _until("the limit", limited_to_max)


async def _stop_delays(rig: Rig, count: int, rng: random.Random) -> list[float]:
    """Seconds from an excess execution's start to its stop, one excess execution at a time."""
    allowed = await _executing(rig)
    delays: list[float] = []
    for index in range(count):
        await asyncio.sleep(rng.uniform(0.0, 1.0))  # start at any phase of the limiter's checks
        (thread_id,) = await rig.holder.open(rig.app, 1, [_limited_statement(FIRE_AT + index)])
        started = time.monotonic()
        while True:
            rows = await rig.raw.fetch(
                "SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = %s", (thread_id,)
            )
            if not rows or rows[0][0] is None:
                break
            check(time.monotonic() - started < 30.0, "an excess execution ran for 30 s")
            await asyncio.sleep(POLL)
        delays.append(time.monotonic() - started)
        await rig.holder.close([thread_id])
    check(await _executing(rig) == allowed, "the limiter stopped an execution within the limit")
    return delays


async def _s1_s3(rig: Rig, limited: Deployed, repeats: int, seed: int, when: str) -> list[Figure]:
    sessions, calls = rig.size.s10_with_limit
    through = replace(rig, main=limited)
    kill = await s1_kill.at_population(through, sessions, calls, repeats, random.Random(seed))
    listing = await s3_list.at_population(through, sessions, calls, repeats)
    kill_p50, _ = latency_figures(kill, "driver: read + 20 KILL")
    list_p50, _ = latency_figures(listing, "driver: the same page query")
    return [
        replace(kill_p50, name=f"S1 p50, {sessions:,} sessions, {when}"),
        replace(list_p50, name=f"S3 p50, {sessions:,} sessions, {when}"),
    ]


async def run(rig: Rig, repeats: int, seed: int) -> ScenarioResult:
    size = rig.size
    rng = random.Random(seed)
    grouping = await _grouping(rig, repeats)
    group_p50, group_p99 = latency_figures(grouping, "driver: read of the executing sessions")
    sessions = size.s10_grouping[0]
    figures = [
        replace(group_p50, name=f"grouping p50, {sessions:,} executing sessions"),
        replace(group_p99, name=f"grouping p99, {sessions:,} executing sessions"),
    ]
    targets = [Target(figures[0].name, "<=", GROUPING_LIMIT, figures[0].ratio)]

    limited = await deploy(
        rig.stack, rig.folder / "limited", rig.sandbox, extra_env={"TAURUS_LIMITING_MINUTE_SECONDS": "1"}
    )
    without = await _s1_s3(rig, limited, repeats, seed, "no limit")
    idle, _ = rig.size.s10_with_limit
    await population.clear(rig)
    await population.open_sessions(rig, rig.app, idle)
    cpu_runs: list[dict[str, Any]] = []
    cpu_without = [await _cpu_percent(limited, size.s10_cpu_seconds) for _ in range(repeats)]
    await _fire(rig, limited)
    cpu_with = [await _cpu_percent(limited, size.s10_cpu_seconds) for _ in range(repeats)]
    cpu_runs = [{"with": w, "without": wo} for w, wo in zip(cpu_with, cpu_without, strict=True)]
    delays = await _stop_delays(rig, size.s10_stops, rng)
    await _end(rig)
    with_limit = await _s1_s3(rig, limited, repeats, seed + 1, "limit in force")

    cpu = paired_figure(
        "service CPU, % of a core",
        "%",
        cpu_runs,
        "with",
        "without",
        "the same service before the rule was set",
        short="without",
        numerator="with",
    )
    cpu = replace(cpu, difference=median([r["with"] - r["without"] for r in cpu_runs]))
    figures.append(cpu)
    targets.append(Target(cpu.name, "<=", CPU_LIMIT, cpu.difference or 0.0, of="difference"))
    check_seconds = 1.0
    for pct in (50, 99):
        delay = percentile(delays, pct)
        figures.append(
            Figure(
                f"excess execution, start to stop, p{pct}",
                "ms",
                ms(delay * 1e9),
                None,
                delay / check_seconds,
                "the limiter's check interval (1 s)",
                "delay / check interval",
            )
        )
    for before, after, limit in zip(without, with_limit, (s1_kill.P50_LIMIT, s3_list.P50_LIMIT), strict=True):
        figures += [before, after]
        targets.append(Target(after.name, "<=", limit, after.ratio))
    return ScenarioResult(
        key=KEY,
        title=TITLE,
        figures=figures,
        targets=targets,
        runs=[{"kind": "grouping", **r} for r in grouping]
        + [{"kind": "cpu", **r} for r in cpu_runs]
        + [{"kind": "stop delays", "seconds": delays}],
        checks={
            "grouped_sessions_executing": sessions,
            "groups_of_equal_size": True,
            "limit_held_executions_to": MAX_CONCURRENCY,
            "excess_executions_stopped": len(delays),
            "executions_within_the_limit_left_running": True,
        },
        notes=[
            f"S1/S3 with a limit: {size.s10_with_limit[0]:,} idle sessions; the limiter checks the node "
            "every second and its limit matches none of their calls",
        ],
    )

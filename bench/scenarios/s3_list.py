"""S3 list: ``GET …/processes?limit=100`` on a node with thousands of sessions, p50.

Reference: the service's own page statement (one page plus the window count of all user sessions,
internal threads excluded by the node) through the driver on a warm connection as the same admin
account. Calls alternate between the sides; both must return a full page and the exact total.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from bench import population
from bench.api import expect_ok
from bench.reference_sql import list_page
from bench.results import Figure, ScenarioResult, Target, check, latency_figures, latency_run
from bench.rig import Deployed, Rig
from taurus_sessions.nodes import sql

KEY = "S3"
TITLE = "list: GET ?limit=100 on a crowded node (100 to 10,000 sessions)"
PAGE = 100
P50_LIMIT = 1.1  # at every population from CURVE_FROM sessions up
CURVE_FROM = 1000


async def service_call(target: Deployed, total: int) -> int:
    """One timed list call through ``target``; the nanoseconds it took."""
    request = target.requests.list_page(target.node, PAGE)
    started = time.perf_counter_ns()
    response = await target.http.send(request)
    elapsed = time.perf_counter_ns() - started
    body = expect_ok(response, "list processes")
    check(body["total_count"] == total, f"service counted {body['total_count']} sessions, expected {total}")
    check(len(body["processes"]) == min(PAGE, total), f"service returned {len(body['processes'])} rows")
    return elapsed


async def reference_call(rig: Rig, statement: str, params: tuple[object, ...], total: int) -> int:
    started = time.perf_counter_ns()
    rows = await rig.raw.fetch(statement, params)
    elapsed = time.perf_counter_ns() - started
    check(len(rows) == min(PAGE, total), f"reference returned {len(rows)} rows")
    counted = int(sql.PageRow._make(rows[0]).total)
    check(counted == total, f"reference counted {counted} sessions, expected {total}")
    return elapsed


async def at_population(rig: Rig, total: int, calls: int, repeats: int) -> list[dict[str, Any]]:
    size = rig.size
    await population.clear(rig)
    await population.open_sessions(rig, rig.app, total)
    page = list_page(rig.rule, PAGE)
    runs: list[dict[str, Any]] = []
    for repeat in range(repeats):
        timings: dict[str, list[int]] = {"service": [], "reference": []}
        for call in range(size.s3_warmup + calls):
            sides = ("service", "reference") if (call + repeat) % 2 == 0 else ("reference", "service")
            for side in sides:
                if side == "service":
                    elapsed = await service_call(rig.main, total)
                else:
                    elapsed = await reference_call(rig, page.sql, page.params, total)
                if call >= size.s3_warmup:
                    timings[side].append(elapsed)
        runs.append({"sessions": total, **latency_run(timings["service"], timings["reference"])})
    await population.clear(rig)
    return runs


async def run(rig: Rig, repeats: int, curve: tuple[tuple[int, int], ...] | None = None) -> ScenarioResult:
    """At each population of ``curve`` (sessions, timed calls per side), the size's by default."""
    runs: list[dict[str, Any]] = []
    figures: list[Figure] = []
    targets: list[Target] = []
    for sessions, calls in curve or rig.size.s3_curve:
        at_size = await at_population(rig, sessions, calls, repeats)
        runs += at_size
        p50, p99 = latency_figures(at_size, "driver: the same page query")
        p50 = replace(p50, name=f"p50, {sessions:,} sessions")
        p99 = replace(p99, name=f"p99, {sessions:,} sessions")
        figures += [p50, p99]
        if sessions >= CURVE_FROM:
            targets.append(Target(p50.name, "<=", P50_LIMIT, p50.ratio))
    return ScenarioResult(
        key=KEY,
        title=TITLE,
        figures=figures,
        targets=targets,
        runs=runs,
        checks={
            "sessions_on_node": sorted({run["sessions"] for run in runs}),
            "every_page_full_and_total_exact": True,
        },
    )

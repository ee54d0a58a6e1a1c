"""S3 list: ``GET …/processes?limit=100`` on a node with thousands of sessions, p50.

Reference: the service's own page statement (one page plus the window count of all user sessions,
internal threads excluded by the node) through the driver on a warm connection as the same admin
account. Calls alternate between the sides; both must return a full page and the exact total.
"""

from __future__ import annotations

import time
from typing import Any

from bench import population
from bench.api import expect_ok
from bench.reference_sql import list_page
from bench.results import ScenarioResult, Target, check, latency_figures, latency_run
from bench.rig import Rig

KEY = "S3"
TITLE = "list: GET ?limit=100 on a crowded node"
PAGE = 100
P50_LIMIT = 1.5


async def _service_call(rig: Rig, request: bytes, total: int) -> int:
    started = time.perf_counter_ns()
    response = await rig.http.send(request)
    elapsed = time.perf_counter_ns() - started
    body = expect_ok(response, "list processes")
    check(body["total_count"] == total, f"service counted {body['total_count']} sessions, expected {total}")
    check(len(body["processes"]) == min(PAGE, total), f"service returned {len(body['processes'])} rows")
    return elapsed


async def _reference_call(rig: Rig, statement: str, params: tuple[object, ...], total: int) -> int:
    started = time.perf_counter_ns()
    rows = await rig.raw.fetch(statement, params)
    elapsed = time.perf_counter_ns() - started
    check(len(rows) == min(PAGE, total), f"reference returned {len(rows)} rows")
    check(int(rows[0][-1]) == total, f"reference counted {rows[0][-1]} sessions, expected {total}")
    return elapsed


async def run(rig: Rig, repeats: int) -> ScenarioResult:
    size = rig.size
    total = size.s3_sessions
    await population.clear(rig)
    await population.open_sessions(rig, rig.app, total)
    request = rig.requests.list_page(rig.node, PAGE)
    page = list_page(rig.rule, PAGE)
    runs: list[dict[str, Any]] = []
    for repeat in range(repeats):
        timings: dict[str, list[int]] = {"service": [], "reference": []}
        for call in range(size.s3_warmup + size.s3_calls):
            sides = ("service", "reference") if (call + repeat) % 2 == 0 else ("reference", "service")
            for side in sides:
                if side == "service":
                    elapsed = await _service_call(rig, request, total)
                else:
                    elapsed = await _reference_call(rig, page.sql, page.params, total)
                if call >= size.s3_warmup:
                    timings[side].append(elapsed)
        service, reference = timings["service"], timings["reference"]
        runs.append(latency_run(service, reference))
    await population.clear(rig)
    p50, p99 = latency_figures(runs, "driver: the same page query")
    return ScenarioResult(
        key=KEY,
        title=TITLE,
        figures=[p50, p99],
        targets=[Target("p50", "<=", P50_LIMIT, p50.ratio)],
        runs=runs,
        checks={"sessions_on_node": total, "every_page_full_and_total_exact": True},
    )

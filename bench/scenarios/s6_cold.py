"""S6 cold node: the first call to a node the service has no pool for, against a warm call.

Many nodes are registered (all on the same server, same admin account, their own ids). For each
node, in turn: a first ``GET …/processes`` (the service resolves the node from its inventory, opens
its pool and connects) then a second one (everything warm). The nodes are split evenly over the
repeated runs, so every cold call is a truly first call; each run compares the median cold call
with the median warm call.
"""

from __future__ import annotations

import time
from typing import Any

from bench import population
from bench.api import NodePath, expect_ok
from bench.fleet import register_nodes
from bench.results import ScenarioResult, Target, check, paired_figure
from bench.rig import Rig
from bench.stats import median, ms

KEY = "S6"
TITLE = "cold node: first call (new pool) vs warm call"
COLD_LIMIT = 3.0


async def _call(rig: Rig, node: NodePath, total: int) -> int:
    request = rig.requests.list_page(node, 100)
    started = time.perf_counter_ns()
    response = await rig.http.send(request)
    elapsed = time.perf_counter_ns() - started
    body = expect_ok(response, f"list processes on node {node.node_id}")
    check(
        body["total_count"] == total, f"node {node.node_id}: {body['total_count']} sessions, expected {total}"
    )
    return elapsed


async def run(rig: Rig, repeats: int) -> ScenarioResult:
    size = rig.size
    total = size.s4_sessions
    await population.clear(rig)
    await population.open_sessions(rig, rig.app, total)
    async with rig.service.inventory() as inventory:
        nodes = await register_nodes(
            inventory, rig.sandbox, rig.registration.project_id, "cold", size.s6_nodes
        )
    slices = max(1, min(repeats, len(nodes)))
    runs: list[dict[str, Any]] = []
    for index in range(slices):
        cold: list[int] = []
        warm: list[int] = []
        for node in nodes[index::slices]:
            cold.append(await _call(rig, node, total))
            warm.append(await _call(rig, node, total))
        runs.append(
            {
                "nodes": len(cold),
                "cold_p50_ms": ms(median(cold)),
                "warm_p50_ms": ms(median(warm)),
                "cold_max_ms": ms(max(cold)),
            }
        )
    await population.clear(rig)
    figure = paired_figure(
        "cold vs warm p50",
        "ms",
        runs,
        "cold_p50_ms",
        "warm_p50_ms",
        "warm call",
        short="warm",
        numerator="cold",
    )
    return ScenarioResult(
        key=KEY,
        title=TITLE,
        figures=[figure],
        targets=[Target(figure.name, "<=", COLD_LIMIT, figure.ratio)],
        runs=runs,
        checks={"registered_nodes": size.s6_nodes, "cold_calls": sum(r["nodes"] for r in runs)},
    )

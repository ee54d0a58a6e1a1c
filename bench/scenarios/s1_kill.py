"""S1 faithful kill: ``DELETE …/processes`` with 20 ids on a node holding idle sessions.

Reference, per call, on a warm driver connection as the same admin account: read those 20 threads
(the service's own statement, with the internal-thread verdict), then one ``KILL CONNECTION n``
statement per id. Calls alternate between the sides (ABBA order) so drift of a noisy machine falls
on both; each call kills 20 live idle sessions picked at random, and the population is topped up
again outside the timed region, so the node holds the same number of sessions for every call.
"""

from __future__ import annotations

import random
import time
from typing import Any

from bench import population
from bench.api import expect_ok
from bench.reference_sql import threads_by_id
from bench.results import ScenarioResult, Target, check, latency_figures, latency_run
from bench.rig import Rig

KEY = "S1"
TITLE = "faithful kill: DELETE 20 ids, idle sessions on the node"
IDS_PER_CALL = 20
P50_LIMIT = 1.3


async def _service_call(rig: Rig, victims: list[int]) -> int:
    request = rig.requests.delete(rig.node, victims)
    started = time.perf_counter_ns()
    response = await rig.http.send(request)
    elapsed = time.perf_counter_ns() - started
    body = expect_ok(response, "DELETE processes")
    check(
        sorted(body["processes_killed"]) == sorted(victims) and body["processes_not_found"] == [],
        f"service did not kill all 20 sessions: {body}",
    )
    return elapsed


async def _reference_call(rig: Rig, victims: list[int]) -> int:
    read = threads_by_id(rig.rule, victims)
    started = time.perf_counter_ns()
    rows = await rig.raw.fetch(read.sql, read.params)
    # The same decision the service makes: kill what is on the node and not internal.
    to_kill = [int(row[0]) for row in rows if not row[-1]]
    killed = await rig.raw.kill_each(to_kill)
    elapsed = time.perf_counter_ns() - started
    check(sorted(killed) == sorted(victims), f"reference killed {len(killed)} of {len(victims)} sessions")
    return elapsed


async def run(rig: Rig, repeats: int, seed: int) -> ScenarioResult:
    size = rig.size
    rng = random.Random(seed)
    await population.clear(rig)
    live = set(await population.open_sessions(rig, rig.app, size.s1_sessions))
    runs: list[dict[str, Any]] = []
    killed_total = 0
    for repeat in range(repeats):
        timings: dict[str, list[int]] = {"service": [], "reference": []}
        killed: list[int] = []
        for call in range(size.s1_warmup + size.s1_calls):
            sides = ("service", "reference") if (call + repeat) % 2 == 0 else ("reference", "service")
            round_victims: list[int] = []
            for side in sides:
                victims = rng.sample(sorted(live), IDS_PER_CALL)
                live.difference_update(victims)
                round_victims += victims
                work = _service_call if side == "service" else _reference_call
                elapsed = await work(rig, victims)
                if call >= size.s1_warmup:
                    timings[side].append(elapsed)
            # Top up outside the timed region: the node keeps its population for the next call.
            await rig.holder.close(round_victims)
            live.update(await rig.holder.open(rig.app, len(round_victims)))
            killed += round_victims
        await population.wait_gone(rig, killed)
        await population.expect_exactly(rig, rig.app, live, "S1 population after the kills")
        killed_total += len(killed)
        service, reference = timings["service"], timings["reference"]
        runs.append(latency_run(service, reference))
    await population.clear(rig)
    p50, p99 = latency_figures(runs, "driver: read + 20 KILL")
    return ScenarioResult(
        key=KEY,
        title=TITLE,
        figures=[p50, p99],
        targets=[Target("p50", "<=", P50_LIMIT, p50.ratio)],
        runs=runs,
        checks={
            "sessions_on_node": size.s1_sessions,
            "sessions_killed_and_gone": killed_total,
            "every_call_killed_all_20": True,
        },
    )

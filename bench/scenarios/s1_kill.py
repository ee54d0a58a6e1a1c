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
from dataclasses import replace
from typing import Any

from bench import population
from bench.api import expect_ok
from bench.reference_sql import threads_by_id
from bench.results import Figure, ScenarioResult, Target, check, latency_figures, latency_run
from bench.rig import Deployed, Rig
from taurus_sessions.nodes import sql

KEY = "S1"
TITLE = "faithful kill: DELETE 20 ids, idle sessions on the node (100 to 10,000 sessions)"
IDS_PER_CALL = 20
P50_LIMIT = 1.15  # at every population from CURVE_FROM sessions up
CURVE_FROM = 1000


async def service_call(target: Deployed, victims: list[int]) -> int:
    """One timed DELETE of ``victims`` through ``target``; the nanoseconds it took."""
    request = target.requests.delete(target.node, victims)
    started = time.perf_counter_ns()
    response = await target.http.send(request)
    elapsed = time.perf_counter_ns() - started
    body = expect_ok(response, "DELETE processes")
    check(
        sorted(body["processes_killed"]) == sorted(victims) and body["processes_not_found"] == [],
        f"service did not kill all 20 sessions: {body}",
    )
    return elapsed


async def reference_call(rig: Rig, victims: list[int]) -> int:
    read = threads_by_id(rig.rule, victims)
    started = time.perf_counter_ns()
    rows = await rig.raw.fetch(read.sql, read.params)
    # The same decision the service makes: kill what is on the node and not internal.
    to_kill = [int(r.id) for r in map(sql.ThreadRow._make, rows) if not r.internal]
    killed = await rig.raw.kill_each(to_kill)
    elapsed = time.perf_counter_ns() - started
    check(sorted(killed) == sorted(victims), f"reference killed {len(killed)} of {len(victims)} sessions")
    return elapsed


async def at_population(
    rig: Rig, sessions: int, calls: int, repeats: int, rng: random.Random
) -> list[dict[str, Any]]:
    """Every run at one population: paired latencies, each call on 20 fresh victims."""
    size = rig.size
    await population.clear(rig)
    live = set(await population.open_sessions(rig, rig.app, sessions))
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
                if side == "service":
                    elapsed = await service_call(rig.main, victims)
                else:
                    elapsed = await reference_call(rig, victims)
                if call >= size.s1_warmup:
                    timings[side].append(elapsed)
            # Top up outside the timed region: the node keeps its population for the next call.
            await rig.holder.close(round_victims)
            live.update(await rig.holder.open(rig.app, len(round_victims)))
            killed += round_victims
        await population.wait_gone(rig, killed)
        await population.expect_exactly(rig, rig.app, live, f"S1 population of {sessions} after the kills")
        runs.append(
            {
                "sessions": sessions,
                "killed": len(killed),
                **latency_run(timings["service"], timings["reference"]),
            }
        )
    await population.clear(rig)
    return runs


async def run(
    rig: Rig, repeats: int, seed: int, curve: tuple[tuple[int, int], ...] | None = None
) -> ScenarioResult:
    """At each population of ``curve`` (sessions, timed calls per side), the size's by default."""
    rng = random.Random(seed)
    runs: list[dict[str, Any]] = []
    figures: list[Figure] = []
    targets: list[Target] = []
    for sessions, calls in curve or rig.size.s1_curve:
        at_size = await at_population(rig, sessions, calls, repeats, rng)
        runs += at_size
        p50, p99 = latency_figures(at_size, "driver: read + 20 KILL")
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
            "sessions_killed_and_gone": sum(run["killed"] for run in runs),
            "every_call_killed_all_20": True,
        },
    )

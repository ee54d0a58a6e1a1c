"""S7 fixed cost per call: what the service adds to the node's own work, in milliseconds.

A node with 100 idle sessions. Each figure is the p50 of the service minus the p50 of the driver
sending the very statements the service sends, on a warm connection as the same admin account:

- **list**: ``GET …/processes?limit=100`` against the service's page statement (100 rows);
- **delete**: ``DELETE …/processes`` with 20 ids against the service's read of those threads (with
  the internal verdict) followed by its one multi-statement batch of 20 ``KILL CONNECTION``s, newest
  first. The service's time includes its write-ahead audit record and its completion;
- **delete, storm**: the same, on 20 sessions the holder opened just before the call (a connection
  storm: the victims are the node's newest threads, the node has just accepted 20 logins);
- **list / delete after an idle gap**: each call follows 2.5 s without any call, longer than the
  inventory caches' lifetime (2 s): what a caller who calls now and then pays.

Calls alternate between the sides (ABBA); after an idle gap both sides run back to back, in
alternating order. Victims are picked at random among live sessions and replaced outside the timed
region, so the node keeps 100 sessions.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import population
from bench.reference_sql import list_page, threads_by_id
from bench.results import ScenarioResult, Target, check, difference_figure
from bench.rig import Rig
from bench.scenarios import s1_kill, s3_list
from bench.stats import ms, percentile
from taurus_sessions.nodes import sql
from taurus_sessions.nodes.driver import KILL_BATCH

KEY = "S7"
TITLE = "fixed cost per call: service minus driver, node with 100 sessions"
IDS_PER_CALL = 20
PAGE = 100
LIST_LIMIT_MS = 0.7
DELETE_LIMIT_MS = 1.2
IDLE_GAP_SECONDS = 2.5  # longer than TAURUS_INVENTORY_CACHE_SECONDS (2 s by default)

Call = Callable[[], Awaitable[int]]


async def _reference_list(rig: Rig, total: int) -> int:
    page = list_page(rig.rule, PAGE)
    started = time.perf_counter_ns()
    rows = await rig.raw.fetch(page.sql, page.params)
    elapsed = time.perf_counter_ns() - started
    check(len(rows) == min(PAGE, total), f"reference returned {len(rows)} rows")
    check(int(sql.PageRow._make(rows[0]).total) == total, "reference miscounted the sessions")
    return elapsed


async def _service_delete(rig: Rig, victims: list[int]) -> int:
    return await s1_kill.service_call(rig.main, victims)


async def _reference_delete(rig: Rig, victims: list[int]) -> int:
    """The service's statements: the read with the internal verdict, then one KILL batch."""
    read = threads_by_id(rig.rule, victims)
    started = time.perf_counter_ns()
    rows = await rig.raw.fetch(read.sql, read.params)
    to_kill = [int(r.id) for r in map(sql.ThreadRow._make, rows) if not r.internal]
    done = await rig.raw.kill_batched(sorted(to_kill, reverse=True), KILL_BATCH)
    elapsed = time.perf_counter_ns() - started
    check(done == len(victims), f"reference killed {done} of {len(victims)} sessions")
    return elapsed


class _Victims:
    """Live sessions of the population; victims are replaced outside the timed region."""

    def __init__(self, rig: Rig, live: set[int], rng: random.Random) -> None:
        self.rig = rig
        self.live = live
        self.rng = rng
        self.killed: list[int] = []

    def pick(self) -> list[int]:
        victims = self.rng.sample(sorted(self.live), IDS_PER_CALL)
        self.live.difference_update(victims)
        return victims

    async def fresh(self) -> list[int]:
        """A storm: 20 sessions opened right now (the node's newest threads)."""
        return await self.rig.holder.open(self.rig.app, IDS_PER_CALL)

    async def replace(self, victims: list[int], *, refill: bool = True) -> None:
        await self.rig.holder.close(victims)
        self.killed += victims
        if refill:
            self.live.update(await self.rig.holder.open(self.rig.app, len(victims)))


async def _paired(
    calls: int, warmup: int, repeat: int, service: Call, reference: Call, gap: float = 0.0
) -> dict[str, list[int]]:
    timings: dict[str, list[int]] = {"service": [], "reference": []}
    for call in range(warmup + calls):
        if gap:
            await asyncio.sleep(gap)
        sides = ("service", "reference") if (call + repeat) % 2 == 0 else ("reference", "service")
        for side in sides:
            elapsed = await (service() if side == "service" else reference())
            if call >= warmup:
                timings[side].append(elapsed)
    return timings


def _run_figures(timings: dict[str, list[int]]) -> dict[str, float]:
    service, reference = timings["service"], timings["reference"]
    s50, r50 = ms(percentile(service, 50)), ms(percentile(reference, 50))
    return {
        "calls_per_side": len(service),
        "service_p50_ms": s50,
        "reference_p50_ms": r50,
        "difference_ms": s50 - r50,
        "service_p99_ms": ms(percentile(service, 99)),
        "reference_p99_ms": ms(percentile(reference, 99)),
    }


async def run(rig: Rig, repeats: int, seed: int) -> ScenarioResult:
    size = rig.size
    total = size.s7_sessions
    rng = random.Random(seed)
    await population.clear(rig)
    live = set(await population.open_sessions(rig, rig.app, total))
    victims = _Victims(rig, live, rng)
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in ("list", "delete", "storm", "idle_list", "idle")}

    async def delete_pair(side: Callable[[Rig, list[int]], Awaitable[int]], storm: bool) -> int:
        chosen = await victims.fresh() if storm else victims.pick()
        elapsed = await side(rig, chosen)
        await victims.replace(chosen, refill=not storm)
        return elapsed

    for repeat in range(repeats):
        timings = await _paired(
            size.s7_calls,
            size.s7_warmup,
            repeat,
            lambda: s3_list.service_call(rig.main, total),
            lambda: _reference_list(rig, total),
        )
        runs["list"].append(_run_figures(timings))
        timings = await _paired(
            size.s7_calls,
            size.s7_warmup,
            repeat,
            lambda: delete_pair(_service_delete, False),
            lambda: delete_pair(_reference_delete, False),
        )
        runs["delete"].append(_run_figures(timings))
        timings = await _paired(
            size.s7_storm_calls,
            2,
            repeat,
            lambda: delete_pair(_service_delete, True),
            lambda: delete_pair(_reference_delete, True),
        )
        runs["storm"].append(_run_figures(timings))
        timings = await _paired(
            size.s7_idle_calls,
            0,
            repeat,
            lambda: s3_list.service_call(rig.main, total),
            lambda: _reference_list(rig, total),
            gap=IDLE_GAP_SECONDS,
        )
        runs["idle_list"].append(_run_figures(timings))
        timings = await _paired(
            size.s7_idle_calls,
            0,
            repeat,
            lambda: delete_pair(_service_delete, False),
            lambda: delete_pair(_reference_delete, False),
            gap=IDLE_GAP_SECONDS,
        )
        runs["idle"].append(_run_figures(timings))
    await population.wait_gone(rig, victims.killed)
    await population.expect_exactly(rig, rig.app, victims.live, "S7 population after the kills")
    await population.clear(rig)
    figures = [
        difference_figure("list 100 rows", runs["list"], "driver: the same page query"),
        difference_figure("DELETE 20 ids", runs["delete"], "driver: the same read + one KILL batch"),
        difference_figure(
            "DELETE 20 ids, victims opened just before", runs["storm"], "driver: the same read + KILL batch"
        ),
        difference_figure(
            f"list 100 rows after {IDLE_GAP_SECONDS:g} s idle",
            runs["idle_list"],
            "driver: the same page query",
        ),
        difference_figure(
            f"DELETE 20 ids after {IDLE_GAP_SECONDS:g} s idle",
            runs["idle"],
            "driver: the same read + KILL batch",
        ),
    ]
    limits = (LIST_LIMIT_MS, DELETE_LIMIT_MS, DELETE_LIMIT_MS, LIST_LIMIT_MS, DELETE_LIMIT_MS)
    return ScenarioResult(
        key=KEY,
        title=TITLE,
        figures=figures,
        targets=[
            Target(f.name, "<=", limit, f.difference or 0.0, of="difference")
            for f, limit in zip(figures, limits, strict=True)
        ],
        runs=[{name: per_run[i] for name, per_run in runs.items()} for i in range(repeats)],
        checks={
            "sessions_on_node": total,
            "sessions_killed_and_gone": len(victims.killed),
            "every_call_killed_all_20": True,
        },
        notes=[
            "difference = p50 of the service minus p50 of the driver, per run; the median over runs",
            f"idle calls follow {IDLE_GAP_SECONDS:g} s without any call (inventory caches live 2 s)",
        ],
    )

"""S8 PostgreSQL inventory: S1's DELETE and S3's list through a service whose inventory is a
PostgreSQL server, beside the SQLite service of every other scenario and the driver.

The benchmark starts a PostgreSQL server of its own (``taurus_sessions.sandbox.postgres``: local,
``fsync=off`` as in the tests) and a second service on it, exactly as the first but for
``TAURUS_DATABASE_URL``; the node under test is registered in it too. Calls rotate between the three
sides (SQLite service, PostgreSQL service, driver), so both services meet the same node and the same
moments of a busy machine. The figure held to a target is PostgreSQL's p50 over SQLite's, per run.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from bench import population
from bench.reference_sql import list_page
from bench.results import Figure, ScenarioResult, Target, paired_figure
from bench.rig import Rig, deploy
from bench.scenarios import s1_kill, s3_list
from bench.stats import median, ms, percentile
from taurus_sessions.sandbox.postgres import PostgresServer, ensure_bin_dir

KEY = "S8"
TITLE = "PostgreSQL inventory: S1 and S3 through a service on PostgreSQL, beside SQLite"
LIMIT = 1.1  # PostgreSQL within 10 % of SQLite
SIDES = ("sqlite", "postgresql", "reference")


def _rotation(call: int) -> tuple[str, ...]:
    shift = call % len(SIDES)
    return SIDES[shift:] + SIDES[:shift]


def _run(timings: dict[str, list[int]], sessions: int) -> dict[str, Any]:
    run: dict[str, Any] = {"sessions": sessions, "calls_per_side": len(timings["sqlite"])}
    for side, values in timings.items():
        run[f"{side}_p50_ms"] = ms(percentile(values, 50))
        run[f"{side}_p99_ms"] = ms(percentile(values, 99))
    return run


async def _kills(rig: Rig, pg: Any, repeats: int, rng: random.Random) -> list[dict[str, Any]]:
    size = rig.size
    sessions, calls = size.s8_kill
    await population.clear(rig)
    live = set(await population.open_sessions(rig, rig.app, sessions))
    runs: list[dict[str, Any]] = []
    killed: list[int] = []
    for _ in range(repeats):
        timings: dict[str, list[int]] = {side: [] for side in SIDES}
        for call in range(size.s1_warmup + calls):
            round_victims: list[int] = []
            for side in _rotation(call):
                victims = rng.sample(sorted(live), s1_kill.IDS_PER_CALL)
                live.difference_update(victims)
                round_victims += victims
                if side == "reference":
                    elapsed = await s1_kill.reference_call(rig, victims)
                else:
                    elapsed = await s1_kill.service_call(rig.main if side == "sqlite" else pg, victims)
                if call >= size.s1_warmup:
                    timings[side].append(elapsed)
            await rig.holder.close(round_victims)
            live.update(await rig.holder.open(rig.app, len(round_victims)))
            killed += round_victims
        runs.append(_run(timings, sessions))
    await population.wait_gone(rig, killed)
    await population.expect_exactly(rig, rig.app, live, "S8 population after the kills")
    await population.clear(rig)
    return runs


async def _lists(rig: Rig, pg: Any, repeats: int) -> list[dict[str, Any]]:
    size = rig.size
    total, calls = size.s8_list
    await population.clear(rig)
    await population.open_sessions(rig, rig.app, total)
    page = list_page(rig.rule, s3_list.PAGE)
    runs: list[dict[str, Any]] = []
    for _ in range(repeats):
        timings: dict[str, list[int]] = {side: [] for side in SIDES}
        for call in range(size.s3_warmup + calls):
            for side in _rotation(call):
                if side == "reference":
                    elapsed = await s3_list.reference_call(rig, page.sql, page.params, total)
                else:
                    elapsed = await s3_list.service_call(rig.main if side == "sqlite" else pg, total)
                if call >= size.s3_warmup:
                    timings[side].append(elapsed)
        runs.append(_run(timings, total))
    await population.clear(rig)
    return runs


def _figures(label: str, runs: list[dict[str, Any]], reference_name: str) -> list[Figure]:
    versus = paired_figure(
        f"{label}: PostgreSQL vs SQLite p50",
        "ms",
        runs,
        "postgresql_p50_ms",
        "sqlite_p50_ms",
        "the SQLite service",
        short="SQLite",
        numerator="PostgreSQL",
    )
    sqlite = paired_figure(
        f"{label}: SQLite service p50", "ms", runs, "sqlite_p50_ms", "reference_p50_ms", reference_name
    )
    postgresql = paired_figure(
        f"{label}: PostgreSQL service p50",
        "ms",
        runs,
        "postgresql_p50_ms",
        "reference_p50_ms",
        reference_name,
    )
    return [versus, sqlite, postgresql]


async def run(rig: Rig, repeats: int, seed: int) -> ScenarioResult:
    server = PostgresServer(await asyncio.to_thread(ensure_bin_dir))
    rig.stack.callback(server.stop)
    await asyncio.to_thread(server.start)
    pg = await deploy(rig.stack, rig.folder / "service-postgresql", rig.sandbox, database_url=server.url)
    rng = random.Random(seed)
    kills = await _kills(rig, pg, repeats, rng)
    lists = await _lists(rig, pg, repeats)
    pg.service.stop()
    kill_figures = _figures(f"S1 ({rig.size.s8_kill[0]:,} sessions)", kills, "driver: read + 20 KILL")
    list_figures = _figures(f"S3 ({rig.size.s8_list[0]:,} sessions)", lists, "driver: the same page query")
    return ScenarioResult(
        key=KEY,
        title=TITLE,
        figures=[*kill_figures, *list_figures],
        targets=[
            Target(kill_figures[0].name, "<=", LIMIT, kill_figures[0].ratio),
            Target(list_figures[0].name, "<=", LIMIT, list_figures[0].ratio),
        ],
        runs=[{"kind": "S1", **r} for r in kills] + [{"kind": "S3", **r} for r in lists],
        checks={
            "kill_sessions_on_node": rig.size.s8_kill[0],
            "list_sessions_on_node": rig.size.s8_list[0],
            "every_call_killed_all_20": True,
            "every_page_full_and_total_exact": True,
            "median_postgresql_p50_ms": median([r["postgresql_p50_ms"] for r in kills + lists]),
        },
        notes=["PostgreSQL: a local server the benchmark starts (fsync off, as in the tests)"],
    )

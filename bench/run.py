"""Run every scenario against one rig, print the table, write the JSON.

``run_benchmark`` is the entry point for code (the smoke test calls it in-process); ``main`` is the
command line (``python -m bench``, ``scripts/bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import time
from collections.abc import Awaitable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from bench import eventloop, machine, profiler, report
from bench.results import ScenarioResult
from bench.rig import Rig, rig_up
from bench.scenarios import (
    s1_kill,
    s2_sweep,
    s3_list,
    s4_load,
    s5_memory,
    s6_cold,
    s7_fixed_cost,
    s8_postgresql,
    s9_das,
    s10_features,
)
from bench.service import SERVICE_ENV
from bench.sizes import SIZES, Size

OUT = Path(__file__).resolve().parent / "out"
SCENARIOS = ("S1", "S2", "S3", "S4", "S4w2", "S5", "S6", "S7", "S8", "S9", "S10")
GENERATORS = ("auto", "wrk", "python")
STACK = "uvicorn + SQLite inventory, token auth on, every TAURUS_* setting at its default except throttling"


def scenario_order(key: str) -> tuple[int, str]:
    """S1, S2, …, S10, S11 (then any suffix): the order of the table."""
    digits = key[1:]
    for index, char in enumerate(digits):
        if not char.isdigit():
            digits = digits[:index]
            break
    return (int(digits) if digits else 0, key)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _run_scenarios(
    rig: Rig, wanted: Sequence[str], repeats: int, seed: int, generator: str, profile: Path | None = None
) -> list[ScenarioResult]:
    results: list[ScenarioResult] = []

    async def timed(key: str, work: Awaitable[ScenarioResult]) -> None:
        _say(f"{key} ...")
        started = time.monotonic()
        if profile is not None:
            with profiler.recording(rig.service.pid, profile / f"{key}.txt"):
                result = await work
        else:
            result = await work
        results.append(result)
        _say(f"{key} done in {time.monotonic() - started:.0f} s")

    if "S1" in wanted:
        await timed("S1", s1_kill.run(rig, repeats, seed))
    if "S2" in wanted:
        await timed("S2", s2_sweep.run(rig, repeats))
    if "S3" in wanted:
        await timed("S3", s3_list.run(rig, repeats))
    if "S4" in wanted:
        await timed("S4", s4_load.run(rig, repeats, generator))
    if "S4w2" in wanted:
        await timed("S4w2", s4_load.run(rig, repeats, generator, workers=2))
    # The S1-S4 peak is taken before S6 and S5 register more nodes.
    peak_s1_s4 = rig.sampler.peak_now()
    if "S7" in wanted:
        await timed("S7", s7_fixed_cost.run(rig, repeats, seed))
    if "S8" in wanted:
        await timed("S8", s8_postgresql.run(rig, repeats, seed))
    if "S9" in wanted:
        await timed("S9", s9_das.run(rig, repeats, seed))
    if "S10" in wanted:
        await timed("S10", s10_features.run(rig, repeats, seed))
    if "S6" in wanted:
        await timed("S6", s6_cold.run(rig, repeats))
    if "S5" in wanted:
        await timed("S5", s5_memory.run(rig, peak_s1_s4))
    return sorted(results, key=lambda r: scenario_order(r.key))


async def _benchmark(
    size: Size,
    repeats: int,
    wanted: Sequence[str],
    seed: int,
    generator: str,
    keep: bool,
    profile: Path | None = None,
) -> dict[str, Any]:
    started_at = datetime.now(UTC)
    started = time.monotonic()
    _say(f"taurus-sessions benchmark: size {size.name}, {repeats} runs; starting a node and the service")
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1):
        # Other work on the machine shifts both sides of a ratio, but less so than absolute figures.
        _say(f"warning: load average {load:.1f} exceeds the CPU count; figures will be noisy")
    async with rig_up(size, keep=keep) as rig:
        version = (await rig.node_sql("SELECT VERSION()"))[0][0]
        host = await asyncio.to_thread(machine.describe, version)
        results = await _run_scenarios(rig, wanted, repeats, seed, generator, profile)
        if not rig.service.running:
            raise RuntimeError(f"the service died during the benchmark:\n{rig.service.log_tail()}")
    host["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return {
        "benchmark": "taurus-sessions",
        "schema": 1,
        "started_at": started_at.isoformat(),
        "duration_s": time.monotonic() - started,
        "size": size.name,
        "repeats": repeats,
        "seed": seed,
        "scenarios_run": list(wanted),
        "machine": host,
        "service": {
            "stack": STACK,
            "env": dict(SERVICE_ENV),
            "throttling": "every throttle off (TAURUS_RATE_LIMIT_PER_SECOND=0 and the per-address ones)",
        },
        "sizes": asdict(size),
        "scenarios": {r.key: r.as_dict() for r in results},
    }


def run_benchmark(
    size: str = "small",
    repeats: int | None = None,
    *,
    out_dir: Path | None = None,
    scenarios: Sequence[str] = SCENARIOS,
    seed: int | None = None,
    load_generator: str = "auto",
    keep: bool = False,
    command: str | None = None,
    profile: Path | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Run the benchmark; the path of the JSON written and its content."""
    chosen = SIZES[size]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise ValueError(f"unknown scenarios: {', '.join(sorted(unknown))}")
    runs = repeats if repeats is not None else chosen.repeats
    if runs < 1:
        raise ValueError("repeats must be at least 1")
    if load_generator not in GENERATORS:
        raise ValueError(f"load generator must be one of {', '.join(GENERATORS)}")
    wanted = [key for key in SCENARIOS if key in scenarios]
    document = eventloop.run(
        _benchmark(
            chosen,
            runs,
            wanted,
            seed if seed is not None else random.randrange(2**31),
            load_generator,
            keep,
            profile,
        )
    )
    document["command"] = command or f"run_benchmark({size!r}, repeats={repeats!r})"
    path = report.write_json(document, out_dir or OUT)
    return path, document


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/bench", description="Benchmark the service against references."
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="full", help="full: the issue's sizes")
    parser.add_argument(
        "--repeats", type=int, default=None, help="runs per figure (default: 5 full, 2 small)"
    )
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset, e.g. S1,S3")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for results-<timestamp>.json")
    parser.add_argument("--seed", type=int, default=None, help="seed for the choice of victims")
    parser.add_argument(
        "--load-generator",
        choices=GENERATORS,
        default="auto",
        help="S4's HTTP load generator (auto: wrk when installed, else the asyncio client)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, data)")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="py-spy the service during each scenario; raw stacks in this folder (figures then skew)",
    )
    args = parser.parse_args(argv)
    by_name = {key.upper(): key for key in SCENARIOS}
    wanted = [
        by_name.get(key.strip().upper(), key.strip()) for key in args.scenarios.split(",") if key.strip()
    ]
    # SIGTERM unwinds like Ctrl-C, so the servers this run started are stopped on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        path, document = run_benchmark(
            args.size,
            args.repeats,
            out_dir=args.out,
            scenarios=wanted,
            seed=args.seed,
            load_generator=args.load_generator,
            keep=args.keep,
            profile=args.profile,
            command=" ".join(["scripts/bench", *(argv if argv is not None else sys.argv[1:])]),
        )
    except KeyboardInterrupt:
        _say("interrupted; the servers this run started have been stopped")
        return 130
    print(report.table(document))
    print(f"\nfigures written to {path}")
    return 0

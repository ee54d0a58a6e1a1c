"""S2 sweep: kill every session of one account (thousands of idle sessions) in one call.

Three sides, each sweeping a fresh set of sessions of the swept account while bystander sessions of
another account stay on the node; only the sweep is timed:

- the service: ``POST …/processes/kill-by-filter`` with ``{"filter": {"user": U}, "victims": "all"}``;
- (a) the raw floor, on a warm driver connection as the same admin account: one processlist read of
  the account's sessions, then ``KILL CONNECTION`` in multi-statement batches of the service's own
  batch size (so both send the same number of round trips);
- (b) ``pt-kill --match-user '^U$' --victims all --kill``, one pass, timed as a whole command.

The order of the sides rotates between runs. After each sweep: every swept session is gone from the
node, and every bystander is still there.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench import population, ptkill
from bench.api import expect_ok
from bench.reference_sql import PLAIN_BY_USER
from bench.results import ScenarioResult, Target, check, paired_figure
from bench.rig import SWEEP_USER, Rig
from taurus_sessions.nodes.driver import KILL_BATCH

KEY = "S2"
TITLE = "sweep: kill by filter, every session of one account"
FLOOR_LIMIT = 1.2
SIDES = ("service", "floor", "pt-kill")
SWEEP_TIMEOUT = 600.0


async def _service(rig: Rig, victims: list[int]) -> float:
    request = rig.requests.kill_by_filter(rig.node, SWEEP_USER, max_victims=10000)
    started = time.perf_counter()
    response = await rig.http.send(request)
    elapsed = time.perf_counter() - started
    body = expect_ok(response, "kill-by-filter")
    outcomes = {int(r["id"]): r["outcome"] for r in body["results"]}
    check(body["matched"] == len(victims), f"service matched {body['matched']} of {len(victims)} sessions")
    check(set(outcomes) == set(victims), "service's victims are not the swept account's sessions")
    check(
        all(o == "killed" for o in outcomes.values()),
        f"service did not kill every session: {body['summary']}",
    )
    return elapsed


async def _floor(rig: Rig, victims: list[int]) -> float:
    started = time.perf_counter()
    rows = await rig.raw.fetch(PLAIN_BY_USER, (SWEEP_USER,))
    ids = [int(row[0]) for row in rows]
    done = await rig.raw.kill_batched(ids, KILL_BATCH)
    elapsed = time.perf_counter() - started
    check(set(ids) == set(victims), f"floor read {len(ids)} sessions, expected {len(victims)}")
    check(done == len(victims), f"floor killed {done} of {len(victims)} sessions")
    return elapsed


async def _pt_kill(rig: Rig, victims: list[int]) -> float:
    admin = rig.sandbox.admin
    defaults = ptkill.write_defaults_file(rig.folder, admin.user, admin.password)
    async with asyncio.timeout(SWEEP_TIMEOUT):
        result = await ptkill.sweep(defaults, rig.host, rig.port, SWEEP_USER)
    check(result.matched == len(victims), f"pt-kill matched {result.matched} of {len(victims)} sessions")
    check(
        result.killed == len(victims) and result.errors == 0,
        f"pt-kill killed {result.killed} of {len(victims)} ({result.errors} errors)",
    )
    return result.pass_seconds


WORK = {"service": _service, "floor": _floor, "pt-kill": _pt_kill}


async def run(rig: Rig, repeats: int) -> ScenarioResult:
    size = rig.size
    if not ptkill.available():
        raise RuntimeError("pt-kill is not installed (scripts/bootstrap bench installs percona-toolkit)")
    await population.clear(rig)
    bystanders = await population.open_sessions(rig, rig.app, size.s2_bystanders)
    runs: list[dict[str, Any]] = []
    for repeat in range(repeats):
        shift = repeat % len(SIDES)
        order = SIDES[shift:] + SIDES[:shift]
        seconds: dict[str, float] = {}
        for side in order:
            victims = await population.open_sessions(rig, rig.sweep, size.s2_sessions)
            async with asyncio.timeout(SWEEP_TIMEOUT):
                seconds[side] = await WORK[side](rig, victims)
            await population.wait_gone(rig, victims)
            await population.expect_exactly(rig, rig.sweep, [], f"{side} sweep left sessions of {SWEEP_USER}")
            await population.expect_exactly(rig, rig.app, bystanders, f"{side} sweep touched bystanders")
            await rig.holder.close(victims)
        runs.append(
            {
                "order": list(order),
                "service_s": seconds["service"],
                "floor_s": seconds["floor"],
                "pt_kill_s": seconds["pt-kill"],
            }
        )
    await population.clear(rig)
    vs_floor = paired_figure(
        "sweep vs floor", "s", runs, "service_s", "floor_s", "floor: read + batched KILL", short="floor"
    )
    vs_pt_kill = paired_figure(
        "pt-kill vs service",
        "s",
        runs,
        "service_s",
        "pt_kill_s",
        "pt-kill, one pass",
        short="pt-kill",
        inverse=True,
    )
    # pt-kill against the floor beside it: how much faster than pt-kill anything can be on this node.
    pt_kill_vs_floor = paired_figure(
        "pt-kill vs floor",
        "s",
        runs,
        "floor_s",
        "pt_kill_s",
        "pt-kill, one pass",
        short="pt-kill",
        numerator="floor",
        inverse=True,
    )
    return ScenarioResult(
        key=KEY,
        title=TITLE,
        figures=[vs_floor, vs_pt_kill, pt_kill_vs_floor],
        targets=[Target(vs_floor.name, "<=", FLOOR_LIMIT, vs_floor.ratio)],
        runs=runs,
        checks={
            "sessions_per_sweep": size.s2_sessions,
            "sweeps": len(runs) * len(SIDES),
            "bystanders_untouched": size.s2_bystanders,
            "swept_sessions_all_gone": True,
        },
        notes=[
            "pt-kill is timed from launch to the end of its one pass (start-up, connect, read, KILLs); "
            "the one-second sleep its loop adds before exiting is not counted."
        ],
    )

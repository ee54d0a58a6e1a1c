"""S5 memory: the service's peak resident memory over S1–S4, and with many more nodes registered,
each listed once (every listing opens a pool; the service caps open pools, least recently used
closed first). No reference: the figure is held to an absolute budget; its ratio is peak / budget.

The peak restarts when S1 starts. The set-up before it (start-up, and the token issue, whose
argon2id password check briefly takes 64 MiB) is reported as a figure of its own, without target.
"""

from __future__ import annotations

from bench import population
from bench.api import expect_ok
from bench.fleet import register_nodes
from bench.results import Figure, ScenarioResult, Target, check
from bench.rig import Rig
from bench.rss import MIB

KEY = "S5"
TITLE = "memory: peak RSS of the service"
BUDGET_MIB = 150.0


def _figure(name: str, mib: float) -> Figure:
    return Figure(name, "MiB", mib, None, mib / BUDGET_MIB, "budget", "peak / budget")


async def run(rig: Rig, peak_s1_s4: int) -> ScenarioResult:
    size = rig.size
    total = size.s4_sessions
    await population.clear(rig)
    await population.open_sessions(rig, rig.app, total)
    async with rig.service.inventory() as inventory:
        nodes = await register_nodes(
            inventory, rig.sandbox, rig.registration.project_id, "fleet", size.s5_nodes
        )
    for node in nodes:
        body = expect_ok(await rig.http.send(rig.requests.list_page(node, 100)), "list processes")
        check(body["total_count"] == total, f"node {node.node_id}: {body['total_count']} sessions")
    peak_all = rig.sampler.peak_now()
    await population.clear(rig)
    first = peak_s1_s4 / MIB
    overall = max(peak_all, peak_s1_s4) / MIB
    figures = [
        _figure("peak RSS, S1-S4", first),
        _figure(f"peak RSS, S1-S4 and {size.s5_nodes} more nodes listed", overall),
        _figure("peak RSS, set-up with token issue (no target)", rig.setup_peak / MIB),
    ]
    notes = ["peak = max of psutil samples every 50 ms and the kernel's high-water mark (VmHWM)"]
    if not rig.sampler.kernel_reset:
        notes.append("the kernel's high-water mark could not be reset: the peaks rely on the samples only")
    return ScenarioResult(
        key=KEY,
        title=TITLE,
        figures=figures,
        targets=[Target(figures[1].name, "<=", BUDGET_MIB, overall, of="value")],
        runs=[
            {
                "peak_s1_s4_mib": first,
                "peak_overall_mib": overall,
                "setup_peak_mib": rig.setup_peak / MIB,
                "rss_samples": rig.sampler.samples,
            }
        ],
        checks={"extra_nodes_listed": len(nodes)},
        notes=notes,
    )

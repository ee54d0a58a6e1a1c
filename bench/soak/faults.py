"""Carries out the fault plan: blackholes through a node's proxy, and a crash and restart of a
node's server on the same port. Each fault's window (from its start until the node serves again)
goes into the fault log, against which every node error is judged."""

from __future__ import annotations

import asyncio
import sys

from bench.soak.ledger import now
from bench.soak.schedule import PlannedFault
from bench.soak.workers import Soak, open_bystanders


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def inject(soak: Soak, plan: list[PlannedFault], started: float) -> None:
    for fault in plan:
        await soak.pause(max(0.0, started + fault.at - now()))
        if soak.stop.is_set():
            return
        node = soak.rig.nodes[fault.node]
        if fault.kind == "blackhole":
            window = soak.faults.begin(node.name, "blackhole", now())
            _say(f"  {window.start - started:6.1f} s  blackhole {node.name} for {fault.seconds:g} s")
            await asyncio.to_thread(node.proxy.blackhole)
            await soak.pause(fault.seconds)
            await asyncio.to_thread(node.proxy.heal)
            window.end = now()
            continue
        window = soak.faults.begin(node.name, "restart", now())
        _say(f"  {window.start - started:6.1f} s  crash {node.name}; start again in {fault.seconds:g} s")
        node.up.clear()
        node.epoch += 1  # before the crash: a probe that overlaps it cannot vouch for anything
        await asyncio.to_thread(node.server.crash)
        soak.ledger.lose(soak.ledger.open_on(node.node_id))
        node.probe.close()
        await asyncio.sleep(fault.seconds)
        await asyncio.to_thread(node.server.start_again)
        window.end = now()
        node.up.set()
        _say(f"  {window.end - started:6.1f} s  {node.name} serves again")
        await open_bystanders(soak, node)

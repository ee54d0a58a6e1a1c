"""One soak run from start to verdict, and the command line.

The load runs for the whole duration while the fault plan is carried out; then the load stops,
the kill task is stopped, every session still open is looked up on its node, the audit trail is
read through the API (after waiting, if need be, for records left pending to be settled), and the
invariants are checked. The table goes to stdout, the JSON to ``bench/out/soak-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import eventloop, machine
from bench.soak import report, schedule
from bench.soak.client import Api, CallLog
from bench.soak.faults import inject
from bench.soak.ledger import Ledger, now
from bench.soak.nodes import NodeDown
from bench.soak.resources import Sampler
from bench.soak.rig import LONGEST_CALL, TASKED, Rig, rig_up
from bench.soak.schedule import FaultLog
from bench.soak.verify import Inputs, check
from bench.soak.workers import TASK_INTERVAL, WORKERS, Soak, open_bystanders

OUT = Path(__file__).resolve().parent.parent / "out"
DEFAULT_GRACE = 5.0
WORKERS_STOP_TIMEOUT = 60.0
AUDIT_PAGE = 1000


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _create_task(soak: Soak, api: Api) -> str:
    primary = soak.rig.nodes[0]
    call = await api.call(
        "create_task",
        "POST",
        soak.path(primary, "/kill-tasks"),
        body={
            "name": "soak",
            "filter": {"user": TASKED},
            "interval_seconds": TASK_INTERVAL,
            "duration_seconds": None,
            "max_victims_per_pass": 100,
        },
        node=primary.name,
    )
    if call.status != 201 or not isinstance(call.body, dict):
        raise RuntimeError(f"the kill task was not created: {call.status} {call.body}")
    return str(call.body["task"]["id"])


async def _audit(soak: Soak, api: Api) -> list[dict[str, Any]]:
    """Every record of the project, oldest first."""
    records: list[dict[str, Any]] = []
    while True:
        call = await api.call(
            "audit_read",
            "GET",
            f"{soak.project_path}/audit-events",
            query={"limit": AUDIT_PAGE, "offset": len(records)},
        )
        if call.status != 200 or not isinstance(call.body, dict):
            raise RuntimeError(f"the audit trail could not be read: {call.status} {call.body}")
        page, total = call.body["events"], int(call.body["total_count"])
        call.body = None
        records += page
        if not page or len(records) >= total:
            break
    return sorted(records, key=lambda r: int(r["id"]))


async def _settled_audit(soak: Soak, api: Api) -> tuple[list[dict[str, Any]], int]:
    """The trail once no record is pending any more (recovery settles those older than the
    longest call), or as it stands when that has not happened in time."""
    deadline = time.monotonic() + LONGEST_CALL + 30
    while True:
        records = await _audit(soak, api)
        pending = sum(1 for r in records if r.get("outcome") == "pending")
        if not pending or time.monotonic() > deadline:
            return records, pending
        _say(f"{pending} audit records pending; waiting for recovery")
        await asyncio.sleep(2.0)


async def _final_look(soak: Soak) -> dict[str, set[tuple[int, str]]]:
    """Which open sessions are gone, and every thread on each node, as root sees them now."""
    threads: dict[str, set[tuple[int, str]]] = {}
    for node in soak.rig.nodes:
        deadline = time.monotonic() + 30
        while True:
            try:
                await node.observe(soak.ledger, soak.ledger.open_on(node.node_id))
                threads[node.node_id] = await node.probe.everything()
                break
            except NodeDown:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1.0)
    return threads


async def _wait_service(soak: Soak, until: float, sampler: Sampler) -> None:
    while now() < until:
        if not soak.rig.service.running:
            raise RuntimeError(f"the service died during the soak:\n{soak.rig.service.log_tail()}")
        sampler.sample()
        await asyncio.sleep(min(1.0, max(0.0, until - now())))


async def _stop_workers(soak: Soak, workers: list[asyncio.Task[None]]) -> None:
    soak.stop.set()
    done, pending = await asyncio.wait(workers, timeout=WORKERS_STOP_TIMEOUT)
    for task in pending:
        task.cancel()
    for task in done | pending:
        with contextlib.suppress(asyncio.CancelledError):
            error = task.exception() if task.done() and not task.cancelled() else None
            if error is not None:
                raise RuntimeError(f"a worker failed: {error!r}") from error
    if pending:
        raise RuntimeError(f"{len(pending)} workers did not stop in {WORKERS_STOP_TIMEOUT:g} s")


async def _run(rig: Rig, minutes: float, grace: float) -> dict[str, Any]:
    duration = minutes * 60.0
    plan = schedule.plan(duration)
    names = [n.name for n in rig.nodes]
    soak = Soak(rig, Ledger(), CallLog(), FaultLog(grace))
    sampler = Sampler(rig.service.pid)
    admin = soak.api()
    version = (await asyncio.to_thread(rig.sandbox.primary.sql, "SELECT VERSION()"))[0][0]
    host = await asyncio.to_thread(machine.describe, version)
    for node in rig.nodes:
        await open_bystanders(soak, node)
    soak.task_id = await _create_task(soak, admin)
    sampler.sample("start")
    sampler.machine(start=True)
    started = now()
    _say(f"soak: {minutes:g} min; faults planned:")
    for fault in plan:
        _say(f"  {fault.at:6.1f} s  {fault.kind} {names[fault.node]} ({fault.seconds:g} s)")
    workers = [asyncio.create_task(work(soak), name=name) for name, work in WORKERS.items()]
    injector = asyncio.create_task(inject(soak, plan, started), name="faults")
    try:
        await _wait_service(soak, started + duration, sampler)
    finally:
        sampler.sample("load_end")
        sampler.machine(start=False)
        load_seconds = now() - started
        if not injector.done():  # only when the run was cut short: finish the fault under way
            soak.stop.set()
        await injector
        await _stop_workers(soak, [*workers])
        for node in rig.nodes:
            await asyncio.to_thread(node.proxy.heal)
    _say("load stopped; stopping the task and checking the nodes and the trail")
    await admin.call(
        "stop_task", "POST", f"{soak.project_path}/kill-tasks/{soak.task_id}/stop", node=names[0]
    )
    await asyncio.sleep(TASK_INTERVAL + 1.0)  # a pass under way finishes and is recorded
    await admin.aclose()
    await asyncio.sleep(1.0)
    # After the load, with no client connected, and before the checks read the whole trail (pages
    # of a thousand records, which take memory of their own).
    sampler.sample("end")
    final_threads = await _final_look(soak)
    checker = soak.api()
    records, pending = await _settled_audit(soak, checker)
    shown = await checker.call("task_show", "GET", f"{soak.project_path}/kill-tasks/{soak.task_id}")
    task = shown.body.get("task") if isinstance(shown.body, dict) else None
    shown.body = None
    soak.ledger.close_all()
    await checker.aclose()
    await asyncio.sleep(1.0)
    sampler.sample("after_checks")
    resources = sampler.summary()
    invariants = check(
        Inputs(
            calls=soak.calls.calls,
            faults=soak.faults,
            sessions=soak.ledger.sessions,
            node_names={n.node_id: n.name for n in rig.nodes},
            records=records,
            task_id=soak.task_id,
            task=task,
            task_node=names[0],
            final_threads=final_threads,
            pending_after_wait=pending,
            resources=resources,
            faults_planned=len(plan),
        )
    )
    return {
        "soak": "taurus-sessions",
        "schema": 1,
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(),
        "minutes": minutes,
        "load_seconds": round(load_seconds, 1),
        "grace_s": grace,
        "machine": host,
        "service": {"env": rig.env, "longest_call_s": LONGEST_CALL},
        "plan": [f.as_dict(names) for f in plan],
        "faults": [
            {
                "node": w.node,
                "kind": w.kind,
                "start_s": round(w.start - started, 2),
                "end_s": round(w.end - started, 2) if w.end is not None else None,
            }
            for w in soak.faults.windows
        ],
        "requests": report.requests_summary(soak.calls.calls, soak.faults),
        "resources": resources,
        "audit": report.audit_summary(soak.calls.calls, records, soak.task_id),
        "task": task,
        "sessions": report.sessions_summary(soak.ledger.sessions)
        | {"open_failures": soak.ledger.open_failures},
        "notes": dict(soak.notes),
        "invariants": report.invariants_json(invariants),
        "ok": all(i.ok for i in invariants),
    }


async def _soak(minutes: float, grace: float, keep: bool) -> dict[str, Any]:
    started = time.monotonic()
    async with rig_up(keep=keep) as rig:
        document = await _run(rig, minutes, grace)
    document["wall_seconds"] = round(time.monotonic() - started, 1)
    return document


def run_soak(
    minutes: float = 10.0, *, grace: float = DEFAULT_GRACE, out_dir: Path | None = None, keep: bool = False
) -> tuple[Path, dict[str, Any]]:
    """Run a soak; the path of the JSON written and its content."""
    if minutes <= 0:
        raise ValueError("minutes must be positive")
    document = eventloop.run(_soak(minutes, grace, keep))
    folder = out_dir or OUT
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"soak-{stamp}.json"
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return path, document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="how long the load runs (fractions allowed)"
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE,
        help="seconds after a fault ends during which a node error on that node is still allowed",
    )
    parser.add_argument("--out", type=Path, default=None, help="folder for the JSON (default bench/out)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, data)")
    args = parser.parse_args(argv)
    path, document = run_soak(args.minutes, grace=args.grace, out_dir=args.out, keep=args.keep)
    print(report.table(document))
    print(f"\nwritten: {path}")
    return 0 if document["ok"] else 1

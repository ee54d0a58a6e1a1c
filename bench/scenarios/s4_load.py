"""S4 load: N concurrent clients listing a node with 100 sessions, closed loop, for a fixed time.

Service side: wrk (``-t1 -c32``, token header from a Lua script, latency percentiles), after a
warm-up run of its own; without wrk, the benchmark's asyncio HTTP client in a separate process.
Reference: N asyncio tasks in a separate process, each on its own driver connection as the same
admin account, running the service's page statement, after the same warm-up. The order of the two
sides alternates between runs. CPU time of the load generator, the service and the node is recorded
for each run, to show which process saturated.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

import orjson
import psutil

from bench import population, wrk
from bench.api import expect_ok
from bench.procs import PYTHON, child_env
from bench.reference_sql import list_page
from bench.results import ScenarioResult, Target, check, paired_figure
from bench.rig import Deployed, Rig, deploy

KEY = "S4"
TITLE = "load: concurrent clients, GET on a node with 100 sessions (one worker)"
THROUGHPUT_LIMIT = 0.4
P99_LIMIT = 4.0
# serve --workers 2: both cores serve
KEY_TWO = "S4w2"
TITLE_TWO = "load: concurrent clients, GET on a node with 100 sessions (serve --workers 2)"
THROUGHPUT_LIMIT_TWO = 0.85
P99_LIMIT_TWO = 2.0


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _loadgen(target: str, config: dict[str, Any]) -> dict[str, Any]:
    timeout = float(config["warmup"]) + float(config["seconds"]) + 120
    result = subprocess.run(
        [PYTHON, "-m", "bench.loadgen", "--target", target],
        input=orjson.dumps(config),
        env=child_env(),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"load generator failed: {result.stderr.decode(errors='replace')[-1500:]}")
    figures: dict[str, Any] = orjson.loads(result.stdout.splitlines()[-1])
    return figures


def _service_side(rig: Rig, target: Deployed, use_wrk: bool) -> dict[str, Any]:
    size = rig.size
    path = target.node.list_page(0, 100)
    if use_wrk:
        script = wrk.write_script(rig.folder)
        url = f"http://127.0.0.1:{target.service.port}{path}"
        wrk.run(script, url, target.token, size.s4_clients, size.s4_warmup_seconds)  # warm-up, discarded
        return wrk.run(script, url, target.token, size.s4_clients, size.s4_seconds)
    config = {
        "clients": size.s4_clients,
        "warmup": size.s4_warmup_seconds,
        "seconds": size.s4_seconds,
        "host": "127.0.0.1",
        "port": target.service.port,
        "path": path,
        "token": target.token,
    }
    return _loadgen("http", config)


def _reference_side(rig: Rig) -> dict[str, Any]:
    size = rig.size
    page = list_page(rig.rule, 100)
    admin = rig.sandbox.admin
    config = {
        "clients": size.s4_clients,
        "warmup": size.s4_warmup_seconds,
        "seconds": size.s4_seconds,
        "host": rig.host,
        "port": rig.port,
        "user": admin.user,
        "password": admin.password,
        "statement": page.sql,
        "params": list(page.params),
        "expect_total": size.s4_sessions,
    }
    return _loadgen("raw", config)


def _measured(rig: Rig, target: Deployed, side: str, use_wrk: bool) -> dict[str, Any]:
    """One side's run, with the CPU share of the service (all its processes) and of the node."""
    service, node = target.service, psutil.Process(rig.sandbox.primary.pid)
    service_cpu, node_cpu, started = service.cpu_seconds(), _cpu_seconds(node), time.perf_counter()
    figures = _service_side(rig, target, use_wrk) if side == "service" else _reference_side(rig)
    wall = time.perf_counter() - started
    figures["service_cpu_share"] = (service.cpu_seconds() - service_cpu) / wall
    figures["node_cpu_share"] = (_cpu_seconds(node) - node_cpu) / wall
    check(figures["requests"] > 0, f"{side}: no request completed")
    check(figures["errors"] == 0, f"{side}: {figures['errors']} failed requests")
    return figures


async def _expect_total(target: Deployed, total: int) -> None:
    body = expect_ok(await target.http.send(target.requests.list_page(target.node, 100)), "list processes")
    check(body["total_count"] == total, f"node shows {body['total_count']} sessions, expected {total}")


async def run(rig: Rig, repeats: int, generator: str = "auto", *, workers: int = 1) -> ScenarioResult:
    """``generator``: "wrk", "python" (the asyncio client), or "auto" (wrk when installed).
    ``workers`` above 1: a service of its own, started as ``serve --workers N`` for this scenario."""
    size = rig.size
    if generator == "wrk" and not wrk.available():
        raise RuntimeError("wrk is not installed (scripts/bootstrap bench installs it)")
    use_wrk = generator == "wrk" or (generator == "auto" and wrk.available())
    target = rig.main
    if workers > 1:
        folder = rig.folder / f"service-{workers}-workers"
        target = await deploy(rig.stack, folder, rig.sandbox, args=("--workers", str(workers)))
    await population.clear(rig)
    await population.open_sessions(rig, rig.app, size.s4_sessions)
    await _expect_total(target, size.s4_sessions)
    runs: list[dict[str, Any]] = []
    for repeat in range(repeats):
        order = ("service", "reference") if repeat % 2 == 0 else ("reference", "service")
        sides: dict[str, dict[str, Any]] = {}
        for side in order:
            sides[side] = await asyncio.to_thread(_measured, rig, target, side, use_wrk)
        service, reference = sides["service"], sides["reference"]
        runs.append(
            {
                "order": list(order),
                "service_rps": service["throughput"],
                "reference_rps": reference["throughput"],
                "service_p50_ms": service["p50_ms"],
                "reference_p50_ms": reference["p50_ms"],
                "service_p99_ms": service["p99_ms"],
                "reference_p99_ms": reference["p99_ms"],
                "service_side": service,
                "reference_side": reference,
            }
        )
    await _expect_total(target, size.s4_sessions)
    await population.clear(rig)
    if workers > 1:
        target.service.stop()  # its two workers would otherwise share the cores with what follows
    reference_name = f"driver: {size.s4_clients} tasks, own connections"
    throughput = paired_figure("throughput", "req/s", runs, "service_rps", "reference_rps", reference_name)
    p50 = paired_figure("p50", "ms", runs, "service_p50_ms", "reference_p50_ms", reference_name)
    p99 = paired_figure("p99", "ms", runs, "service_p99_ms", "reference_p99_ms", reference_name)
    generator = "wrk -t1" if use_wrk else "asyncio HTTP client (separate process)"
    two = workers > 1
    return ScenarioResult(
        key=KEY_TWO if two else KEY,
        title=TITLE_TWO if two else TITLE,
        figures=[throughput, p50, p99],
        targets=[
            Target("throughput", ">=", THROUGHPUT_LIMIT_TWO if two else THROUGHPUT_LIMIT, throughput.ratio),
            Target("p99", "<=", P99_LIMIT_TWO if two else P99_LIMIT, p99.ratio),
        ],
        runs=runs,
        checks={
            "sessions_on_node": size.s4_sessions,
            "clients": size.s4_clients,
            "seconds_per_side": size.s4_seconds,
            "failed_requests": 0,
            "load_generator": generator,
            "workers": workers,
        },
        notes=[f"service load generator: {generator}"],
    )

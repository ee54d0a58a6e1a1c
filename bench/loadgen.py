"""S4's closed-loop load in a process of its own: N concurrent clients, each on its own connection,
each sending its next call as soon as the previous one answered.

``--target raw`` is the reference: N asyncio tasks, each with its own driver connection as the
service's admin account, running the service's page statement. ``--target http`` is the same loop
over HTTP/1.1 keep-alive connections to the service (used when wrk is not installed).

The configuration (with the password or token) comes as JSON on stdin; the result is one JSON line
on stdout. Calls completing in the warm-up are not counted; the measured window follows it.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from bench import eventloop
from bench.http1 import HttpConnection
from bench.raw import RawNode
from bench.stats import ms, percentile

Call = Callable[[], Awaitable[bool]]


async def _http_client(config: dict[str, Any]) -> tuple[Call, Callable[[], Awaitable[None]]]:
    conn = HttpConnection(config["host"], int(config["port"]))
    request = conn.prepare("GET", config["path"], {"X-Auth-Token": config["token"]})
    await conn.send(request)  # connect now, not in the first timed call

    async def call() -> bool:
        return (await conn.send(request)).status == 200

    return call, conn.aclose


async def _raw_client(config: dict[str, Any]) -> tuple[Call, Callable[[], Awaitable[None]]]:
    node = await RawNode.open(config["host"], int(config["port"]), config["user"], config["password"])
    statement, params, total = config["statement"], tuple(config["params"]), int(config["expect_total"])

    async def call() -> bool:
        rows = await node.fetch(statement, params)
        return bool(rows) and int(rows[0][-1]) == total

    async def close() -> None:
        node.close()

    return call, close


async def measure(config: dict[str, Any]) -> dict[str, Any]:
    factory = _http_client if config["target"] == "http" else _raw_client
    clients = await asyncio.gather(*(factory(config) for _ in range(int(config["clients"]))))
    latencies: list[int] = []
    errors = 0
    start = time.perf_counter_ns()
    window_start = start + int(float(config["warmup"]) * 1e9)
    window_end = window_start + int(float(config["seconds"]) * 1e9)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)

    async def worker(call: Call) -> None:
        nonlocal errors
        while (began := time.perf_counter_ns()) < window_end:
            try:
                ok = await call()
            except Exception:
                ok = False
            done = time.perf_counter_ns()
            if window_start <= done <= window_end:
                latencies.append(done - began)
                errors += 0 if ok else 1

    try:
        await asyncio.gather(*(worker(call) for call, _ in clients))
    finally:
        for _, close in clients:
            await close()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    seconds = (window_end - window_start) / 1e9
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    wall = (time.perf_counter_ns() - start) / 1e9
    return {
        "requests": len(latencies),
        "seconds": seconds,
        "throughput": len(latencies) / seconds,
        "p50_ms": ms(percentile(latencies, 50)) if latencies else 0.0,
        "p99_ms": ms(percentile(latencies, 99)) if latencies else 0.0,
        "errors": errors,
        "generator_cpu_share": cpu / wall,  # of one core, over warm-up and window
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", choices=("http", "raw"), required=True)
    target = parser.parse_args().target
    config = orjson.loads(sys.stdin.buffer.read())
    config["target"] = target
    result = eventloop.run(measure(config))
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")


if __name__ == "__main__":
    main()

"""wrk as S4's HTTP load generator: C, event-driven, a few percent of a core at these rates, so the
service (not the generator) is what saturates. One thread, N keep-alive connections, closed loop."""

from __future__ import annotations

import math
import os
import resource
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson

MARK = "BENCH-JSON "

# The token comes from the environment, so it is in neither the script file nor the command line.
SCRIPT = """\
-- S4: GET the page with the caller's token; the figures as one JSON line when the run ends.
wrk.method = "GET"
wrk.headers["X-Auth-Token"] = os.getenv("BENCH_TOKEN")

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "%s{\\"requests\\":%d,\\"duration_us\\":%d,\\"p50_us\\":%d,\\"p99_us\\":%d,"
      .. "\\"non2xx\\":%d,\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d,\\"timeout\\":%d}\\n",
    "MARK", summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
""".replace('"MARK"', f'"{MARK}"')


class WrkError(RuntimeError):
    pass


def available() -> bool:
    return shutil.which("wrk") is not None


def write_script(folder: Path) -> Path:
    path = folder / "s4.lua"
    path.write_text(SCRIPT)
    return path


def run(script: Path, url: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    """One wrk run (blocking); its figures plus the CPU time wrk itself used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{clients}",
            f"-d{max(1, math.ceil(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        env={**os.environ, "BENCH_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in result.stdout.splitlines() if line.startswith(MARK)]
    if result.returncode != 0 or not lines:
        raise WrkError(f"wrk failed ({result.returncode}): {result.stderr[-500:]} {result.stdout[-500:]}")
    figures: dict[str, Any] = orjson.loads(lines[-1][len(MARK) :])
    wall = figures["duration_us"] / 1e6
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "requests": figures["requests"],
        "seconds": wall,
        "throughput": figures["requests"] / wall,
        "p50_ms": figures["p50_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "errors": sum(figures[kind] for kind in ("non2xx", "connect", "read", "write", "timeout")),
        "generator_cpu_share": cpu / wall,
    }

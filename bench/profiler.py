"""Sampling profiles of the service while a scenario runs (``--profile DIR``): py-spy attached to the
service process, raw collapsed stacks written per scenario, and a summary of the functions that
held the most samples (self and inclusive), which RESULTS.md quotes.

py-spy samples the running process from outside (no code in the service changes); it costs the
service a little time, so figures of a profiled run are not comparable with an unprofiled one.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from bench.procs import PYTHON

PY_SPY = Path(PYTHON).with_name("py-spy")
RATE = 250  # samples per second


def available() -> bool:
    return PY_SPY.exists() or shutil.which("py-spy") is not None


@contextlib.contextmanager
def recording(pid: int, output: Path) -> Iterator[None]:
    """py-spy on ``pid`` while the block runs; raw collapsed stacks in ``output``."""
    binary = str(PY_SPY) if PY_SPY.exists() else "py-spy"
    output.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, "record", "-p", str(pid), "-r", str(RATE), "-f", "raw", "-o", str(output), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        if process.returncode not in (0, -signal.SIGINT) and not output.exists():
            print(f"py-spy failed: {err.decode(errors='replace')[-500:]}", file=sys.stderr)


def _frames(stack: str) -> list[str]:
    return [frame for frame in stack.split(";") if frame]


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" → "function (module.py)"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = path.replace("\\", "/").split("/")
    return f"{name} ({'/'.join(parts[-2:])})"


def summarize(path: Path, top: int = 25, *, skip_idle: bool = True) -> str:
    """The ``top`` functions by self and by inclusive samples, as a share of the non-idle samples."""
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        frames = [_short(frame) for frame in _frames(stack)]
        # Threads waiting for work (the event loop's select, executor threads) are not work.
        if skip_idle and frames and any(idle in frames[-1] for idle in _IDLE):
            continue
        count = int(count_text)
        total += count
        if frames:
            self_counts[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if total == 0:
        return "no samples"
    lines = [f"{total} samples (idle left out)", "", "self:"]
    lines += [f"  {count / total:6.1%}  {name}" for name, count in self_counts.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"  {count / total:6.1%}  {name}" for name, count in inclusive.most_common(top)]
    return "\n".join(lines)


_IDLE = ("select (selectors.py)", "wait (threading.py)", "_worker (thread.py)", "poll (selectors.py)")


def main() -> None:
    for name in sys.argv[1:]:
        print(f"== {name}")
        print(summarize(Path(name)))


if __name__ == "__main__":
    main()

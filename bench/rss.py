"""Resident memory of the service: a psutil sampler in the background plus the kernel's own peak.

The sampler (every 50 ms) gives the timeline; ``VmHWM`` from ``/proc/<pid>/status`` is the exact
high-water mark, which catches a peak that falls between two samples. Both restart when the
measured phase starts, so the set-up (which issues the token: an argon2id password check that
briefly takes 64 MiB) is reported apart from the scenarios.
"""

from __future__ import annotations

import threading
from pathlib import Path

import psutil

MIB = 2**20


def reset_high_water_mark(pid: int) -> bool:
    """Restart the kernel's peak from the current RSS (``clear_refs`` 5); False where not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def high_water_mark(pid: int) -> int | None:
    """Peak resident bytes since the process started (Linux ``VmHWM``)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class RssSampler:
    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._lock = threading.Lock()
        self.samples = 0
        self.peak = 0
        self.kernel_reset = True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = int(self._process.memory_info().rss)
            except psutil.Error:
                return
            with self._lock:
                self.samples += 1
                self.peak = max(self.peak, rss)
            self._stop.wait(self._interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def reset_peak(self) -> bool:
        """Start a new peak here (the kernel's too, where allowed); whether the kernel's was reset."""
        with self._lock:
            self.peak = 0
            self.kernel_reset = reset_high_water_mark(self._process.pid)
        return self.kernel_reset

    def peak_now(self) -> int:
        """The largest of the sampled peak and the kernel's high-water mark, in bytes."""
        with self._lock:
            sampled, kernel_reset = self.peak, self.kernel_reset
        # Without a reset the kernel's mark still holds the set-up's peak: rely on the samples then.
        kernel = high_water_mark(self._process.pid) if kernel_reset else None
        return max(sampled, kernel or 0)

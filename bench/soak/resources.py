"""The service process's resident memory, open file descriptors and CPU time, sampled with psutil."""

from __future__ import annotations

import resource
from dataclasses import dataclass
from typing import Any

import psutil

from bench.soak.ledger import now

MIB = 2**20


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    rss: int
    fds: int
    cpu: float  # user + system seconds since the process started
    own_cpu: float  # the same for the soak's own process


class Sampler:
    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.samples: list[Sample] = []
        self.marks: dict[str, Sample] = {}
        self.machine_cpu_percent: float | None = None  # every core, over the load

    def machine(self, start: bool) -> None:
        """Start (or read) the machine's CPU use over an interval: 100 % is every core busy."""
        value = psutil.cpu_percent(interval=None)
        if not start:
            self.machine_cpu_percent = value

    def sample(self, mark: str | None = None) -> Sample:
        with self._process.oneshot():
            times = self._process.cpu_times()
            own = resource.getrusage(resource.RUSAGE_SELF)
            taken = Sample(
                now(),
                int(self._process.memory_info().rss),
                self._process.num_fds(),
                times.user + times.system,
                own.ru_utime + own.ru_stime,
            )
        self.samples.append(taken)
        if mark is not None:
            self.marks[mark] = taken
        return taken

    def _near(self, at: float) -> Sample:
        return min(self.samples, key=lambda s: abs(s.at - at))

    def summary(self) -> dict[str, Any]:
        """Start: before the load. End: after it, with no client connected and before the checks.
        Max: up to the end. The second half of the load shows growth once the service is warm."""
        start, end = self.marks["start"], self.marks["end"]
        load_end = self.marks.get("load_end", end)
        during = [s for s in self.samples if s.at <= end.at]
        middle = self._near(start.at + (load_end.at - start.at) / 2)
        after = self.marks.get("after_checks")
        seconds = max(load_end.at - start.at, 1e-9)
        return {
            "rss_mib": {
                "start": round(start.rss / MIB, 1),
                "end": round(end.rss / MIB, 1),
                "max": round(max(s.rss for s in during) / MIB, 1),
                "growth": round((end.rss - start.rss) / MIB, 1),
                "growth_second_half_of_load": round((load_end.rss - middle.rss) / MIB, 1),
                "after_checks": round(after.rss / MIB, 1) if after else None,
            },
            "fds": {
                "start": start.fds,
                "end": end.fds,
                "max": max(s.fds for s in during),
                "growth": end.fds - start.fds,
                "after_checks": after.fds if after else None,
            },
            "cpu_share_of_one_core": round((load_end.cpu - start.cpu) / seconds, 3),
            "soak_cpu_share_of_one_core": round((load_end.own_cpu - start.own_cpu) / seconds, 3),
            "machine_cpu_percent_all_cores": self.machine_cpu_percent,
            "samples": len(self.samples),
            "timeline": [
                {"t": round(s.at - start.at, 1), "rss_mib": round(s.rss / MIB, 1), "fds": s.fds}
                for s in self.samples[:: max(1, len(self.samples) // 120)]
            ],
        }

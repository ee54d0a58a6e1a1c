"""When which node fails, planned from the run's length, and when it actually did.

A run of two minutes or more follows the minute: at second 15 of every minute one node is
blackholed for 12 s (the nodes take turns), and once, 40 s into the middle minute, the primary is
crashed and started again on the same port. A shorter run compresses the same faults into its
length: one blackhole (of the replica) early on, the restart of the primary past the middle, each
with time left to recover before the run ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["blackhole", "restart"]

BLACKHOLE_SECONDS = 12.0
RESTART_DOWN_SECONDS = 5.0
PER_MINUTE_FROM = 120.0  # runs at least this long get a blackhole every minute
TAIL_SECONDS = 10.0  # a fault ends at least this long before the load stops


@dataclass(frozen=True, slots=True)
class PlannedFault:
    at: float  # seconds after the load starts
    kind: FaultKind
    node: int  # index into the nodes: 0 the primary, 1 the replica
    seconds: float  # how long the blackhole lasts, or how long the node stays down

    def as_dict(self, names: list[str]) -> dict[str, object]:
        return {"at_s": self.at, "kind": self.kind, "node": names[self.node], "seconds": self.seconds}


def plan(duration: float) -> list[PlannedFault]:
    """The faults of a run lasting ``duration`` seconds, in time order."""
    if duration < PER_MINUTE_FROM:
        return _compressed(duration)
    faults: list[PlannedFault] = []
    minutes = int(duration // 60)
    for minute in range(minutes):
        at = 60.0 * minute + 15.0
        if at + BLACKHOLE_SECONDS + TAIL_SECONDS <= duration:
            faults.append(PlannedFault(at, "blackhole", minute % 2, BLACKHOLE_SECONDS))
    restart_at = 60.0 * (minutes // 2) + 40.0
    if restart_at + RESTART_DOWN_SECONDS + TAIL_SECONDS <= duration:
        faults.append(PlannedFault(restart_at, "restart", 0, RESTART_DOWN_SECONDS))
    return sorted(faults, key=lambda f: f.at)


def _compressed(duration: float) -> list[PlannedFault]:
    blackhole = min(BLACKHOLE_SECONDS, max(4.0, 0.2 * duration))
    down = min(RESTART_DOWN_SECONDS, max(2.0, 0.05 * duration))
    return [
        PlannedFault(max(3.0, 0.15 * duration), "blackhole", 1, blackhole),
        PlannedFault(0.55 * duration, "restart", 0, down),
    ]


@dataclass(slots=True)
class FaultWindow:
    """A fault as it happened (wall-clock seconds): from its start until the node serves again."""

    node: str
    kind: FaultKind
    start: float
    end: float | None = None  # healed, or the restarted server answers again

    def covers(self, t0: float, t1: float, grace: float) -> bool:
        """Whether [t0, t1] meets the fault, counting ``grace`` seconds after its end."""
        end = (self.end if self.end is not None else float("inf")) + grace
        return t0 <= end and t1 >= self.start


class FaultLog:
    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.windows: list[FaultWindow] = []

    def begin(self, node: str, kind: FaultKind, at: float) -> FaultWindow:
        window = FaultWindow(node, kind, at)
        self.windows.append(window)
        return window

    def faulted(self, node: str | None, t0: float, t1: float) -> bool:
        """Whether ``node`` was faulted (or just recovering) at some moment of [t0, t1]."""
        if node is None:
            return False
        return any(w.node == node and w.covers(t0, t1, self.grace) for w in self.windows)

    def active(self, node: str, at: float) -> bool:
        return self.faulted(node, at, at)

    def covering(self, node: str | None, t0: float, t1: float) -> list[FaultWindow]:
        return [w for w in self.windows if w.node == node and w.covers(t0, t1, self.grace)]

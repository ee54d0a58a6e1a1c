"""Domain types shared by the service layer and the node driver: sessions, filters, kill outcomes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Process:
    """One user session thread, as the list API shows it."""

    id: int
    user: str
    host: str
    db: str | None
    command: str
    time: int
    state: str | None
    info: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "host": self.host,
            "db": self.db,
            "command": self.command,
            "time": self.time,
            "state": self.state,
            "info": self.info,
        }


@dataclass(frozen=True, slots=True)
class Thread:
    """A thread as found on the node at kill time, with the verdict of the internal-thread rule."""

    process: Process
    internal: bool


class KillMode(enum.Enum):
    CONNECTION = "connection"
    QUERY = "query"


class KillResult(enum.Enum):
    """What the node said to one KILL."""

    KILLED = "killed"
    NO_SUCH_THREAD = "no_such_thread"  # error 1094: gone before the KILL arrived
    DENIED = "denied"  # error 1095: the node refused (not owner / insufficient privilege)


class Outcome(enum.Enum):
    """Per-id verdicts of the kill-with-reasons extension."""

    KILLED = "killed"
    NOT_FOUND = "not_found"
    INTERNAL = "internal"
    DENIED = "denied"
    CHANGED = "changed"
    WOULD_KILL = "would_kill"


class VictimChoice(enum.Enum):
    """Which of the matching sessions a kill by filter takes (pt-kill's --victims)."""

    ALL = "all"
    OLDEST = "oldest"  # the one with the longest time in its current state
    ALL_BUT_OLDEST = "all-but-oldest"


class SortKey(enum.Enum):
    ID = "id"
    TIME = "time"
    USER = "user"


@dataclass(frozen=True, slots=True)
class ThreadFilter:
    """The filter language of listing, dry runs, kill by filter and kill tasks.

    Text fields match exactly unless they hold ``*`` (any run of characters) or ``?`` (one
    character); ``info`` matches a substring of the statement (with the same wildcards).
    """

    user: str | None = None
    host: str | None = None
    db: str | None = None
    command: str | None = None
    state: str | None = None
    info: str | None = None
    min_time: int | None = None
    idle_in_trx: bool = False

    @property
    def is_empty(self) -> bool:
        return self == ThreadFilter()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("user", "host", "db", "command", "state", "info", "min_time"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.idle_in_trx:
            out["idle_in_trx"] = True
        return out


@dataclass(frozen=True, slots=True)
class ListQuery:
    offset: int = 0
    limit: int = 100
    filter: ThreadFilter = field(default_factory=ThreadFilter)
    sort: SortKey = SortKey.ID
    descending: bool = False
    stats: bool = False


@dataclass(frozen=True, slots=True)
class ProcessPage:
    processes: list[Process]
    total_count: int
    stats: dict[str, dict[str, int]] | None = None


@dataclass(frozen=True, slots=True)
class LockWaitEdge:
    """One InnoDB lock wait: ``waiter`` waits for a lock that ``blocker``'s transaction holds."""

    waiter: int
    waiter_query: str | None
    wait_seconds: int
    lock_db: str | None
    lock_table: str | None
    lock_index: str | None
    lock_mode: str | None
    lock_data: str | None
    blocker: int
    blocker_state: str | None
    blocker_age: int
    blocker_rows_locked: int
    blocker_rows_modified: int
    blocker_query: str | None

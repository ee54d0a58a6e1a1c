"""Domain types shared by the service layer and the node driver: sessions, filters, kill outcomes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


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
    query_id: int | None = None  # the running statement's id, where the server names it (MariaDB)


class KillMode(enum.Enum):
    CONNECTION = "connection"
    QUERY = "query"


class KillResult(enum.Enum):
    """What the node said to one KILL."""

    # Members are singletons compared by identity: hash them so too (Enum's own hash is computed in
    # Python on every lookup, and a sweep looks thousands of them up).
    __hash__ = object.__hash__

    KILLED = "killed"
    NO_SUCH_THREAD = "no_such_thread"  # error 1094: gone before the KILL arrived
    DENIED = "denied"  # error 1095: the node refused (not owner / insufficient privilege)


class Outcome(enum.Enum):
    """Per-id verdicts of the kill-with-reasons extension."""

    __hash__ = object.__hash__  # as KillResult's

    KILLED = "killed"
    NOT_FOUND = "not_found"
    INTERNAL = "internal"
    DENIED = "denied"
    CHANGED = "changed"
    WOULD_KILL = "would_kill"
    # A sweep cut off by a node fault or its deadline: the KILL was sent and no answer came, or the
    # KILL was never sent. A record left pending by a process that died is settled per victim as
    # killed (gone from the node), alive (still there) or unknown (the node cannot be reached).
    UNKNOWN = "unknown"
    NOT_SENT = "not_sent"
    ALIVE = "alive"


class VictimChoice(enum.Enum):
    """Which of the matching sessions a kill by filter takes (pt-kill's --victims)."""

    ALL = "all"
    OLDEST = "oldest"  # the one with the longest time in its current state
    ALL_BUT_OLDEST = "all-but-oldest"


class SortKey(enum.Enum):
    ID = "id"
    TIME = "time"
    USER = "user"


MAX_TEXT = 1024  # characters of a filter value or an expected statement
MAX_MIN_TIME = 2**31 - 1  # MySQL keeps TIME as a 32-bit count; TaurusDB takes up to 2147483647

FilterText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]


class ThreadFilter(BaseModel):
    """The filter language of listing, dry runs, kill by filter and kill tasks — described once here
    and used by the list call's query string, the request bodies, the OpenAPI document and the CLI.

    Text fields match exactly unless they hold ``*`` (any run of characters) or ``?`` (one
    character); ``user`` and ``db`` are case-sensitive, the others not; ``info`` matches a
    substring of the statement (with the same wildcards).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    user: FilterText | None = Field(default=None, description="Account; * and ? wildcards.")
    host: FilterText | None = Field(default=None, description="Client host:port, e.g. 10.0.3.* or *:5123?")
    db: FilterText | None = Field(default=None, description="Current database; wildcards.")
    command: FilterText | None = Field(default=None, description="Command (Query, Sleep, ...); wildcards.")
    state: FilterText | None = Field(default=None, description="State of the statement; wildcards.")
    info: FilterText | None = Field(
        default=None, description="Substring of the running statement; wildcards."
    )
    min_time: int | None = Field(
        default=None, ge=0, le=MAX_MIN_TIME, description="At least this many seconds in the current state."
    )
    idle_in_trx: bool = Field(default=False, description="Sleeping with an open InnoDB transaction.")

    @property
    def is_empty(self) -> bool:
        return self == ThreadFilter()

    def as_dict(self) -> dict[str, Any]:
        """The criteria given (what a task stores and the audit shows)."""
        return self.model_dump(exclude_defaults=True)


@dataclass(frozen=True, slots=True)
class FilterKill:
    """A kill by filter: which sessions, how to kill, which of the matching ones, how many at most."""

    filter: ThreadFilter
    mode: KillMode = KillMode.CONNECTION
    victims: VictimChoice = VictimChoice.ALL
    max_victims: int = 10_000
    dry_run: bool = False


NO_FILTER = ThreadFilter()  # frozen: one instance serves every unfiltered query


@dataclass(frozen=True, slots=True)
class ListQuery:
    offset: int = 0
    limit: int = 100
    filter: ThreadFilter = NO_FILTER
    sort: SortKey = SortKey.ID
    descending: bool = False
    stats: bool = False


@dataclass(frozen=True, slots=True)
class ProcessPage:
    processes: list[dict[str, Any]]  # each in the list API's shape (``Process.as_dict``)
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


# -- realtime session collection (CollectRealtimeSession) ------------------------------------------
@dataclass(frozen=True, slots=True)
class RealtimeQuery:
    """Which of a node's user sessions a collection takes, and in which order (values checked by
    the API model; the SQL maps each to a fixed fragment)."""

    filter: str = "total"
    threshold: int = 10  # seconds: slow statements, long transactions
    user: str | None = None
    host: str | None = None
    db: str | None = None
    command: str | None = None
    sql_key: str | None = None
    sort_key: str = "id"
    descending: bool = False

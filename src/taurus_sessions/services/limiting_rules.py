"""The decisions of autonomous SQL limiting, as pure functions of what a check saw on a node:
whether the rule's window is open, whether its conditions hold, which SQL becomes a limit, and which
executions a limit stops. The limiter (``sql_limiter.py``) reads the node and acts on them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from taurus_sessions.domain import Thread
from taurus_sessions.sql_templates import limiting_pattern, limiting_sql_type, pattern_matches, sql_template

SQL_TYPE = "SELECT"  # TaurusDB generates SELECT limits only
MAX_ACTIVE_LIMITS = 10  # "自动生成SQL限流规则总数不会超过10条"
# TaurusDB generates limits from the sessions of non-root accounts; here root is neither the source
# of a limit nor stopped by one (an administrator's statement in an emergency must run).
EXEMPT_USERS = frozenset({"root"})


def minutes_of(hhmm: str) -> int:
    """``"hh:mm"`` (24-hour, zero-padded) as minutes after midnight; ValueError otherwise."""
    if len(hhmm) != 5 or hhmm[2] != ":" or not (hhmm[:2] + hhmm[3:]).isdigit():
        raise ValueError("a time is hh:mm, e.g. 09:30")
    hours, minutes = int(hhmm[:2]), int(hhmm[3:])
    if hours > 23 or minutes > 59:
        raise ValueError("a time is from 00:00 to 23:59")
    return hours * 60 + minutes


def in_window(start: str, end: str, minute_of_day: int) -> bool:
    """Whether the daily window holds this minute; both ends included, so 00:00–23:59 is the
    whole day; a window whose end comes before its start runs over midnight (22:00–02:00)."""
    low, high = minutes_of(start), minutes_of(end)
    if low <= high:
        return low <= minute_of_day <= high
    return minute_of_day >= low or minute_of_day <= high


class CpuState(StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"  # no CPU source, or no reading yet


@dataclass(frozen=True, slots=True)
class ConditionCheck:
    holds: bool
    cpu: CpuState
    sessions_met: bool


def check_conditions(
    condition: str, cpu_threshold: int, sessions_threshold: int, cpu: float | None, active: int
) -> ConditionCheck:
    """``cpu ≥ cpu_threshold`` and/or ``active ≥ sessions_threshold``. An unknown CPU is never
    met: with ``and`` the rule cannot fire, with ``or`` only the sessions can fire it."""
    cpu_state = (
        CpuState.UNKNOWN if cpu is None else CpuState.MET if cpu >= cpu_threshold else CpuState.NOT_MET
    )
    sessions_met = active >= sessions_threshold
    cpu_met = cpu_state is CpuState.MET
    holds = cpu_met and sessions_met if condition == "and" else cpu_met or sessions_met
    return ConditionCheck(holds, cpu_state, sessions_met)


@dataclass(frozen=True, slots=True)
class Execution:
    """A session running a statement, with how long it has run (seconds)."""

    thread: Thread
    seconds: float

    @property
    def statement(self) -> str:
        return self.thread.process.info or ""


def limitable(executing: Iterable[tuple[Thread, float]]) -> list[Execution]:
    """Executions a limit may come from and apply to: SELECTs of accounts other than root."""
    return [
        Execution(thread, seconds)
        for thread, seconds in executing
        if thread.process.user not in EXEMPT_USERS
        and limiting_sql_type(thread.process.info or "") == SQL_TYPE
    ]


@dataclass(frozen=True, slots=True)
class TopSql:
    template: str
    pattern: str
    sessions: int


def top_sql(executions: Sequence[Execution], taken: Iterable[str] = ()) -> TopSql | None:
    """The template most executions run (ties: more total time, then the template's text), whose
    pattern is not ``taken`` by a limit in force ("a rule with the same keywords is not generated
    again"); None when there is none."""
    groups: dict[str, list[Execution]] = {}
    for execution in executions:
        groups.setdefault(sql_template(execution.statement), []).append(execution)
    ranked = sorted(
        groups.items(), key=lambda item: (-len(item[1]), -sum(e.seconds for e in item[1]), item[0])
    )
    busy = set(taken)
    for template, members in ranked:
        pattern = limiting_pattern(template)
        if pattern and pattern not in busy:
            return TopSql(template, pattern, len(members))
    return None


@dataclass(frozen=True, slots=True)
class Limit:
    id: str
    pattern: str
    max_concurrency: int


def excess(executions: Sequence[Execution], limits: Sequence[Limit]) -> dict[str, list[Execution]]:
    """Per limit, the executions beyond its ``max_concurrency``, newest first.

    ``limits`` come newest first; an execution matching several counts under the newest ("the most
    recently added rule wins"). Of a limit's executions the ``max_concurrency`` that started first go
    on; the rest — those that started last — are stopped.
    """
    matched: dict[str, list[Execution]] = {limit.id: [] for limit in limits}
    for execution in executions:
        for limit in limits:
            if pattern_matches(limit.pattern, execution.statement):
                matched[limit.id].append(execution)
                break
    over: dict[str, list[Execution]] = {}
    for limit in limits:
        members = sorted(matched[limit.id], key=_age_order(matched[limit.id]))
        if len(members) > limit.max_concurrency:
            over[limit.id] = list(reversed(members[limit.max_concurrency :]))
    return over


def _age_order(executions: Sequence[Execution]) -> Callable[[Execution], tuple[float, int]]:
    """Oldest first. Where the server numbers statements (MariaDB's QUERY_ID grows with every
    statement) that order is exact; otherwise by time in the current state, which a statement that
    changed state has less of than it ran (ties: the lower thread id is older)."""
    if all(e.thread.query_id is not None for e in executions):
        return lambda e: (float(e.thread.query_id or 0), e.thread.process.id)
    return lambda e: (-e.seconds, e.thread.process.id)

"""The processlist SQL the driver sends: fixed fragments plus bound parameters, never caller text.

Where the processlist comes from differs per server family (``dialects.py``). The internal-thread
rule (contract Part D) is evaluated by the node itself, in the same statement that reads the
threads, so the verdict always reflects the node's state at that moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from taurus_sessions.domain import KillMode, ListQuery, SortKey, ThreadFilter
from taurus_sessions.nodes.dialects import Dialect
from taurus_sessions.nodes.fragments import Fragment, placeholders

SERVER_USERS = ("system user", "event_scheduler", "unauthenticated user")
SERVER_COMMANDS = ("Daemon", "Binlog Dump", "Binlog Dump GTID", "Slave_IO", "Slave_SQL", "Slave_worker")

COLUMNS = "p.ID, p.USER, p.HOST, p.DB, p.COMMAND, p.TIME, p.STATE, p.INFO"


class ProcessRow(NamedTuple):
    """``COLUMNS`` plus the running statement's id (``Dialect.query_id``), in SELECT order."""

    id: Any
    user: Any
    host: Any
    db: Any
    command: Any
    time: Any
    state: Any
    info: Any
    query_id: Any


class PageRow(NamedTuple):
    """A row of ``list_page``: the process and the count of every matching thread."""

    id: Any
    user: Any
    host: Any
    db: Any
    command: Any
    time: Any
    state: Any
    info: Any
    query_id: Any
    total: Any


class ThreadRow(NamedTuple):
    """A row of ``threads_by_id``: the process and the internal-thread verdict."""

    id: Any
    user: Any
    host: Any
    db: Any
    command: Any
    time: Any
    state: Any
    info: Any
    query_id: Any
    internal: Any


class ExecutingRow(NamedTuple):
    """A row of ``executing_threads``: the process and its time in state in milliseconds."""

    id: Any
    user: Any
    host: Any
    db: Any
    command: Any
    time: Any
    state: Any
    info: Any
    query_id: Any
    time_ms: Any


class StatsRow(NamedTuple):
    user: Any
    host: Any
    db: Any
    command: Any


# An open InnoDB transaction on the thread (the idle-in-transaction filter).
IN_TRX = "EXISTS (SELECT 1 FROM information_schema.INNODB_TRX x WHERE x.trx_mysql_thread_id = p.ID)"
LIKE_ESCAPE = "!"


class InternalRule:
    """Part D as one SQL predicate; NULL (unknown) counts as internal, never as killable."""

    def __init__(self, dialect: Dialect, system_accounts: Iterable[str]) -> None:
        accounts = tuple(sorted({a.lower() for a in system_accounts if a}))
        conditions = [
            f"LOWER(p.USER) IN ({placeholders(len(accounts))})" if accounts else "FALSE",
            f"p.USER IN ({placeholders(len(SERVER_USERS))})",
            f"p.COMMAND IN ({placeholders(len(SERVER_COMMANDS))})",
            "p.ID = CONNECTION_ID()",
            "p.USER IS NULL",
        ]
        if dialect.background:
            conditions.append(dialect.background)
        self.dialect = dialect
        self.flag = Fragment(
            f"COALESCE({' OR '.join(conditions)}, TRUE)", (*accounts, *SERVER_USERS, *SERVER_COMMANDS)
        )
        self.user_threads = Fragment(f"NOT {self.flag.sql}", self.flag.params)


def like_pattern(text: str, *, substring: bool = False) -> str:
    """Caller wildcards (``*``, ``?``) to a LIKE pattern, with LIKE's own characters escaped; a
    backslash before ``*``, ``?`` or another backslash makes that character literal (any other
    backslash is itself)."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        following = text[index + 1] if index + 1 < len(text) else ""
        if char == "\\" and following in ("*", "?", "\\"):
            out.append(_like_literal(following))
            index += 2
            continue
        out.append("%" if char == "*" else "_" if char == "?" else _like_literal(char))
        index += 1
    escaped = "".join(out)
    return f"%{escaped}%" if substring else escaped


def _like_literal(char: str) -> str:
    return LIKE_ESCAPE + char if char in (LIKE_ESCAPE, "%", "_") else char


def literal_pattern(text: str) -> str:
    """``text`` in the filter language, matching itself only (its wildcards escaped)."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


# Account and schema names are case-sensitive on the server; the rest compares case-insensitively.
_CASE_SENSITIVE = {"user": "p.USER", "db": "p.DB"}
# The processlist's text columns are utf8mb3 on MariaDB: a pattern holding a 4-byte character
# (an emoji, a rare CJK ideograph) could not be compared with them ("illegal mix of collations"),
# so the columns are widened to utf8mb4 for the comparison.
_CASE_INSENSITIVE = {
    "host": "CONVERT(p.HOST USING utf8mb4)",
    "command": "CONVERT(p.COMMAND USING utf8mb4)",
    "state": "CONVERT(p.STATE USING utf8mb4)",
}
_INFO = "CONVERT(p.INFO USING utf8mb4)"


def filter_fragment(flt: ThreadFilter) -> Fragment | None:
    parts: list[Fragment] = []
    for name, column in _CASE_SENSITIVE.items():
        value = getattr(flt, name)
        if value is not None:
            parts.append(
                Fragment(
                    f"CAST({column} AS BINARY) LIKE CAST(%s AS BINARY) ESCAPE '{LIKE_ESCAPE}'",
                    (like_pattern(value),),
                )
            )
    for name, column in _CASE_INSENSITIVE.items():
        value = getattr(flt, name)
        if value is not None:
            parts.append(Fragment(f"{column} LIKE %s ESCAPE '{LIKE_ESCAPE}'", (like_pattern(value),)))
    if flt.info is not None:
        parts.append(
            Fragment(f"{_INFO} LIKE %s ESCAPE '{LIKE_ESCAPE}'", (like_pattern(flt.info, substring=True),))
        )
    if flt.min_time is not None:
        parts.append(Fragment("p.TIME >= %s", (flt.min_time,)))
    if flt.idle_in_trx:
        parts.append(Fragment(f"p.COMMAND = 'Sleep' AND {IN_TRX}"))
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part
    return combined


def _columns(rule: InternalRule) -> str:
    return f"{COLUMNS}, {rule.dialect.query_id}"


_ORDER = {SortKey.ID: "p.ID", SortKey.TIME: "p.TIME", SortKey.USER: "p.USER"}


def _where(rule: InternalRule, flt: ThreadFilter) -> Fragment:
    extra = filter_fragment(flt)
    return rule.user_threads & extra if extra is not None else rule.user_threads


def list_page(rule: InternalRule, query: ListQuery) -> Fragment:
    """One page plus the total of matching threads, from one snapshot (window count)."""
    where = _where(rule, query.filter)
    direction = "DESC" if query.descending else "ASC"
    order = _ORDER[query.sort]
    tiebreak = "" if query.sort is SortKey.ID else f", p.ID {direction}"
    sql = (
        f"SELECT {_columns(rule)}, COUNT(*) OVER () FROM {rule.dialect.source} WHERE {where.sql} "
        f"ORDER BY {order} {direction}{tiebreak} LIMIT %s OFFSET %s"
    )
    return Fragment(sql, (*where.params, query.limit, query.offset))


def count_matching(rule: InternalRule, flt: ThreadFilter) -> Fragment:
    where = _where(rule, flt)
    return Fragment(f"SELECT COUNT(*) FROM {rule.dialect.source} WHERE {where.sql}", where.params)


def stats_rows(rule: InternalRule, flt: ThreadFilter) -> Fragment:
    where = _where(rule, flt)
    return Fragment(
        f"SELECT p.USER, p.HOST, p.DB, p.COMMAND FROM {rule.dialect.source} WHERE {where.sql}", where.params
    )


def matching_threads(rule: InternalRule, flt: ThreadFilter) -> Fragment:
    """User threads matching a filter (kill by filter, kill tasks)."""
    where = _where(rule, flt)
    sql = f"SELECT {_columns(rule)} FROM {rule.dialect.source} WHERE {where.sql} ORDER BY p.ID"
    return Fragment(sql, where.params)


def executing_threads(rule: InternalRule) -> Fragment:
    """User threads running a statement (intelligent kill groups them by its template)."""
    sql = (
        f"SELECT {_columns(rule)}, {rule.dialect.time_ms} FROM {rule.dialect.source} "
        f"WHERE {rule.user_threads.sql} AND p.INFO IS NOT NULL AND p.COMMAND <> 'Sleep' ORDER BY p.ID"
    )
    return Fragment(sql, rule.user_threads.params)


def threads_by_id(rule: InternalRule, thread_ids: Sequence[int]) -> Fragment:
    """The named threads as they are now, each with the internal verdict."""
    sql = (
        f"SELECT {_columns(rule)}, {rule.flag.sql} FROM {rule.dialect.source} "
        f"WHERE p.ID IN ({placeholders(len(thread_ids))})"
    )
    return Fragment(sql, (*rule.flag.params, *thread_ids))


def _checked(value: int) -> int:
    # Ids are re-checked as ints right where they enter SQL text (design rule 8).
    if type(value) is not int or value < 0:
        raise ValueError("thread and query ids must be non-negative ints")
    return value


def kill_connection(thread_id: int) -> str:
    """``kill_statement(thread_id, KillMode.CONNECTION)``, checked the same way (a sweep makes
    thousands)."""
    if type(thread_id) is not int or thread_id < 0:
        raise ValueError("thread and query ids must be non-negative ints")
    return f"KILL CONNECTION {thread_id:d}"


def kill_statement(thread_id: int, mode: KillMode, query_id: int | None = None) -> str:
    """``KILL CONNECTION n`` / ``KILL QUERY n``, or ``KILL QUERY ID q`` when the statement that was
    checked is named by its query id (MariaDB): then only that statement can be stopped."""
    _checked(thread_id)
    if mode is KillMode.QUERY:
        if query_id is not None:
            return f"KILL QUERY ID {_checked(query_id):d}"
        return f"KILL QUERY {thread_id:d}"
    return f"KILL CONNECTION {thread_id:d}"

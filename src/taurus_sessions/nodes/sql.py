"""The SQL the driver sends: fixed fragments plus bound parameters, never caller text.

Two dialects read the processlist: MariaDB (``information_schema.PROCESSLIST``) and MySQL 8
(``performance_schema.processlist`` where the server has it, with ``performance_schema.threads``
to recognise ``BACKGROUND`` threads). The internal-thread rule (contract Part D) is evaluated by
the node itself, in the same statement that reads the threads, so the verdict always reflects the
node's state at that moment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from taurus_sessions.domain import KillMode, ListQuery, SortKey, ThreadFilter

SERVER_USERS = ("system user", "event_scheduler", "unauthenticated user")
SERVER_COMMANDS = ("Daemon", "Binlog Dump", "Binlog Dump GTID", "Slave_IO", "Slave_SQL", "Slave_worker")

COLUMNS = "p.ID, p.USER, p.HOST, p.DB, p.COMMAND, p.TIME, p.STATE, p.INFO"
# An open InnoDB transaction on the thread (the idle-in-transaction filter).
IN_TRX = "EXISTS (SELECT 1 FROM information_schema.INNODB_TRX x WHERE x.trx_mysql_thread_id = p.ID)"
LIKE_ESCAPE = "!"


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str  # "mariadb" or "mysql"
    source: str  # FROM clause; the processlist is aliased p
    background: str | None  # extra internal condition (MySQL BACKGROUND threads)

    @classmethod
    def mariadb(cls) -> Dialect:
        return cls("mariadb", "information_schema.PROCESSLIST p", None)

    @classmethod
    def mysql(cls, performance_schema_processlist: bool, threads_table: bool) -> Dialect:
        source = (
            "performance_schema.processlist p"
            if performance_schema_processlist
            else "information_schema.PROCESSLIST p"
        )
        if threads_table:
            source += " LEFT JOIN performance_schema.threads t ON t.PROCESSLIST_ID = p.ID"
            return cls("mysql", source, "t.TYPE = 'BACKGROUND'")
        return cls("mysql", source, None)


@dataclass(frozen=True, slots=True)
class Fragment:
    sql: str
    params: tuple[object, ...] = ()

    def __and__(self, other: Fragment) -> Fragment:
        return Fragment(f"({self.sql}) AND ({other.sql})", self.params + other.params)


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


class InternalRule:
    """Part D as one SQL predicate; NULL (unknown) counts as internal, never as killable."""

    def __init__(self, dialect: Dialect, system_accounts: Iterable[str]) -> None:
        accounts = tuple(sorted({a.lower() for a in system_accounts if a}))
        conditions = [
            f"LOWER(p.USER) IN ({_placeholders(len(accounts))})" if accounts else "FALSE",
            f"p.USER IN ({_placeholders(len(SERVER_USERS))})",
            f"p.COMMAND IN ({_placeholders(len(SERVER_COMMANDS))})",
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
    """Caller wildcards (``*``, ``?``) to a LIKE pattern, with LIKE's own characters escaped."""
    escaped = (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
        .replace("*", "%")
        .replace("?", "_")
    )
    return f"%{escaped}%" if substring else escaped


# Account and schema names are case-sensitive on the server; the rest compares case-insensitively.
_CASE_SENSITIVE = {"user": "p.USER", "db": "p.DB"}
_CASE_INSENSITIVE = {"host": "p.HOST", "command": "p.COMMAND", "state": "p.STATE"}


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
            Fragment(f"p.INFO LIKE %s ESCAPE '{LIKE_ESCAPE}'", (like_pattern(flt.info, substring=True),))
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
        f"SELECT {COLUMNS}, COUNT(*) OVER () FROM {rule.dialect.source} WHERE {where.sql} "
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
    sql = f"SELECT {COLUMNS} FROM {rule.dialect.source} WHERE {where.sql} ORDER BY p.ID"
    return Fragment(sql, where.params)


def threads_by_id(rule: InternalRule, thread_ids: Sequence[int]) -> Fragment:
    """The named threads as they are now, each with the internal verdict."""
    sql = (
        f"SELECT {COLUMNS}, {rule.flag.sql} FROM {rule.dialect.source} "
        f"WHERE p.ID IN ({_placeholders(len(thread_ids))})"
    )
    return Fragment(sql, (*rule.flag.params, *thread_ids))


def kill_statement(thread_id: int, mode: KillMode) -> str:
    """``KILL CONNECTION n`` / ``KILL QUERY n``; the id is re-checked as an int here (design rule 8)."""
    if type(thread_id) is not int or thread_id < 0:
        raise ValueError("thread id must be a non-negative int")
    return f"KILL {'QUERY' if mode is KillMode.QUERY else 'CONNECTION'} {thread_id:d}"


# Lock waits: who blocks a waiting thread, on which lock. MariaDB keeps the InnoDB lock tables in
# information_schema; MySQL 8 moved them to performance_schema.data_locks / data_lock_waits.
_LOCK_WAIT_COMMON = (
    "r.trx_mysql_thread_id, r.trx_query, TIMESTAMPDIFF(SECOND, r.trx_wait_started, NOW()), {where_lock}, "
    "b.trx_mysql_thread_id, b.trx_state, TIMESTAMPDIFF(SECOND, b.trx_started, NOW()), "
    "b.trx_rows_locked, b.trx_rows_modified, b.trx_query"
)


def lock_waits(dialect: Dialect, thread_id: int) -> Fragment:
    """Edges waiter → blocker for one thread, oldest blocker first. Columns (14): waiter id, waiter
    query, seconds waited, lock schema, lock table, index, mode, data, blocker id, blocker state,
    blocker age, rows locked, rows modified, blocker query. With MariaDB the schema column holds the
    quoted ``db`.`table`` text and the table column is NULL (see ``split_lock_table``)."""
    if dialect.name == "mariadb":
        select = _LOCK_WAIT_COMMON.format(
            where_lock="l.lock_table, NULL, l.lock_index, l.lock_mode, l.lock_data"
        )
        sql = (
            f"SELECT {select} FROM information_schema.INNODB_LOCK_WAITS w "
            "JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id "
            "JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id "
            "JOIN information_schema.INNODB_LOCKS l ON l.lock_id = w.requested_lock_id "
            "WHERE r.trx_mysql_thread_id = %s ORDER BY b.trx_started, b.trx_mysql_thread_id"
        )
    else:
        select = _LOCK_WAIT_COMMON.format(
            where_lock="l.OBJECT_SCHEMA, l.OBJECT_NAME, l.INDEX_NAME, l.LOCK_MODE, l.LOCK_DATA"
        )
        sql = (
            f"SELECT {select} FROM performance_schema.data_lock_waits w "
            "JOIN information_schema.INNODB_TRX r ON r.trx_id = w.REQUESTING_ENGINE_TRANSACTION_ID "
            "JOIN information_schema.INNODB_TRX b ON b.trx_id = w.BLOCKING_ENGINE_TRANSACTION_ID "
            "JOIN performance_schema.data_locks l ON l.ENGINE_LOCK_ID = w.REQUESTING_ENGINE_LOCK_ID "
            "WHERE r.trx_mysql_thread_id = %s ORDER BY b.trx_started, b.trx_mysql_thread_id"
        )
    return Fragment(sql, (thread_id,))


_QUOTED = r"`((?:[^`]|``)*)`"


def split_lock_table(text: str | None) -> tuple[str | None, str | None]:
    """`` `shop`.`orders` `` (or with a partition comment) → ("shop", "orders")."""
    if not text:
        return None, None
    match = re.match(_QUOTED + r"\." + _QUOTED, text)
    if match is None:
        return None, text
    return match.group(1).replace("``", "`"), match.group(2).replace("``", "`")

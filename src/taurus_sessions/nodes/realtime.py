"""The one statement of a realtime session collection: a node's user sessions with their InnoDB
transaction (if any), filtered and sorted by the node, read at once so that the file is one
consistent snapshot. Fixed fragments plus bound parameters only: the caller's text never becomes SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from taurus_sessions.domain import RealtimeQuery
from taurus_sessions.nodes.fragments import Fragment
from taurus_sessions.nodes.sql import LIKE_ESCAPE, InternalRule, like_pattern, literal_pattern

# The file's columns, in order (the header row).
COLUMNS = (
    "id",
    "user",
    "host",
    "db",
    "command",
    "time",
    "state",
    "info",
    "state_duration",
    "trx_id",
    "trx_state",
    "trx_started",
    "trx_executed_time",
    "trx_lock_duration",
    "trx_lock_rows",
    "trx_lock_tables",
    "trx_update_rows",
)


class RealtimeRow(NamedTuple):
    """A row of ``realtime_sessions``, as the SELECT lists its columns."""

    id: Any
    user: Any
    host: Any
    db: Any
    command: Any
    time: Any
    state: Any
    info: Any
    state_ms: Any
    trx_id: Any
    trx_state: Any
    trx_started: Any
    trx_executed_time: Any
    trx_lock_duration: Any
    trx_lock_rows: Any
    trx_lock_tables: Any
    trx_update_rows: Any


# InnoDB's open transactions; both server families keep them in information_schema.
TRX_JOIN = "LEFT JOIN information_schema.INNODB_TRX trx ON trx.trx_mysql_thread_id = p.ID"
TRX_AGE = "TIMESTAMPDIFF(SECOND, trx.trx_started, NOW())"
# Seconds waiting for a lock: 0 for a transaction that waits for none, NULL without a transaction.
TRX_LOCK_WAIT = (
    "CASE WHEN trx.trx_id IS NULL THEN NULL "
    "ELSE COALESCE(TIMESTAMPDIFF(SECOND, trx.trx_wait_started, NOW()), 0) END"
)


def _select(rule: InternalRule) -> str:
    return (
        "p.ID, p.USER, p.HOST, p.DB, p.COMMAND, p.TIME, p.STATE, SUBSTRING(p.INFO, 1, %s), "
        f"{rule.dialect.time_ms}, trx.trx_id, trx.trx_state, trx.trx_started, {TRX_AGE}, "
        f"{TRX_LOCK_WAIT}, trx.trx_rows_locked, trx.trx_tables_locked, trx.trx_rows_modified"
    )


def _sort_expressions(rule: InternalRule) -> dict[str, str]:
    return {
        "id": "p.ID",
        "state_duration": rule.dialect.time_ms,
        "trx_executed_time": TRX_AGE,
        # MariaDB types trx_id as text in older versions; compare it as the number it is.
        "trx_id": "CAST(trx.trx_id AS UNSIGNED)",
        "trx_lock_duration": TRX_LOCK_WAIT,
        "trx_lock_rows": "trx.trx_rows_locked",
        "trx_lock_tables": "trx.trx_tables_locked",
        "trx_update_rows": "trx.trx_rows_modified",
    }


def _kind(query: RealtimeQuery) -> Fragment | None:
    if query.filter == "active":
        return Fragment("p.COMMAND <> 'Sleep'")
    if query.filter == "slow":
        return Fragment("p.COMMAND <> 'Sleep' AND p.TIME >= %s", (query.threshold,))
    if query.filter == "long":
        return Fragment(f"{TRX_AGE} >= %s", (query.threshold,))
    if query.filter == "total":
        return None
    raise ValueError(f"unknown filter {query.filter!r}")


# The processlist's text columns are utf8mb3 on MariaDB: widened to utf8mb4 wherever the caller's
# text is compared, so a 4-byte character is simply no match rather than a collation error.
def _criteria(query: RealtimeQuery) -> list[Fragment]:
    parts: list[Fragment] = []
    # Account and schema names are case-sensitive on the server: compared byte for byte.
    if query.user is not None:
        parts.append(Fragment("CAST(p.USER AS BINARY) = CAST(%s AS BINARY)", (query.user,)))
    if query.db is not None:
        parts.append(Fragment("CAST(p.DB AS BINARY) = CAST(%s AS BINARY)", (query.db,)))
    if query.host is not None:
        # The processlist shows host:port; a host given without its port matches every port.
        parts.append(
            Fragment(
                "(CONVERT(p.HOST USING utf8mb4) = %s "
                "OR REGEXP_REPLACE(CONVERT(p.HOST USING utf8mb4), ':[0-9]+$', '') = %s)",
                (query.host, query.host),
            )
        )
    if query.command is not None:
        parts.append(Fragment("p.COMMAND = %s", (query.command,)))
    if query.sql_key is not None:
        pattern = like_pattern(literal_pattern(query.sql_key), substring=True)
        parts.append(
            Fragment(
                f"LOWER(CONVERT(p.INFO USING utf8mb4)) LIKE LOWER(%s) ESCAPE '{LIKE_ESCAPE}'", (pattern,)
            )
        )
    return parts


def realtime_sessions(rule: InternalRule, query: RealtimeQuery, max_rows: int, info_chars: int) -> Fragment:
    """User sessions matching ``query`` (internal threads never), in its order, at most ``max_rows``,
    each statement cut to ``info_chars`` characters. Sorting by a transaction column puts the
    sessions without a transaction last, whichever the direction; ties go by id."""
    where = rule.user_threads
    for part in [p for p in (_kind(query), *_criteria(query)) if p is not None]:
        where = where & part
    direction = "DESC" if query.descending else "ASC"
    key = _sort_expressions(rule)[query.sort_key]
    if query.sort_key == "id":
        order = f"p.ID {direction}"
    elif query.sort_key.startswith("trx_"):
        order = f"({key}) IS NULL, {key} {direction}, p.ID {direction}"
    else:
        order = f"{key} {direction}, p.ID {direction}"
    sql = (
        f"SELECT {_select(rule)} FROM {rule.dialect.source} {TRX_JOIN} "
        f"WHERE {where.sql} ORDER BY {order} LIMIT %s"
    )
    return Fragment(sql, (info_chars, *where.params, max_rows))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _timestamp(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return _text(value)


def as_record(row: RealtimeRow) -> dict[str, Any]:
    """One line of the file, keyed by ``COLUMNS``; times in seconds (state_duration to the ms)."""
    return {
        "id": int(row.id),
        "user": _text(row.user) or "",
        "host": _text(row.host) or "",
        "db": _text(row.db),
        "command": _text(row.command) or "",
        "time": max(0, int(row.time or 0)),
        "state": _text(row.state),
        "info": _text(row.info),
        "state_duration": round(max(0.0, float(row.state_ms or 0) / 1000), 3),
        "trx_id": _text(row.trx_id),
        "trx_state": _text(row.trx_state),
        "trx_started": _timestamp(row.trx_started),
        "trx_executed_time": _int(row.trx_executed_time),
        "trx_lock_duration": _int(row.trx_lock_duration),
        "trx_lock_rows": _int(row.trx_lock_rows),
        "trx_lock_tables": _int(row.trx_lock_tables),
        "trx_update_rows": _int(row.trx_update_rows),
    }

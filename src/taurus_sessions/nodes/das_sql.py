"""The SQL of DAS's session and lock operations (contract Part G): fixed text from this module and
the node's dialect, caller values only as bound parameters.

These statements run as the account the caller registered, so they show what the node lets that
account see: every session with PROCESS, its own sessions without. The service's own connection
(the one running the statement) is always left out. The age of a session's open transaction comes
from InnoDB's INNODB_TRX, which MariaDB shows only to accounts with PROCESS: ``with_trx=False``
builds the same statement without it, for accounts the node refuses it to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from taurus_sessions.nodes.fragments import Fragment, placeholders
from taurus_sessions.nodes.sql import COLUMNS, InternalRule

# Account and schema names compare as the server stores them (byte for byte); binary comparison
# also spares utf8mb3 columns a 4-byte character they could not be compared with.
_SAME_USER = "CAST(p.USER AS BINARY) = CAST(%s AS BINARY)"
_SAME_DB = "CAST(p.DB AS BINARY) = CAST(%s AS BINARY)"
_NOT_OURS = "p.ID <> CONNECTION_ID()"
_TRX_JOIN = " LEFT JOIN information_schema.INNODB_TRX x ON x.trx_mysql_thread_id = p.ID"
_TRX_AGE = "TIMESTAMPDIFF(SECOND, x.trx_started, NOW())"


class DasProcessRow(NamedTuple):
    """A row of ``processes``: ``COLUMNS``, the transaction's age, and the count of all matches."""

    id: Any
    user: Any
    host: Any
    db: Any
    command: Any
    time: Any
    state: Any
    info: Any
    trx_seconds: Any
    total: Any


class MetadataLockRow(NamedTuple):
    object_type: Any
    object_schema: Any
    object_name: Any
    lock_type: Any
    lock_duration: Any
    lock_status: Any
    id: Any
    user: Any
    host: Any
    db: Any
    command: Any
    time: Any
    state: Any
    info: Any
    trx_seconds: Any


def _conditions(user: str | None, database: str | None) -> Fragment:
    parts = [_NOT_OURS]
    params: list[object] = []
    if user is not None:
        parts.append(_SAME_USER)
        params.append(user)
    if database is not None:
        parts.append(_SAME_DB)
        params.append(database)
    return Fragment(" AND ".join(parts), tuple(params))


def _trx(with_trx: bool) -> tuple[str, str]:
    return (_TRX_JOIN, _TRX_AGE) if with_trx else ("", "NULL")


def processes(
    rule: InternalRule, user: str | None, database: str | None, offset: int, limit: int, with_trx: bool
) -> Fragment:
    """One page by id ascending, plus the count of every match (one snapshot, a window count)."""
    where = _conditions(user, database)
    join, age = _trx(with_trx)
    sql = (
        f"SELECT {COLUMNS}, {age}, COUNT(*) OVER () FROM {rule.dialect.source}{join} "
        f"WHERE {where.sql} ORDER BY p.ID LIMIT %s OFFSET %s"
    )
    return Fragment(sql, (*where.params, limit, offset))


def count_processes(rule: InternalRule, user: str | None, database: str | None) -> Fragment:
    """The count alone, for a page past the end (the window count needs a row to ride on)."""
    where = _conditions(user, database)
    return Fragment(f"SELECT COUNT(*) FROM {rule.dialect.source} WHERE {where.sql}", where.params)


def victims(
    rule: InternalRule, ids: Sequence[int], user: str | None, database: str | None, cap: int
) -> Fragment:
    """Sessions to kill: the given ids AND user AND database (each only when given), as the node
    shows them now with the internal-thread verdict, lowest ids first up to ``cap``."""
    where = _conditions(user, database)
    id_sql = f" AND p.ID IN ({placeholders(len(ids))})" if ids else ""
    sql = (
        f"SELECT {COLUMNS}, {rule.dialect.query_id}, {rule.flag.sql} FROM {rule.dialect.source} "
        f"WHERE {where.sql}{id_sql} ORDER BY p.ID LIMIT %s"
    )
    return Fragment(sql, (*rule.flag.params, *where.params, *ids, cap))


MDL_INSTRUMENT = "wait/lock/metadata/sql/mdl"
# Whether the node records metadata locks: performance_schema on, and the MDL instrument enabled.
# With performance_schema off its tables exist but are empty, so the instrument reads NULL.
MDL_PROBE = Fragment(
    "SELECT @@performance_schema, (SELECT ENABLED FROM performance_schema.setup_instruments WHERE NAME = %s)",
    (MDL_INSTRUMENT,),
)


def metadata_locks(rule: InternalRule, with_trx: bool) -> Fragment:
    """Every pending or granted metadata lock with the session that owns it (the transient
    states a lock passes through on its way are left out)."""
    join, age = _trx(with_trx)
    sql = (
        "SELECT m.OBJECT_TYPE, m.OBJECT_SCHEMA, m.OBJECT_NAME, m.LOCK_TYPE, m.LOCK_DURATION, "
        f"m.LOCK_STATUS, {COLUMNS}, {age} FROM {rule.dialect.source} "
        "JOIN performance_schema.threads mt ON mt.PROCESSLIST_ID = p.ID "
        f"JOIN performance_schema.metadata_locks m ON m.OWNER_THREAD_ID = mt.THREAD_ID{join} "
        f"WHERE {_NOT_OURS} AND m.LOCK_STATUS IN ('PENDING', 'GRANTED') ORDER BY p.ID"
    )
    return Fragment(sql)

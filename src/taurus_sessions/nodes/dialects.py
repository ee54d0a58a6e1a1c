"""The one seam between server families: where the processlist comes from, which threads are the
server's own, where InnoDB keeps its lock tables and how their rows read, how a statement is
stopped, and how to tell the families apart on first contact.

MariaDB keeps everything in ``information_schema`` (PROCESSLIST with QUERY_ID; INNODB_LOCKS and
INNODB_LOCK_WAITS). MySQL 8 reads the processlist from ``performance_schema.processlist`` where the
server has it, recognises ``BACKGROUND`` threads through ``performance_schema.threads``, and moved
the lock tables to ``performance_schema.data_locks`` / ``data_lock_waits``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from taurus_sessions.nodes.fragments import Fragment

# -- rows as the driver reads them, by name ------------------------------------------------------


class LockWaitRow(NamedTuple):
    """One edge waiter → blocker of ``lock_waits``, as the SELECT lists its columns."""

    waiter: Any
    waiter_query: Any
    wait_seconds: Any
    lock_schema: Any  # MariaDB: the quoted `db`.`table` text (see ``lock_object``)
    lock_table: Any  # MariaDB: NULL
    lock_index: Any
    lock_mode: Any
    lock_data: Any
    blocker: Any
    blocker_state: Any
    blocker_age: Any
    blocker_rows_locked: Any
    blocker_rows_modified: Any
    blocker_query: Any


class InnodbWaitRow(NamedTuple):
    """A row of ``Dialect.innodb_lock_waits``: who waits for which lock, held by whom."""

    requesting_trx_id: Any
    requested_lock_id: Any
    blocking_trx_id: Any
    blocking_lock_id: Any


class InnodbLockRow(NamedTuple):
    """A row of ``Dialect.innodb_locks`` (MariaDB's INNODB_LOCKS columns, in its order)."""

    lock_id: Any
    lock_trx_id: Any
    lock_mode: Any
    lock_type: Any
    lock_table: Any
    lock_index: Any
    lock_space: Any
    lock_page: Any
    lock_rec: Any
    lock_data: Any


class InnodbTrxRow(NamedTuple):
    """A row of ``Dialect.innodb_transactions`` (INNODB_TRX columns DAS reports)."""

    trx_id: Any
    trx_state: Any
    trx_started: Any
    trx_wait_started: Any
    trx_mysql_thread_id: Any
    trx_query: Any
    trx_tables_locked: Any
    trx_rows_locked: Any
    trx_rows_modified: Any
    trx_isolation_level: Any


_TRX_COLUMNS = (
    "trx_id, trx_state, trx_started, trx_wait_started, trx_mysql_thread_id, trx_query, "
    "trx_tables_locked, trx_rows_locked, trx_rows_modified, trx_isolation_level"
)
# MySQL 8 names a lock's table in two columns; DAS (and MariaDB) show one quoted `db`.`table` text.
_MYSQL_LOCK_TABLE = (
    "CONCAT('`', REPLACE(l.OBJECT_SCHEMA, '`', '``'), '`.`', REPLACE(l.OBJECT_NAME, '`', '``'), '`')"
)

_LOCK_WAIT_COMMON = (
    "r.trx_mysql_thread_id, r.trx_query, TIMESTAMPDIFF(SECOND, r.trx_wait_started, NOW()), {lock}, "
    "b.trx_mysql_thread_id, b.trx_state, TIMESTAMPDIFF(SECOND, b.trx_started, NOW()), "
    "b.trx_rows_locked, b.trx_rows_modified, b.trx_query"
)

_QUOTED = r"`((?:[^`]|``)*)`"


def split_lock_table(text: str | None) -> tuple[str | None, str | None]:
    """`` `shop`.`orders` `` (or with a partition comment) → ("shop", "orders")."""
    if not text:
        return None, None
    match = re.match(_QUOTED + r"\." + _QUOTED, text)
    if match is None:
        return None, text
    return match.group(1).replace("``", "`"), match.group(2).replace("``", "`")


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between server families; one instance per node, learnt on first contact."""

    name: str  # "mariadb" or "mysql"
    source: str  # FROM clause; the processlist is aliased p
    background: str | None  # extra internal-thread condition (MySQL BACKGROUND threads)
    query_id: str  # the column naming the running statement, or NULL where the server has none
    time_ms: str  # milliseconds in the current state (MariaDB keeps them; MySQL has seconds only)

    @property
    def kills_by_query_id(self) -> bool:
        """MariaDB's ``KILL QUERY ID n`` stops statement n only, never the one that follows it."""
        return self.name == "mariadb"

    def lock_waits(self, thread_id: int) -> Fragment:
        """Edges waiter → blocker for one thread, oldest blocker first (columns: ``LockWaitRow``)."""
        if self.name == "mariadb":
            select = _LOCK_WAIT_COMMON.format(
                lock="l.lock_table, NULL, l.lock_index, l.lock_mode, l.lock_data"
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
                lock="l.OBJECT_SCHEMA, l.OBJECT_NAME, l.INDEX_NAME, l.LOCK_MODE, l.LOCK_DATA"
            )
            sql = (
                f"SELECT {select} FROM performance_schema.data_lock_waits w "
                "JOIN information_schema.INNODB_TRX r ON r.trx_id = w.REQUESTING_ENGINE_TRANSACTION_ID "
                "JOIN information_schema.INNODB_TRX b ON b.trx_id = w.BLOCKING_ENGINE_TRANSACTION_ID "
                "JOIN performance_schema.data_locks l ON l.ENGINE_LOCK_ID = w.REQUESTING_ENGINE_LOCK_ID "
                "WHERE r.trx_mysql_thread_id = %s ORDER BY b.trx_started, b.trx_mysql_thread_id"
            )
        return Fragment(sql, (thread_id,))

    # -- InnoDB's lock graph (DAS's ListInnodbLocks): the waits, the locks in them, their trx ----
    def innodb_lock_waits(self) -> Fragment:
        """Every lock wait (columns: ``InnodbWaitRow``)."""
        if self.name == "mariadb":
            return Fragment(
                "SELECT requesting_trx_id, requested_lock_id, blocking_trx_id, blocking_lock_id "
                "FROM information_schema.INNODB_LOCK_WAITS"
            )
        return Fragment(
            "SELECT REQUESTING_ENGINE_TRANSACTION_ID, REQUESTING_ENGINE_LOCK_ID, "
            "BLOCKING_ENGINE_TRANSACTION_ID, BLOCKING_ENGINE_LOCK_ID FROM performance_schema.data_lock_waits"
        )

    def innodb_locks(self) -> Fragment:
        """The locks some transaction waits for or blocks with (columns: ``InnodbLockRow``).
        MariaDB's INNODB_LOCKS holds exactly those; MySQL's data_locks holds every lock, so it is cut
        to the ones its waits name, and it has no space/page/heap-number columns (NULL here)."""
        if self.name == "mariadb":
            return Fragment(
                "SELECT lock_id, lock_trx_id, lock_mode, lock_type, lock_table, lock_index, lock_space, "
                "lock_page, lock_rec, lock_data FROM information_schema.INNODB_LOCKS"
            )
        return Fragment(
            "SELECT l.ENGINE_LOCK_ID, l.ENGINE_TRANSACTION_ID, l.LOCK_MODE, l.LOCK_TYPE, "
            f"{_MYSQL_LOCK_TABLE}, l.INDEX_NAME, NULL, NULL, NULL, l.LOCK_DATA "
            "FROM performance_schema.data_locks l "
            "WHERE l.ENGINE_LOCK_ID IN "
            "(SELECT REQUESTING_ENGINE_LOCK_ID FROM performance_schema.data_lock_waits) "
            "OR l.ENGINE_LOCK_ID IN (SELECT BLOCKING_ENGINE_LOCK_ID FROM performance_schema.data_lock_waits)"
        )

    def innodb_transactions(self) -> Fragment:
        """Transactions that wait for a lock or hold one another waits for (``InnodbTrxRow``)."""
        if self.name == "mariadb":
            waits = "information_schema.INNODB_LOCK_WAITS"
            requesting, blocking = "requesting_trx_id", "blocking_trx_id"
        else:
            waits = "performance_schema.data_lock_waits"
            requesting, blocking = "REQUESTING_ENGINE_TRANSACTION_ID", "BLOCKING_ENGINE_TRANSACTION_ID"
        return Fragment(
            f"SELECT {_TRX_COLUMNS} FROM information_schema.INNODB_TRX "
            f"WHERE trx_id IN (SELECT {requesting} FROM {waits}) "
            f"OR trx_id IN (SELECT {blocking} FROM {waits}) "
            "ORDER BY trx_started, trx_id"
        )

    def lock_object(self, row: LockWaitRow) -> tuple[str | None, str | None]:
        """(schema, table) of the lock a row names: MariaDB gives one quoted text, MySQL two columns."""
        if self.name == "mariadb":
            return split_lock_table(_text(row.lock_schema))
        return _text(row.lock_schema), _text(row.lock_table)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


MARIADB = Dialect("mariadb", "information_schema.PROCESSLIST p", None, "p.QUERY_ID", "p.TIME_MS")


def mysql(performance_schema_processlist: bool, threads_table: bool) -> Dialect:
    source = (
        "performance_schema.processlist p"
        if performance_schema_processlist
        else "information_schema.PROCESSLIST p"
    )
    if threads_table:
        source += " LEFT JOIN performance_schema.threads t ON t.PROCESSLIST_ID = p.ID"
        return Dialect("mysql", source, "t.TYPE = 'BACKGROUND'", "NULL", "p.TIME * 1000")
    return Dialect("mysql", source, None, "NULL", "p.TIME * 1000")


# -- detection -------------------------------------------------------------------------------------
# The version string tells MariaDB apart; for MySQL, which tables exist decides the source.
TABLES_PROBE = Fragment(
    "SELECT TABLE_NAME FROM information_schema.TABLES "
    "WHERE TABLE_SCHEMA = 'performance_schema' AND TABLE_NAME IN ('processlist', 'threads')"
)


def from_version(server_version: str | None) -> Dialect | None:
    """MariaDB from its version string; None when the tables must be probed (MySQL)."""
    return MARIADB if "mariadb" in (server_version or "").lower() else None


def from_tables(table_names: set[str]) -> Dialect:
    names = {name.lower() for name in table_names}
    return mysql("processlist" in names, "threads" in names)

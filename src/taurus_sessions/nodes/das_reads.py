"""DAS's reads on a node session (contract Part G): run ``das_sql``'s and the dialect's statements
and turn their rows into ``das_domain`` values.

The transaction age needs InnoDB's INNODB_TRX, which MariaDB shows only to accounts holding
PROCESS. An account the node refuses it to still gets its sessions and locks, without the age
(the least-privilege mode must not fail for want of a privilege it does not claim to have).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from taurus_sessions.das_domain import (
    DasProcess,
    DasProcessPage,
    DasProcessQuery,
    InnodbLock,
    InnodbLockReport,
    InnodbLockWait,
    InnodbTrx,
    MetadataLock,
)
from taurus_sessions.domain import Process, Thread
from taurus_sessions.nodes import das_sql, sql
from taurus_sessions.nodes.dialects import InnodbLockRow, InnodbTrxRow, InnodbWaitRow
from taurus_sessions.nodes.driver import NodeSession, to_thread
from taurus_sessions.nodes.errors import ER_SPECIFIC_ACCESS_DENIED_ERROR, NodeQueryFailed

T = TypeVar("T")


class MetadataLocksOff(Exception):
    """The node does not record metadata locks (performance_schema or its MDL instrument is off)."""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


def _age(value: Any) -> int | None:
    return max(0, int(value)) if value is not None else None


def _process(row: das_sql.DasProcessRow | das_sql.MetadataLockRow) -> DasProcess:
    process = Process(
        id=int(row.id),
        user=_text(row.user) or "",
        host=_text(row.host) or "",
        db=_text(row.db),
        command=_text(row.command) or "",
        time=max(0, _int(row.time)),
        state=_text(row.state),
        info=_text(row.info),
    )
    return DasProcess(process, _age(row.trx_seconds))


async def _with_trx_age(read: Callable[[bool], Awaitable[T]]) -> T:
    """``read(True)``; when the node refuses InnoDB's transaction table, ``read(False)``."""
    try:
        return await read(True)
    except NodeQueryFailed as exc:
        if exc.errno != ER_SPECIFIC_ACCESS_DENIED_ERROR:
            raise
        return await read(False)


async def processes(session: NodeSession, query: DasProcessQuery) -> DasProcessPage:
    rule = session.rule

    async def read(with_trx: bool) -> list[das_sql.DasProcessRow]:
        fragment = das_sql.processes(rule, query.user, query.database, query.offset, query.limit, with_trx)
        return [das_sql.DasProcessRow._make(row) for row in await session.fetch(fragment)]

    rows = await _with_trx_age(read)
    if rows:
        count = int(rows[0].total)
    elif query.offset > 0:
        count = int((await session.fetch(das_sql.count_processes(rule, query.user, query.database)))[0][0])
    else:
        count = 0
    return DasProcessPage([_process(row) for row in rows], count)


async def victims(
    session: NodeSession, ids: Sequence[int], user: str | None, database: str | None, cap: int
) -> dict[int, Thread]:
    """The sessions a kill names, as the node shows them to the account now (internal verdict
    included), lowest ids first, at most ``cap``."""
    fragment = das_sql.victims(session.rule, ids, user, database, cap)
    rows = map(sql.ThreadRow._make, await session.fetch(fragment))
    return {int(row.id): to_thread(row, bool(row.internal)) for row in rows}


async def metadata_locks(session: NodeSession) -> list[MetadataLock]:
    probe = await session.fetch(das_sql.MDL_PROBE)
    enabled, instrument = probe[0] if probe else (0, None)
    if not _int(enabled) or (_text(instrument) or "").upper() != "YES":
        raise MetadataLocksOff()
    rule = session.rule

    async def read(with_trx: bool) -> list[das_sql.MetadataLockRow]:
        rows = await session.fetch(das_sql.metadata_locks(rule, with_trx))
        return [das_sql.MetadataLockRow._make(row) for row in rows]

    return [
        MetadataLock(
            object_type=_text(row.object_type) or "",
            schema=_text(row.object_schema),
            name=_text(row.object_name),
            lock_type=_text(row.lock_type) or "",
            duration=_text(row.lock_duration) or "",
            status=_text(row.lock_status) or "",
            session=_process(row),
        )
        for row in await _with_trx_age(read)
    ]


async def innodb_locks(session: NodeSession) -> InnodbLockReport:
    """InnoDB's lock graph: waits, then the locks, then the transactions (InnoDB refreshes these
    tables at most every 0.1 s, so three quick reads see one picture; an id one of them names that
    another lacks is left out rather than guessed)."""
    dialect = session.rule.dialect
    waits = [_wait(InnodbWaitRow._make(row)) for row in await session.fetch(dialect.innodb_lock_waits())]
    locks = [_lock(InnodbLockRow._make(row)) for row in await session.fetch(dialect.innodb_locks())]
    rows = await session.fetch(dialect.innodb_transactions())
    transactions = [_trx(InnodbTrxRow._make(row)) for row in rows]
    return InnodbLockReport(transactions, locks, waits)


def _wait(row: InnodbWaitRow) -> InnodbLockWait:
    return InnodbLockWait(
        requesting_trx_id=_text(row.requesting_trx_id) or "",
        requested_lock_id=_text(row.requested_lock_id) or "",
        blocking_trx_id=_text(row.blocking_trx_id) or "",
        blocking_lock_id=_text(row.blocking_lock_id) or "",
    )


def _lock(row: InnodbLockRow) -> InnodbLock:
    return InnodbLock(
        lock_id=_text(row.lock_id) or "",
        trx_id=_text(row.lock_trx_id) or "",
        mode=_text(row.lock_mode),
        type=_text(row.lock_type),
        table=_text(row.lock_table),
        index=_text(row.lock_index),
        space=_text(row.lock_space),
        page=_text(row.lock_page),
        rec=_text(row.lock_rec),
        data=_text(row.lock_data),
    )


def _trx(row: InnodbTrxRow) -> InnodbTrx:
    return InnodbTrx(
        trx_id=_text(row.trx_id) or "",
        state=_text(row.trx_state),
        started=row.trx_started if isinstance(row.trx_started, datetime) else None,
        wait_started=row.trx_wait_started if isinstance(row.trx_wait_started, datetime) else None,
        thread_id=_int(row.trx_mysql_thread_id),
        query=_text(row.trx_query),
        tables_locked=_int(row.trx_tables_locked),
        rows_locked=_int(row.trx_rows_locked),
        rows_modified=_int(row.trx_rows_modified),
        isolation_level=_text(row.trx_isolation_level),
    )

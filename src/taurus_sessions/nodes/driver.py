"""The node driver: read the processlist, read named threads, KILL, inspect lock waits.

Every statement runs under the pool's read deadline; driver exceptions become ``NodeError``s here.
KILLs go in multi-statement batches (one round trip for many ids). When one KILL of a batch fails,
the server skips the rest of that batch, so the outcome of the failed id is recorded from its error
number and the remaining ids are sent again in a new batch: every id gets its own, correct answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from asyncmy.connection import Connection
from asyncmy.errors import Error as DriverError

from taurus_sessions.domain import (
    KillMode,
    KillResult,
    ListQuery,
    LockWaitEdge,
    Process,
    ProcessPage,
    RealtimeQuery,
    Thread,
    ThreadFilter,
)
from taurus_sessions.nodes import dialects, realtime, sql
from taurus_sessions.nodes.dialects import LockWaitRow
from taurus_sessions.nodes.errors import (
    ER_KILL_DENIED_ERROR,
    ER_NO_SUCH_QUERY,
    ER_NO_SUCH_THREAD,
    NodeQueryFailed,
    NodeTimeout,
    NodeUnreachable,
)
from taurus_sessions.nodes.fragments import Fragment
from taurus_sessions.nodes.pool import NodePool

log = logging.getLogger(__name__)

KILL_BATCH = 500
_CLIENT_ERRORS = 2000  # errnos from 2000 up are client/connection errors (CR_*), not server answers


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def to_process(row: sql.ProcessRow | sql.PageRow | sql.ThreadRow | sql.ExecutingRow) -> Process:
    return Process(
        id=int(row.id),
        user=_text(row.user) or "",
        host=_text(row.host) or "",
        db=_text(row.db),
        command=_text(row.command) or "",
        time=max(0, int(row.time or 0)),
        state=_text(row.state),
        info=_text(row.info),
    )


def _process_of(row: Sequence[Any]) -> Process:
    """``to_process`` for a row starting with ``sql.COLUMNS``: straight from the values when they
    already have their final types (as the driver gives them), else through ``to_process``."""
    id_, user, host, db, command, seconds, state, info = row[:8]
    if (
        type(id_) is int
        and type(user) is str
        and type(host) is str
        and type(command) is str
        and type(seconds) is int
        and seconds >= 0
        and (db is None or type(db) is str)
        and (state is None or type(state) is str)
        and (info is None or type(info) is str)
    ):
        return Process(id_, user, host, db, command, seconds, state, info)
    return to_process(sql.ProcessRow._make((*row[:8], None)))


def process_dicts(rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows starting with ``sql.COLUMNS`` in the list API's shape (``to_process(row).as_dict()``),
    built straight from the row when its values already have their final types: then the whole
    conversion is one dict per row."""
    out: list[dict[str, Any]] = []
    append = out.append
    for row in rows:
        id_, user, host, db, command, seconds, state, info = row[:8]
        if (
            type(id_) is int
            and type(user) is str
            and type(host) is str
            and type(command) is str
            and type(seconds) is int
            and seconds >= 0
            and (db is None or type(db) is str)
            and (state is None or type(state) is str)
            and (info is None or type(info) is str)
        ):
            append(
                {
                    "id": id_,
                    "user": user,
                    "host": host,
                    "db": db,
                    "command": command,
                    "time": seconds,
                    "state": state,
                    "info": info,
                }
            )
        else:
            append(to_process(sql.ProcessRow._make((*row[:8], None))).as_dict())
    return out


def to_thread(row: Sequence[Any], internal: bool) -> Thread:
    """A row of ``sql.COLUMNS`` then the query id (``ProcessRow`` and the rows that extend it)."""
    query_id = row[8]
    return Thread(_process_of(row), internal, int(query_id) if query_id is not None else None)


def seconds_in_state(row: sql.ExecutingRow) -> float:
    return float(row.time_ms or 0) / 1000


def client_host(host: str) -> str:
    """``10.0.0.5:51234`` → ``10.0.0.5`` (stats group by client machine, not by socket)."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@dataclass
class KillProgress:
    """What a sweep has done so far: the node's answer per id, and every id whose KILL was sent."""

    answers: dict[int, KillResult] = field(default_factory=dict)
    sent: set[int] = field(default_factory=set)


class NodeSession:
    """Statements on one connection (so a read and the KILLs it decides see the same session)."""

    def __init__(self, conn: Connection, rule: sql.InternalRule, read_timeout: float) -> None:
        self._conn = conn
        self._rule = rule
        self._timeout = read_timeout

    @property
    def rule(self) -> sql.InternalRule:
        """The node's internal-thread rule and its dialect (learnt on first contact)."""
        return self._rule

    async def fetch(self, fragment: Fragment) -> list[tuple[Any, ...]]:
        try:
            async with asyncio.timeout(self._timeout), self._conn.cursor() as cursor:
                await cursor.execute(fragment.sql, fragment.params or None)
                return list(await cursor.fetchall())
        except TimeoutError as exc:
            raise NodeTimeout(f"the node did not answer within {self._timeout:g}s") from exc
        except DriverError as exc:
            raise _translate(exc) from exc
        except OSError as exc:
            raise NodeUnreachable(f"connection to the node failed: {type(exc).__name__}") from exc

    async def list_page(self, query: ListQuery) -> ProcessPage:
        return build_page(*await self.list_page_rows(query))

    async def list_page_rows(
        self, query: ListQuery
    ) -> tuple[list[tuple[Any, ...]], int, dict[str, dict[str, int]] | None]:
        """The page's raw rows, the total and the stats: what needs the node (``build_page`` turns
        them into the answer once the connection is back in its pool)."""
        rows = await self.fetch(sql.list_page(self._rule, query))
        if rows:
            total = int(sql.PageRow._make(rows[0]).total)
        elif query.offset > 0:
            total = int((await self.fetch(sql.count_matching(self._rule, query.filter)))[0][0])
        else:
            total = 0
        stats = await self.stats(query.filter) if query.stats else None
        return rows, total, stats

    async def stats(self, flt: ThreadFilter) -> dict[str, dict[str, int]]:
        rows = await self.fetch(sql.stats_rows(self._rule, flt))
        users: Counter[str] = Counter()
        hosts: Counter[str] = Counter()
        dbs: Counter[str] = Counter()
        commands: Counter[str] = Counter()
        for user, host, db, command in map(sql.StatsRow._make, rows):
            users[_text(user) or ""] += 1
            hosts[client_host(_text(host) or "")] += 1
            dbs[_text(db) or ""] += 1
            commands[_text(command) or ""] += 1
        return {
            "user": dict(users.most_common()),
            "host": dict(hosts.most_common()),
            "db": dict(dbs.most_common()),
            "command": dict(commands.most_common()),
        }

    async def threads(self, thread_ids: Sequence[int]) -> dict[int, Thread]:
        """The named threads as the node shows them now; absent ids are simply missing."""
        if not thread_ids:
            return {}
        rows = await self.fetch(sql.threads_by_id(self._rule, thread_ids))
        # ThreadRow: the process columns, the query id, then the internal verdict.
        return {int(row[0]): to_thread(row, bool(row[9])) for row in rows}

    async def matching(self, flt: ThreadFilter) -> list[Thread]:
        rows = map(sql.ProcessRow._make, await self.fetch(sql.matching_threads(self._rule, flt)))
        return [to_thread(row, False) for row in rows]

    async def executing(self) -> list[tuple[Thread, float]]:
        """User threads running a statement, each with its seconds in state (to the millisecond
        where the server keeps them)."""
        return [(to_thread(row, False), seconds_in_state(row)) for row in await self.executing_rows()]

    async def executing_rows(self) -> list[sql.ExecutingRow]:
        """``executing`` as the node's rows: for callers that turn only a few of thousands into
        threads (``to_thread``), which costs more than reading them."""
        return list(map(sql.ExecutingRow._make, await self.fetch(sql.executing_threads(self._rule))))

    async def realtime_sessions(
        self, query: RealtimeQuery, max_rows: int, info_chars: int
    ) -> list[dict[str, Any]]:
        """A realtime session collection's lines (``realtime.COLUMNS``), from one statement."""
        fragment = realtime.realtime_sessions(self._rule, query, max_rows, info_chars)
        return [realtime.as_record(realtime.RealtimeRow._make(row)) for row in await self.fetch(fragment)]

    async def lock_waits(self, thread_id: int) -> list[LockWaitEdge]:
        """What ``thread_id`` waits for, oldest blocker first (empty when it waits for nothing)."""
        dialect = self._rule.dialect
        rows = map(LockWaitRow._make, await self.fetch(dialect.lock_waits(thread_id)))
        return [_edge(row, *dialect.lock_object(row)) for row in rows]

    async def kill(
        self, victims: Sequence[Thread], mode: KillMode, progress: KillProgress | None = None
    ) -> dict[int, KillResult]:
        """Answers keyed by thread id, also kept in ``progress`` as they come: when the call is cut
        off (a node fault, the call's deadline), it says which KILLs were answered and which were
        sent without an answer. ``mode`` query stops the statement that was read with the
        thread where the server can name it (``KILL QUERY ID``), so a statement that started since
        is never the one stopped. The KILLs go newest thread first: MariaDB looks a thread up by
        walking its thread list from the newest, so this order keeps every lookup short (a
        5,000-session sweep takes about a third of the time it takes oldest first)."""
        by_query_id = mode is KillMode.QUERY and self._rule.dialect.kills_by_query_id
        if mode is KillMode.CONNECTION:
            statements = {victim.process.id: sql.kill_connection(victim.process.id) for victim in victims}
        else:
            statements = {
                victim.process.id: sql.kill_statement(
                    victim.process.id, mode, victim.query_id if by_query_id else None
                )
                for victim in victims
            }
        progress = progress if progress is not None else KillProgress()
        pending = sorted(statements, reverse=True)
        while pending:
            batch = pending[:KILL_BATCH]
            progress.sent.update(batch)
            done = await self._kill_batch(batch, statements, progress.answers)
            pending = pending[done:]
        return progress.answers

    async def _kill_batch(
        self, batch: list[int], statements: dict[int, str], results: dict[int, KillResult]
    ) -> int:
        statement = ";".join(statements[thread_id] for thread_id in batch)
        done = 0
        try:
            async with asyncio.timeout(self._timeout), self._conn.cursor() as cursor:
                await cursor.execute(statement)
                results[batch[0]] = KillResult.KILLED
                done = 1
                while done < len(batch) and await cursor.nextset():
                    results[batch[done]] = KillResult.KILLED
                    done += 1
        except TimeoutError as exc:
            raise NodeTimeout(f"the node did not answer within {self._timeout:g}s") from exc
        except DriverError as exc:
            errno = _errno(exc)
            if errno is None or errno >= _CLIENT_ERRORS:
                raise NodeUnreachable(f"connection lost during KILL ({errno})") from exc
            results[batch[done]] = _kill_refusal(errno)
            if errno not in (ER_NO_SUCH_THREAD, ER_NO_SUCH_QUERY, ER_KILL_DENIED_ERROR):
                log.warning("KILL %d refused with server error %d", batch[done], errno)
            done += 1
        except OSError as exc:
            raise NodeUnreachable("connection lost during KILL") from exc
        return done


def _kill_refusal(errno: int) -> KillResult:
    # No such thread, or (KILL QUERY ID) the statement that was checked has already ended.
    gone = errno in (ER_NO_SUCH_THREAD, ER_NO_SUCH_QUERY)
    return KillResult.NO_SUCH_THREAD if gone else KillResult.DENIED


def _edge(row: LockWaitRow, lock_db: str | None, lock_table: str | None) -> LockWaitEdge:
    return LockWaitEdge(
        waiter=int(row.waiter),
        waiter_query=_text(row.waiter_query),
        wait_seconds=max(0, int(row.wait_seconds or 0)),
        lock_db=lock_db,
        lock_table=lock_table,
        lock_index=_text(row.lock_index),
        lock_mode=_text(row.lock_mode),
        lock_data=_text(row.lock_data),
        blocker=int(row.blocker),
        blocker_state=_text(row.blocker_state),
        blocker_age=max(0, int(row.blocker_age or 0)),
        blocker_rows_locked=int(row.blocker_rows_locked or 0),
        blocker_rows_modified=int(row.blocker_rows_modified or 0),
        blocker_query=_text(row.blocker_query),
    )


def _errno(exc: DriverError) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _translate(exc: DriverError) -> NodeQueryFailed | NodeUnreachable:
    errno = _errno(exc)
    if errno is None or errno >= _CLIENT_ERRORS:
        return NodeUnreachable(f"connection to the node failed ({errno})")
    return NodeQueryFailed(f"the node refused a statement (server error {errno})", errno)


def build_page(
    rows: list[tuple[Any, ...]], total: int, stats: dict[str, dict[str, int]] | None
) -> ProcessPage:
    return ProcessPage(process_dicts(rows), total, stats)


class NodeClient:
    """One node: its pool and its internal-thread rule (the dialect is learnt on first contact)."""

    def __init__(self, pool: NodePool, system_accounts: Iterable[str]) -> None:
        self.pool = pool
        self._accounts = tuple(system_accounts)
        self._rule: sql.InternalRule | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[NodeSession]:
        """A session on a pooled connection (what ``pool.connection()`` does, in one layer)."""
        pool = self.pool
        conn = await pool.acquire()
        clean = False
        try:
            rule = self._rule or await self._learn_dialect(conn)
            yield NodeSession(conn, rule, pool.limits.read_timeout)
            clean = True
        except (NodeUnreachable, NodeTimeout) as exc:
            pool.failed(exc)
            raise
        finally:
            pool.release(conn, clean)

    async def _learn_dialect(self, conn: Connection) -> sql.InternalRule:
        dialect = dialects.from_version(conn.get_server_info())
        if dialect is None:
            probe = NodeSession(conn, sql.InternalRule(dialects.MARIADB, ()), self.pool.limits.read_timeout)
            rows = await probe.fetch(dialects.TABLES_PROBE)
            dialect = dialects.from_tables({str(row[0]) for row in rows})
        self._rule = sql.InternalRule(dialect, self._accounts)
        return self._rule

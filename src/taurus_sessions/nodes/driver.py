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
    Thread,
    ThreadFilter,
)
from taurus_sessions.nodes import sql
from taurus_sessions.nodes.errors import (
    ER_KILL_DENIED_ERROR,
    ER_NO_SUCH_THREAD,
    NodeQueryFailed,
    NodeTimeout,
    NodeUnreachable,
)
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


def to_process(row: Sequence[Any]) -> Process:
    return Process(
        id=int(row[0]),
        user=_text(row[1]) or "",
        host=_text(row[2]) or "",
        db=_text(row[3]),
        command=_text(row[4]) or "",
        time=max(0, int(row[5] or 0)),
        state=_text(row[6]),
        info=_text(row[7]),
    )


def client_host(host: str) -> str:
    """``10.0.0.5:51234`` → ``10.0.0.5`` (stats group by client machine, not by socket)."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class NodeSession:
    """Statements on one connection (so a read and the KILLs it decides see the same session)."""

    def __init__(self, conn: Connection, rule: sql.InternalRule, read_timeout: float) -> None:
        self._conn = conn
        self._rule = rule
        self._timeout = read_timeout

    async def fetch(self, fragment: sql.Fragment) -> list[tuple[Any, ...]]:
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
        rows = await self.fetch(sql.list_page(self._rule, query))
        if rows:
            total = int(rows[0][8])
        elif query.offset > 0:
            total = int((await self.fetch(sql.count_matching(self._rule, query.filter)))[0][0])
        else:
            total = 0
        stats = await self.stats(query.filter) if query.stats else None
        return ProcessPage([to_process(row) for row in rows], total, stats)

    async def stats(self, flt: ThreadFilter) -> dict[str, dict[str, int]]:
        rows = await self.fetch(sql.stats_rows(self._rule, flt))
        users: Counter[str] = Counter()
        hosts: Counter[str] = Counter()
        dbs: Counter[str] = Counter()
        commands: Counter[str] = Counter()
        for user, host, db, command in rows:
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
        return {int(row[0]): Thread(to_process(row), bool(row[8])) for row in rows}

    async def matching(self, flt: ThreadFilter) -> list[Thread]:
        rows = await self.fetch(sql.matching_threads(self._rule, flt))
        return [Thread(to_process(row), False) for row in rows]

    async def lock_waits(self, thread_id: int) -> list[LockWaitEdge]:
        """What ``thread_id`` waits for, oldest blocker first (empty when it waits for nothing)."""
        rows = await self.fetch(sql.lock_waits(self._rule.dialect, thread_id))
        edges = []
        for row in rows:
            if row[4] is None:  # MariaDB: one quoted `db`.`table` text
                lock_db, lock_table = sql.split_lock_table(_text(row[3]))
            else:
                lock_db, lock_table = _text(row[3]), _text(row[4])
            edges.append(
                LockWaitEdge(
                    waiter=int(row[0]),
                    waiter_query=_text(row[1]),
                    wait_seconds=max(0, int(row[2] or 0)),
                    lock_db=lock_db,
                    lock_table=lock_table,
                    lock_index=_text(row[5]),
                    lock_mode=_text(row[6]),
                    lock_data=_text(row[7]),
                    blocker=int(row[8]),
                    blocker_state=_text(row[9]),
                    blocker_age=max(0, int(row[10] or 0)),
                    blocker_rows_locked=int(row[11] or 0),
                    blocker_rows_modified=int(row[12] or 0),
                    blocker_query=_text(row[13]),
                )
            )
        return edges

    async def kill(self, thread_ids: Sequence[int], mode: KillMode) -> dict[int, KillResult]:
        """Answers keyed by id. The KILLs go newest thread first: MariaDB looks a thread up by
        walking its thread list from the newest, so this order keeps every lookup short (a
        5,000-session sweep takes about a third of the time it takes oldest first)."""
        results: dict[int, KillResult] = {}
        pending = sorted(thread_ids, reverse=True)
        while pending:
            batch = pending[:KILL_BATCH]
            done = await self._kill_batch(batch, mode, results)
            pending = pending[done:]
        return results

    async def _kill_batch(self, batch: list[int], mode: KillMode, results: dict[int, KillResult]) -> int:
        statement = ";".join(sql.kill_statement(thread_id, mode) for thread_id in batch)
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
            raise NodeTimeout(f"the node did not answer within {self._timeout:g}s", partial=results) from exc
        except DriverError as exc:
            errno = _errno(exc)
            if errno is None or errno >= _CLIENT_ERRORS:
                raise NodeUnreachable(f"connection lost during KILL ({errno})", partial=results) from exc
            results[batch[done]] = _kill_refusal(errno)
            if errno not in (ER_NO_SUCH_THREAD, ER_KILL_DENIED_ERROR):
                log.warning("KILL %d refused with server error %d", batch[done], errno)
            done += 1
        except OSError as exc:
            raise NodeUnreachable("connection lost during KILL", partial=results) from exc
        return done


def _kill_refusal(errno: int) -> KillResult:
    return KillResult.NO_SUCH_THREAD if errno == ER_NO_SUCH_THREAD else KillResult.DENIED


def _errno(exc: DriverError) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _translate(exc: DriverError) -> NodeQueryFailed | NodeUnreachable:
    errno = _errno(exc)
    if errno is None or errno >= _CLIENT_ERRORS:
        return NodeUnreachable(f"connection to the node failed ({errno})")
    return NodeQueryFailed(f"the node refused a statement (server error {errno})", errno)


class NodeClient:
    """One node: its pool and its internal-thread rule (the dialect is learnt on first contact)."""

    def __init__(self, pool: NodePool, system_accounts: Iterable[str]) -> None:
        self.pool = pool
        self._accounts = tuple(system_accounts)
        self._rule: sql.InternalRule | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[NodeSession]:
        async with self.pool.connection() as conn:
            rule = self._rule or await self._learn_dialect(conn)
            yield NodeSession(conn, rule, self.pool.limits.read_timeout)

    async def _learn_dialect(self, conn: Connection) -> sql.InternalRule:
        version = (conn.get_server_info() or "").lower()
        if "mariadb" in version:
            dialect = sql.Dialect.mariadb()
        else:
            probe = NodeSession(
                conn, sql.InternalRule(sql.Dialect.mariadb(), ()), self.pool.limits.read_timeout
            )
            rows = await probe.fetch(
                sql.Fragment(
                    "SELECT TABLE_NAME FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = 'performance_schema' AND TABLE_NAME IN ('processlist', 'threads')"
                )
            )
            tables = {str(row[0]).lower() for row in rows}
            dialect = sql.Dialect.mysql("processlist" in tables, "threads" in tables)
        self._rule = sql.InternalRule(dialect, self._accounts)
        return self._rule

"""Application sessions on real nodes (PyMySQL, as an application would connect)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pymysql
import pymysql.connections

from support.poll import eventually, poll
from taurus_sessions.sandbox.mariadb import MariaDBServer

# InnoDB refreshes the cache behind its information_schema transaction and lock tables only after
# 0.1 s without a read of them: whoever polls those tables (idle in transaction, lock waits) must
# pause longer than that between reads, or the cache is never refreshed.
INNODB_CACHE_POLL = 0.15


class Session:
    """One client connection; `run_async` starts a statement in a thread and returns at once.

    ``end_statement(thread_id)`` ends a statement still running at close (closing a connection
    mid-statement would wait for the statement), through some privileged account on the node.
    """

    def __init__(
        self,
        port: int,
        user: str,
        password: str,
        database: str | None,
        end_statement: Callable[[int], object],
    ) -> None:
        self._end_statement = end_statement
        self.conn: pymysql.connections.Connection[Any] = pymysql.connect(
            host="127.0.0.1", port=port, user=user, password=password, database=database, autocommit=True
        )
        self.id: int = self.conn.thread_id()  # type: ignore[no-untyped-call]
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.result: tuple[tuple[object, ...], ...] | None = None

    def execute(self, statement: str) -> tuple[tuple[object, ...], ...]:
        with self.conn.cursor() as cursor:
            cursor.execute(statement)
            return tuple(cursor.fetchall())

    def run_async(self, statement: str) -> None:
        def work() -> None:
            try:
                self.result = self.execute(statement)
            except BaseException as exc:  # the point of many tests is that this gets killed
                self.error = exc

        self.thread = threading.Thread(target=work, daemon=True)
        self.thread.start()

    def join(self, timeout: float = 15) -> None:
        assert self.thread is not None
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the statement of session {self.id} is still running"

    def alive(self) -> bool:
        try:
            self.conn.ping(reconnect=False)
        except pymysql.err.Error:
            return False
        return True

    def close(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            with contextlib.suppress(Exception):
                self._end_statement(int(self.id))
            self.thread.join(10)
        with contextlib.suppress(Exception):
            self.conn.close()


class Sessions:
    def __init__(self) -> None:
        self.opened: list[Session] = []

    def open(self, server: MariaDBServer, user: str, password: str, database: str | None = None) -> Session:
        return self.add(
            Session(server.port, user, password, database, lambda tid: server.sql(f"KILL {tid:d}"))
        )

    def add(self, session: Session) -> Session:
        self.opened.append(session)
        return session

    def close_all(self) -> None:
        for session in self.opened:
            session.close()
        self.opened.clear()


def thread_ids(server: MariaDBServer, where: str = "TRUE") -> set[int]:
    rows = server.sql(f"SELECT ID FROM information_schema.PROCESSLIST WHERE {where}")
    return {int(row[0]) for row in rows}


def wait_gone(server: MariaDBServer, ids: set[int], timeout: float = 5.0) -> set[int]:
    """Ids still present after waiting (KILL returns before the victim thread has finished exiting)."""
    left = set(ids)

    def all_gone() -> bool:
        left.intersection_update(
            thread_ids(server, f"ID IN ({','.join(str(i) for i in left)}) AND COMMAND <> 'Killed'")
        )
        return not left

    if left:
        poll(all_gone, timeout=timeout)
    return left


def command_of(server: MariaDBServer, thread_id: int) -> str | None:
    rows = server.sql(f"SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = {int(thread_id)}")
    return str(rows[0][0]) if rows else None


def seconds_in_state(server: MariaDBServer, thread_id: int) -> int:
    """The processlist's TIME of a thread: whole seconds of the node's clock, so it turns from 0 to 1
    at the node's next full second, anywhere from an instant to a second after the state began."""
    rows = server.sql(f"SELECT TIME FROM information_schema.PROCESSLIST WHERE ID = {int(thread_id)}")
    assert rows, f"no thread {thread_id} on the node"
    return int(rows[0][0])


def wait_seconds_in_state(server: MariaDBServer, thread_id: int, seconds: int) -> None:
    """Until the node counts ``seconds`` for the thread's state (the node's clock: nothing to fake)."""
    eventually(
        lambda: seconds_in_state(server, thread_id) >= seconds,
        timeout=seconds + 5,
        message=f"thread {thread_id} to spend {seconds} s in its state",
    )


def wait_for_state(server: MariaDBServer, thread_id: int, command: str, timeout: float = 5.0) -> None:
    eventually(
        lambda: command_of(server, thread_id) == command,
        timeout=timeout,
        message=f"thread {thread_id} to reach command {command}",
    )

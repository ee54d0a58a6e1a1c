"""Application sessions on real nodes (PyMySQL, as an application would connect)."""

from __future__ import annotations

import contextlib
import threading
import time

import pymysql
import pymysql.connections

from taurus_sessions.sandbox.mariadb import MariaDBServer


class Session:
    """One client connection; `run_async` starts a statement in a thread and returns at once."""

    def __init__(self, server: MariaDBServer, user: str, password: str, database: str | None) -> None:
        self.server = server
        self.conn: pymysql.connections.Connection[pymysql.cursors.Cursor] = pymysql.connect(
            host="127.0.0.1",
            port=server.port,
            user=user,
            password=password,
            database=database,
            autocommit=True,
        )
        self.id = self.conn.thread_id()
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def execute(self, statement: str) -> tuple[tuple[object, ...], ...]:
        with self.conn.cursor() as cursor:
            cursor.execute(statement)
            return tuple(cursor.fetchall())

    def run_async(self, statement: str) -> None:
        def work() -> None:
            try:
                self.execute(statement)
            except BaseException as exc:  # the point of many tests is that this gets killed
                self.error = exc

        self.thread = threading.Thread(target=work, daemon=True)
        self.thread.start()

    def alive(self) -> bool:
        try:
            self.conn.ping(reconnect=False)
        except pymysql.err.Error:
            return False
        return True

    def close(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            # Closing a connection mid-statement waits for the statement; end it on the server.
            with contextlib.suppress(Exception):
                self.server.sql(f"KILL {int(self.id)}")
            self.thread.join(5)
        with contextlib.suppress(Exception):
            self.conn.close()


class Sessions:
    def __init__(self) -> None:
        self.opened: list[Session] = []

    def open(self, server: MariaDBServer, user: str, password: str, database: str | None = None) -> Session:
        session = Session(server, user, password, database)
        self.opened.append(session)
        return session

    def close_all(self) -> None:
        for session in self.opened:
            session.close()


def thread_ids(server: MariaDBServer, where: str = "TRUE") -> set[int]:
    rows = server.sql(f"SELECT ID FROM information_schema.PROCESSLIST WHERE {where}")
    return {int(row[0]) for row in rows}


def wait_gone(server: MariaDBServer, ids: set[int], timeout: float = 5.0) -> set[int]:
    """Ids still present after waiting (KILL returns before the victim thread has finished exiting)."""
    deadline = time.monotonic() + timeout
    left = set(ids)
    while left and time.monotonic() < deadline:
        present = thread_ids(server, f"ID IN ({','.join(str(i) for i in left)}) AND COMMAND <> 'Killed'")
        left &= present
        if left:
            time.sleep(0.05)
    return left


def wait_for_state(server: MariaDBServer, thread_id: int, command: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = server.sql(f"SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = {int(thread_id)}")
        if rows and rows[0][0] == command:
            return
        time.sleep(0.05)
    raise AssertionError(f"thread {thread_id} never reached command {command}")

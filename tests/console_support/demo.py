"""`taurus-sessions demo` as a process, the nodes it runs, and application sessions on them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
import pymysql.connections

BIN = Path(sys.executable).with_name("taurus-sessions")
READY = "Ctrl-C stops the demo"
INTERNAL_USERS = ("rdsAdmin", "rdsRepl", "rdsBackup", "rdsMetric", "event_scheduler", "system user")


@dataclass
class Demo:
    manifest: dict[str, Any]

    @property
    def endpoint(self) -> str:
        return str(self.manifest["endpoint"])

    @property
    def console_url(self) -> str:
        return self.endpoint + "/console/"

    def node(self, role: str = "master") -> dict[str, Any]:
        return next(n for n in self.manifest["nodes"] if n["role"] == role)

    def root_rows(
        self, sql: str, params: tuple[object, ...] = (), role: str = "master"
    ) -> list[tuple[Any, ...]]:
        """A statement on the node through the root account (what the node really has)."""
        root = self.manifest["root_account"]
        conn = pymysql.connect(
            host="127.0.0.1", port=int(self.node(role)["port"]), user=root["user"], password=root["password"]
        )
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
        finally:
            conn.close()

    def thread_exists(self, thread_id: int) -> bool:
        rows = self.root_rows(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s", (thread_id,)
        )
        return int(rows[0][0]) == 1


@contextlib.contextmanager
def running_demo(folder: Path, timeout: float = 180) -> Iterator[Demo]:
    """Start the demo on a free port, wait for it, stop it with SIGTERM (it removes what it made)."""
    manifest_path = folder / "demo.json"
    output_path = folder / "demo.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAURUS_")}
    with output_path.open("w") as output:
        process = subprocess.Popen(
            [str(BIN), "demo", "--port", "0", "--manifest", str(manifest_path)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while READY not in output_path.read_text():
                if process.poll() is not None:
                    raise AssertionError("the demo exited early:\n" + output_path.read_text()[-4000:])
                if time.monotonic() > deadline:
                    raise AssertionError("the demo did not get ready:\n" + output_path.read_text()[-4000:])
                time.sleep(0.2)
            yield Demo(json.loads(manifest_path.read_text()))
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)


class AppSession:
    """One application connection (the demo's ordinary account), as an application would hold it."""

    def __init__(self, demo: Demo, role: str = "master") -> None:
        app = demo.manifest["app_account"]
        self.demo = demo
        self.conn: pymysql.connections.Connection[Any] = pymysql.connect(
            host="127.0.0.1",
            port=int(demo.node(role)["port"]),
            user=app["user"],
            password=app["password"],
            database=app["database"],
            autocommit=True,
        )
        self.id: int = self.conn.thread_id()
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.result: tuple[tuple[Any, ...], ...] | None = None

    def execute(self, statement: str) -> tuple[tuple[Any, ...], ...]:
        with self.conn.cursor() as cursor:
            cursor.execute(statement)
            return tuple(cursor.fetchall())

    def run_async(self, statement: str) -> None:
        """Start a statement in a thread (it blocks: a sleep, a lock wait) and return at once."""

        def work() -> None:
            try:
                self.result = self.execute(statement)
            except BaseException as exc:  # being killed is the point of most of these statements
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
                self.demo.root_rows(f"KILL {int(self.id)}")
            self.thread.join(10)
        with contextlib.suppress(Exception):
            self.conn.close()


@dataclass
class AppSessions:
    demo: Demo
    opened: list[AppSession] = field(default_factory=list)

    def open(self, role: str = "master") -> AppSession:
        session = AppSession(self.demo, role)
        self.opened.append(session)
        return session

    def close_all(self) -> None:
        for session in self.opened:
            session.close()
        self.opened.clear()


def wait_until(check: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)

"""Many idle application sessions at once (PyMySQL, opened in parallel), as a connection storm or a
pool of idle clients leaves them, for the tests that kill hundreds of sessions in one call."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pymysql

from taurus_sessions.sandbox.mariadb import MariaDBServer

PARALLEL_CONNECTS = 16


class Crowd:
    def __init__(self) -> None:
        self.connections: dict[int, Any] = {}

    def open(self, server: MariaDBServer, user: str, password: str, count: int) -> list[int]:
        def connect(_: int) -> Any:
            return pymysql.connect(
                host="127.0.0.1", port=server.port, user=user, password=password, connect_timeout=10
            )

        with ThreadPoolExecutor(PARALLEL_CONNECTS) as pool:
            opened = list(pool.map(connect, range(count)))
        ids = []
        for conn in opened:
            self.connections[int(conn.thread_id())] = conn
            ids.append(int(conn.thread_id()))
        return ids

    def close_all(self) -> None:
        for conn in self.connections.values():
            with contextlib.suppress(Exception):
                conn.close()
        self.connections.clear()

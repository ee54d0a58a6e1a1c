"""The raw driver: asyncmy as the service's admin account, opened the way the service opens it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncmy
from asyncmy.connection import Connection
from asyncmy.constants import CLIENT

from bench.reference_sql import kill_connection

ER_NO_SUCH_THREAD = 1094


class RawError(RuntimeError):
    pass


async def connect(host: str, port: int, user: str, password: str) -> Connection:
    return await asyncmy.connect(
        host=host,
        port=port,
        user=user,
        password=password,
        autocommit=True,
        charset="utf8mb4",
        client_flag=CLIENT.MULTI_STATEMENTS,
    )


class RawNode:
    """One warm connection; every method is one piece of work a reference times."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @classmethod
    async def open(cls, host: str, port: int, user: str, password: str) -> RawNode:
        return cls(await connect(host, port, user, password))

    async def fetch(self, statement: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        async with self.conn.cursor() as cursor:
            await cursor.execute(statement, tuple(params) or None)
            return list(await cursor.fetchall())

    async def kill_each(self, ids: Sequence[int]) -> list[int]:
        """One ``KILL CONNECTION`` statement (one round trip) per id; the ids the node killed."""
        killed: list[int] = []
        async with self.conn.cursor() as cursor:
            for thread_id in ids:
                try:
                    await cursor.execute(kill_connection(thread_id))
                except asyncmy.errors.OperationalError as exc:
                    if not exc.args or exc.args[0] != ER_NO_SUCH_THREAD:
                        raise
                    continue
                killed.append(thread_id)
        return killed

    async def kill_batched(self, ids: Sequence[int], batch: int) -> int:
        """``KILL CONNECTION`` in multi-statement batches; how many statements succeeded."""
        done = 0
        async with self.conn.cursor() as cursor:
            for start in range(0, len(ids), batch):
                chunk = ids[start : start + batch]
                await cursor.execute(";".join(kill_connection(i) for i in chunk))
                done += 1
                while await cursor.nextset():
                    done += 1
        return done

    def close(self) -> None:
        self.conn.close()

"""The request path's shortcuts: which list calls the lean path takes, the caches kept fresh ahead
of expiry, the audit writer's rows, and the list's rows built straight from the driver's tuples."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from taurus_sessions.api.fast_routes import list_query
from taurus_sessions.cache import CacheRefresher, TtlCache
from taurus_sessions.domain import ListQuery
from taurus_sessions.inventory.audit_writer import SqliteAuditWriter
from taurus_sessions.inventory.engine import create_engine, migrate
from taurus_sessions.inventory.models import AuditEvent
from taurus_sessions.nodes import sql
from taurus_sessions.nodes.driver import process_dicts, to_process, to_thread


# -- the lean path's share of list calls -----------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", ListQuery()),
        (b"offset=0&limit=100", ListQuery(0, 100)),
        (b"limit=5&offset=7", ListQuery(7, 5)),
        (b"offset=9223372036854775807&limit=1", ListQuery(2**63 - 1, 1)),
        (b"limit=007", ListQuery(0, 7)),
    ],
)
def test_plain_offset_and_limit_take_the_lean_path(raw: bytes, expected: ListQuery) -> None:
    assert list_query(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"offset=0&limit=100&sort=id",  # an extension parameter
        b"user=app",
        b"limit=0",  # out of range: the route names the fault
        b"limit=101",
        b"offset=9223372036854775808",
        b"offset=-1",
        b"limit=+5",
        b"limit=%35",  # percent-encoded
        b"limit=",
        b"limit",
        b"limit=5&limit=6",  # given twice
        b"offset=1&",
        b"limit=\xd9\xa3",  # a digit, but not an ASCII one
    ],
)
def test_anything_else_goes_to_the_route(raw: bytes) -> None:
    assert list_query(raw) is None


# -- caches ----------------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_in_use_are_loaded_again_before_they_expire() -> None:
    clock = Clock()
    loads: list[str] = []

    async def scenario() -> None:
        cache: TtlCache[str, int] = TtlCache(2.0, clock)

        async def load() -> int:
            loads.append("x")
            return len(loads)

        assert await cache.get("k", load) == 1
        clock.now += 0.5
        assert cache.refresh_due() == []  # more than half its life left
        clock.now += 0.8
        await asyncio.gather(*cache.refresh_due())  # 0.7 s left: loaded again, in the background
        assert len(loads) == 2
        clock.now += 1.5  # past the first load's expiry, within the second's
        assert await cache.get("k", load) == 2  # no wait for the inventory
        assert len(loads) == 2

    asyncio.run(scenario())


def test_entries_nobody_uses_expire_and_are_loaded_on_demand() -> None:
    clock = Clock()
    calls: list[int] = []

    async def scenario() -> None:
        cache: TtlCache[str, int] = TtlCache(2.0, clock, keep_warm=10.0)

        async def load() -> int:
            calls.append(1)
            return len(calls)

        await cache.get("k", load)
        clock.now += 11.0  # unused for longer than the keep-warm window
        assert cache.refresh_due() == []
        assert await cache.get("k", load) == 2  # expired: loaded on the request's path

    asyncio.run(scenario())


def test_concurrent_misses_share_one_load_and_invalidation_wins() -> None:
    clock = Clock()
    started: list[asyncio.Event] = []

    async def scenario() -> None:
        cache: TtlCache[str, str] = TtlCache(2.0, clock)
        release = asyncio.Event()

        async def slow() -> str:
            started.append(asyncio.Event())
            await release.wait()
            return "old"

        waiters = [asyncio.ensure_future(cache.get("k", slow)) for _ in range(5)]
        for _ in range(5):
            await asyncio.sleep(0)
        assert len(started) == 1  # one load for five callers
        cache.invalidate("k")  # e.g. the CLI changed the node meanwhile
        release.set()
        assert await asyncio.gather(*waiters) == ["old"] * 5

        async def fresh() -> str:
            return "new"

        assert await cache.get("k", fresh) == "new"  # the load begun before the change was not kept

    asyncio.run(scenario())


def test_a_lifetime_of_zero_caches_nothing() -> None:
    async def scenario() -> None:
        cache: TtlCache[str, int] = TtlCache(0.0, Clock())
        counter = iter(range(10))

        async def load() -> int:
            return next(counter)

        assert [await cache.get("k", load) for _ in range(3)] == [0, 1, 2]
        assert cache.refresh_due() == []
        assert CacheRefresher([cache]).interval == 1.0

    asyncio.run(scenario())


# -- the audit writer --------------------------------------------------------------------------------
def _event(request_id: str) -> dict[str, Any]:
    return {
        "at": datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC),
        "request_id": request_id,
        "action": "deleteProcesses",
        "project_id": "p1",
        "instance_id": None,
        "node_id": "n1",
        "actor_kind": "user",
        "actor_user_id": "u1",
        "actor_name": "d/alice",
        "access_key": None,
        "task_id": None,
        "source_ip": "127.0.0.1",
        "mode": "connection",
        "dry_run": False,
        "requested": {"processes": [7, 8]},
        "outcome": "pending",
        "http_status": 0,
        "error_code": None,
        "results": [{"id": 7, "outcome": "pending", "user": "app", "info": "SELECT 'é 😀'"}],
    }


def test_the_audit_writer_stores_what_sqlalchemy_would(tmp_path: Path) -> None:
    finish = {
        "outcome": "ok",
        "http_status": 200,
        "error_code": None,
        "results": [{"id": 7, "outcome": "killed"}],
        "duration_ms": 1.25,
        "mode": "connection",
        "requested": {"processes": [7]},
    }

    async def scenario() -> list[Any]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inventory.db'}")
        await migrate(engine)
        writer = SqliteAuditWriter(engine, 5.0)
        try:
            ours = await writer.insert(_event("ours"))
            await writer.update(ours, finish)
            async with engine.begin() as conn:
                theirs = (await conn.execute(insert(AuditEvent), _event("theirs"))).inserted_primary_key
                assert theirs is not None
                await conn.execute(update(AuditEvent).where(AuditEvent.id == theirs[0]).values(**finish))
            async with engine.connect() as conn:
                return list((await conn.execute(select(AuditEvent).order_by(AuditEvent.id))).all())
        finally:
            writer.close()
            await engine.dispose()

    ours, theirs = (dict(row._mapping) for row in asyncio.run(scenario()))
    assert (ours.pop("id"), ours.pop("request_id")) != (theirs.pop("id"), theirs.pop("request_id"))
    assert ours == theirs  # every other column read back alike (types, JSON, times)
    assert ours["at"] == datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
    assert ours["results"] == [{"id": 7, "outcome": "killed"}] and ours["occurrences"] == 1


def test_the_audit_writer_takes_only_the_models_columns(tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inventory.db'}")
        await migrate(engine)
        writer = SqliteAuditWriter(engine, 5.0)
        try:
            with pytest.raises(ValueError, match="not columns"):
                await writer.insert({**_event("x"), "outcome = 'ok'; --": 1})
        finally:
            writer.close()
            await engine.dispose()

    asyncio.run(scenario())


# -- rows straight from the driver -----------------------------------------------------------------
ROWS: list[tuple[Any, ...]] = [
    (5, "app", "127.0.0.1:5000", "shop", "Sleep", 3, "", None, 17, 2),
    (6, "app", "127.0.0.1:5001", None, "Query", 0, "Sending data", "SELECT 1", 18, 2),
    # what the fast path leaves to to_process: bytes, a missing user, a negative time
    (7, b"app", b"h:1", b"db", b"Query", -4, None, b"SELECT '\xff'", None, 2),
    (8, None, None, None, None, None, None, None, None, 2),
]


def test_rows_become_what_to_process_makes_of_them() -> None:
    slow = [to_process(sql.PageRow._make(row)).as_dict() for row in ROWS]
    assert process_dicts(ROWS) == slow
    for row in ROWS:
        thread = to_thread(row, True)
        assert thread.process == to_process(sql.PageRow._make(row))
        assert thread.query_id == (int(row[8]) if row[8] is not None else None)

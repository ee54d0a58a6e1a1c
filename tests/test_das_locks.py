"""DAS's lock views through the official DAS SDK against real MariaDB: a metadata-lock pile-up
(an idle transaction, an ALTER TABLE waiting for it, SELECTs queued behind the ALTER) and an InnoDB
row-lock wait, read as registered database accounts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from huaweicloudsdkdas.v3 import ListInnodbLocksRequest, ListMetadataLocksRequest

from conftest import World, open_app_sessions
from support.das import Das, expect_das_error, registered
from support.sessions import Session, Sessions

TABLE = "das_mdl"


@pytest.fixture(scope="module")
def das(world: World) -> Iterator[Das]:
    yield from registered(world)


@pytest.fixture
def mdl_table(world: World) -> Iterator[str]:
    world.sandbox.primary.sql(f"CREATE TABLE IF NOT EXISTS shop.{TABLE} (id INT PRIMARY KEY) ENGINE=InnoDB")
    yield TABLE
    world.sandbox.primary.sql(f"DROP TABLE IF EXISTS shop.{TABLE}")


def until(read: Callable[[], Any], ready: Callable[[Any], bool], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if ready(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _locks(das: Das, db_user_id: str, **kwargs: Any) -> Any:
    request = ListMetadataLocksRequest(instance_id=das.instance_id, db_user_id=db_user_id, **kwargs)
    return das.alice.list_metadata_locks(request)


def _ids(processes: list[Any]) -> list[int]:
    return [int(p.id) for p in processes]


def test_a_metadata_lock_pile_up(world: World, das: Das, sessions: Sessions, mdl_table: str) -> None:
    idle, alter, *readers = open_app_sessions(world.sandbox, sessions, 4)
    idle.execute("BEGIN")
    idle.execute(f"SELECT * FROM {mdl_table}")  # holds SHARED_READ until the transaction ends
    alter.run_async(f"ALTER TABLE {mdl_table} ADD COLUMN note VARCHAR(8)")
    time.sleep(0.3)
    for reader in readers:
        reader.run_async(f"SELECT * FROM {mdl_table}")
    try:
        response = until(
            lambda: _locks(das, das.dba, database="shop", table=mdl_table),
            lambda r: sum(lock.lock_status == "PENDING" for lock in r.metadata_locks) >= 3,
        )
        assert response.count == len(response.metadata_locks)
        by_thread: dict[int, list[Any]] = {}
        for lock in response.metadata_locks:
            assert (lock.table_schema, lock.table_name, lock.lock_type) == (
                "shop",
                mdl_table,
                "Table metadata lock",
            )
            by_thread.setdefault(int(lock.thread_id), []).append(lock)

        held = next(lock for lock in by_thread[idle.id] if lock.lock_status == "GRANTED")
        assert (held.lock_mode, held.lock_duration) == ("MDL_SHARED_READ", "MDL_TRANSACTION")
        assert _ids(held.wait_process) == [alter.id] and held.block_process == []
        assert held.command == "Sleep" and held.database == "shop" and held.sql is None
        assert held.user == world.sandbox.app.user and int(held.trx_exec_time) >= 0

        waiting = next(lock for lock in by_thread[alter.id] if lock.lock_status == "PENDING")
        assert waiting.lock_mode == "MDL_EXCLUSIVE"
        assert _ids(waiting.block_process) == [idle.id]
        assert (
            waiting.sql.startswith("ALTER TABLE") and waiting.block_process[0].user == world.sandbox.app.user
        )

        for reader in readers:
            (queued,) = by_thread[reader.id]
            assert (queued.lock_status, queued.lock_mode) == ("PENDING", "MDL_SHARED_READ")
            assert _ids(queued.block_process) == [alter.id]  # behind the ALTER, not the idle one

        only_alter = _locks(das, das.dba, thread_id=str(alter.id))
        assert {int(lock.thread_id) for lock in only_alter.metadata_locks} == {alter.id}
        assert {lock.lock_type for lock in only_alter.metadata_locks} >= {
            "Table metadata lock",
            "Schema metadata lock",
        }
    finally:
        idle.execute("ROLLBACK")
        for session in (alter, *readers):
            session.join()


def _mdl_instrument(world: World, enabled: str) -> None:
    world.sandbox.primary.sql(
        f"UPDATE performance_schema.setup_instruments SET ENABLED = '{enabled}' "
        "WHERE NAME = 'wait/lock/metadata/sql/mdl'"
    )


def test_metadata_locks_need_performance_schema_on_the_node(world: World, das: Das) -> None:
    _mdl_instrument(world, "NO")
    try:
        for language, text in (
            ("en-us", "Metadata lock instrumentation is off on the node."),
            ("zh-cn", "节点未开启元数据锁监控。"),
        ):
            error = expect_das_error(
                partial(_locks, das, das.dba, x_language=language), 400, "DAS.290002", text
            )
            assert "performance_schema=ON" in error.error_msg
    finally:
        _mdl_instrument(world, "YES")
    assert _locks(das, das.dba).count >= 0


def test_metadata_locks_as_an_account_without_performance_schema(world: World, das: Das) -> None:
    expect_das_error(lambda: _locks(das, das.app), 400, "DAS.290001", "The database user lacks a privilege")


def _innodb(das: Das, db_user_id: str, **kwargs: Any) -> Any:
    request = ListInnodbLocksRequest(instance_id=das.instance_id, db_user_id=db_user_id, **kwargs)
    return das.token.list_innodb_locks(request)


def _trx_of(response: Any, session: Session) -> Any:
    return next(trx for trx in response.innodb_trx if int(trx.trx_mysql_thread_id) == session.id)


def test_a_row_lock_wait(world: World, das: Das, sessions: Sessions) -> None:
    holder, waiter = open_app_sessions(world.sandbox, sessions, 2)
    holder.execute("BEGIN")
    holder.execute("UPDATE orders SET amount = amount + 1 WHERE id = 2")
    waiter.run_async("UPDATE orders SET amount = amount - 1 WHERE id = 2")
    try:
        response = until(lambda: _innodb(das, das.dba), lambda r: len(r.innodb_lock_waits) >= 1)
        assert response.count == len(response.innodb_trx) == 2
        blocked, blocking = _trx_of(response, waiter), _trx_of(response, holder)
        (wait,) = response.innodb_lock_waits
        assert (wait.requesting_trx_id, wait.blocking_trx_id) == (blocked.trx_id, blocking.trx_id)
        assert blocked.trx_state == "LOCK WAIT" and blocking.trx_state == "RUNNING"
        assert blocked.trx_query == "UPDATE orders SET amount = amount - 1 WHERE id = 2"
        assert blocked.trx_isolation_level == "REPEATABLE READ" and blocked.trx_wait_started
        assert blocking.trx_rows_modified == "1" and blocking.trx_rows_locked.isdigit()
        (wanted,) = blocked.innodb_wait_locks
        (held,) = blocking.innodb_hold_locks
        assert (wanted.lock_id, held.lock_id) == (wait.requested_lock_id, wait.blocking_lock_id)
        assert (wanted.lock_trx_id, held.lock_trx_id) == (blocked.trx_id, blocking.trx_id)
        assert (wanted.lock_type, wanted.lock_table, wanted.lock_index) == (
            "RECORD",
            "`shop`.`orders`",
            "PRIMARY",
        )
        assert wanted.lock_mode.startswith("X") and wanted.lock_data == "2"
        assert blocked.innodb_hold_locks == [] and blocking.innodb_wait_locks == []
    finally:
        holder.execute("ROLLBACK")
        waiter.join()
    assert until(lambda: _innodb(das, das.dba), lambda r: r.count == 0).innodb_trx == []


def test_innodb_locks_need_process(world: World, das: Das) -> None:
    for language, text in (
        ("en-us", "The database user lacks a privilege this operation needs."),
        ("zh-cn", "数据库用户缺少此操作所需的权限。"),
    ):
        error = expect_das_error(partial(_innodb, das, das.app, x_language=language), 400, "DAS.290001", text)
        assert "PROCESS" in error.error_msg

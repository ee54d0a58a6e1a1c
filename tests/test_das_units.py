"""Pure parts of DAS's operations: who blocks whom among metadata locks, the SQL of both server
families (MySQL 8's lock tables tested as SQL only), DAS's error family, id formats, and the pools
per node and account."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from pydantic import SecretStr

from taurus_sessions import errors, ids
from taurus_sessions.api.das_family import parse_das_body, translate
from taurus_sessions.api.das_processes import DeleteProcessReqBody
from taurus_sessions.das_domain import DasProcess, MetadataLock
from taurus_sessions.domain import Process
from taurus_sessions.inventory.engine import (
    alembic_config,
    create_engine,
    current_revision,
    head_revision,
    migrate,
)
from taurus_sessions.inventory.instances import NodeTarget
from taurus_sessions.language import Language
from taurus_sessions.nodes import das_sql, dialects, sql
from taurus_sessions.nodes.pool import PoolLimits
from taurus_sessions.nodes.registry import Account, NodeRegistry
from taurus_sessions.services.metadata_lock_graph import blocks, edges


def _lock(thread: int, lock_type: str, status: str, obj: tuple[str, str | None, str | None]) -> MetadataLock:
    process = Process(thread, "app", "127.0.0.1:1", "shop", "Query", 1, None, None)
    return MetadataLock(obj[0], obj[1], obj[2], lock_type, "TRANSACTION", status, DasProcess(process, None))


TABLE = ("TABLE", "shop", "t")


def _blockers(entries: list, index: int) -> list[int]:  # type: ignore[type-arg]
    return [p.process.id for p in entries[index].block_process]


def test_the_pile_up_behind_a_waiting_alter() -> None:
    locks = [
        _lock(1, "SHARED_READ", "GRANTED", TABLE),  # idle transaction
        _lock(2, "SHARED_UPGRADABLE", "GRANTED", TABLE),  # ALTER, first step
        _lock(2, "EXCLUSIVE", "PENDING", TABLE),  # ALTER, waiting to swap the table
        _lock(3, "SHARED_READ", "PENDING", TABLE),  # SELECTs queued behind the ALTER
        _lock(4, "SHARED_READ", "PENDING", TABLE),
        _lock(5, "SHARED_READ", "GRANTED", ("TABLE", "shop", "other")),
    ]
    entries = edges(locks)
    assert [p.process.id for p in entries[0].wait_process] == [2]
    assert entries[1].wait_process == []  # SU lets SHARED_READ in; only the pending X holds them
    assert _blockers(entries, 2) == [1]
    assert _blockers(entries, 3) == [2] and _blockers(entries, 4) == [2]
    assert entries[5].block_process == entries[5].wait_process == []


@pytest.mark.parametrize(
    ("request_type", "other_type", "other_status", "blocked"),
    [
        ("SHARED_WRITE", "SHARED_NO_WRITE", "GRANTED", True),  # LOCK TABLES ... READ stops writers
        ("SHARED_READ", "SHARED_NO_WRITE", "GRANTED", False),
        ("SHARED_READ", "SHARED_NO_READ_WRITE", "GRANTED", True),
        ("EXCLUSIVE", "SHARED", "GRANTED", True),
        ("SHARED_HIGH_PRIO", "EXCLUSIVE", "PENDING", False),  # high priority overtakes a waiting X
        ("SHARED_WRITE", "SHARED_NO_WRITE", "PENDING", True),
        ("SHARED_UPGRADABLE", "SHARED_UPGRADABLE", "GRANTED", True),  # two ALTERs
        ("SHARED_READ", "SOMETHING_NEW", "GRANTED", False),  # unknown types claim no conflict
    ],
)
def test_compatibility_tables(request_type: str, other_type: str, other_status: str, blocked: bool) -> None:
    request = _lock(1, request_type, "PENDING", TABLE)
    assert blocks(request, _lock(2, other_type, other_status, TABLE)) is blocked
    assert not blocks(request, _lock(1, other_type, other_status, TABLE))  # never by its own session
    assert not blocks(request, _lock(2, other_type, other_status, ("TABLE", "shop", "u")))


def test_a_global_read_lock_holds_up_writers() -> None:
    glob = ("GLOBAL", None, None)
    ftwrl = _lock(1, "SHARED", "GRANTED", glob)  # FLUSH TABLES WITH READ LOCK
    writer = _lock(2, "INTENTION_EXCLUSIVE", "PENDING", glob)
    reader_scope = _lock(3, "SHARED", "PENDING", glob)
    assert blocks(writer, ftwrl) and not blocks(reader_scope, ftwrl)
    assert [p.process.id for p in edges([ftwrl, writer])[0].wait_process] == [2]


# -- SQL ----------------------------------------------------------------------------------------
def test_mysql8_reads_innodb_locks_from_performance_schema() -> None:
    mysql = dialects.mysql(True, True)
    waits, locks, trx = mysql.innodb_lock_waits(), mysql.innodb_locks(), mysql.innodb_transactions()
    assert "performance_schema.data_lock_waits" in waits.sql and "INNODB_LOCK_WAITS" not in waits.sql
    assert "performance_schema.data_locks l" in locks.sql and "INNODB_LOCKS" not in locks.sql
    assert "REQUESTING_ENGINE_TRANSACTION_ID" in trx.sql and "information_schema.INNODB_TRX" in trx.sql
    assert waits.params == locks.params == trx.params == ()
    select = locks.sql.split(" FROM ")[0]
    assert select.count(",") - select.count("'`'") + 1 >= len(dialects.InnodbLockRow._fields)
    assert "CONCAT('`', REPLACE(l.OBJECT_SCHEMA" in locks.sql  # one quoted `db`.`table`, as MariaDB


def test_mariadb_reads_innodb_locks_from_information_schema() -> None:
    maria = dialects.MARIADB
    assert "information_schema.INNODB_LOCK_WAITS" in maria.innodb_lock_waits().sql
    assert "information_schema.INNODB_LOCKS" in maria.innodb_locks().sql
    assert "information_schema.INNODB_LOCK_WAITS" in maria.innodb_transactions().sql


@pytest.mark.parametrize("dialect", [dialects.MARIADB, dialects.mysql(True, True)], ids=["mariadb", "mysql"])
def test_caller_values_travel_as_parameters_only(dialect: dialects.Dialect) -> None:
    rule = sql.InternalRule(dialect, ["rdsAdmin"])
    hostile = "x' OR '1'='1"
    page = das_sql.processes(rule, hostile, hostile, 5, 20, with_trx=True)
    assert hostile not in page.sql and page.params[-4:] == (hostile, hostile, 20, 5)
    assert (
        "INNODB_TRX" in page.sql and "INNODB_TRX" not in das_sql.processes(rule, None, None, 0, 20, False).sql
    )
    victims = das_sql.victims(rule, [11, 12], hostile, None, 100)
    assert hostile not in victims.sql and victims.params[-4:] == (hostile, 11, 12, 100)
    assert "CONNECTION_ID()" in victims.sql
    locks = das_sql.metadata_locks(rule, with_trx=False)
    assert locks.params == () and "performance_schema.metadata_locks" in locks.sql


# -- errors and ids -----------------------------------------------------------------------------
def test_shared_errors_are_answered_as_das_errors() -> None:
    pairs = {
        errors.ParameterError("x"): "DAS.200100",
        errors.Forbidden(): "DAS.200051",
        errors.InstanceNotFound(): "DAS.200114",
        errors.NodeUnavailable(): "DAS.220001",
        errors.InternalError(): "DAS.290500",
        errors.AuditUnavailable(): "DAS.290501",
        errors.InventoryUnavailable(): "DAS.290502",
        errors.TaskNotFound(): "DAS.290500",
        errors.Throttled(): "APIGW.0308",
        errors.AuthenticationFailed(): "APIGW.0301",
    }
    for error, code in pairs.items():
        assert translate(error).code == code
    assert (
        translate(errors.ParameterError("limit: too big")).message(Language.ZH_CN)
        == "参数错误。: limit: too big"
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"db_user_id": "nope", "user": "a"}', "DAS.200112"),
        (b'{"db_user_id": "0b2b6d8e-6c1f-4a43-9d8e-0d6c3b1e7f00", "process_ids": [12]}', "DAS.200100"),
        (b'{"db_user_id": "0b2b6d8e-6c1f-4a43-9d8e-0d6c3b1e7f00", "database": ""}', "DAS.200108"),
        (b"[]", "DAS.200100"),
        (b"  ", "DAS.200100"),
    ],
)
def test_das_bodies_name_the_field_by_its_code(body: bytes, code: str) -> None:
    with pytest.raises(errors.DasError) as caught:
        parse_das_body(DeleteProcessReqBody, body, "application/json")
    assert caught.value.code == code


def test_das_ids() -> None:
    assert ids.is_das_instance_id("a" * 32) and ids.is_das_instance_id("a" * 32 + "in07")
    assert not ids.is_das_instance_id("a" * 31) and not ids.is_das_instance_id("a" * 32 + "no07")
    assert ids.is_db_user_id("2c250598-1e3c-4d31-bc19-be1d866247e6")
    assert not ids.is_db_user_id("2c250598-1e3c-4d31-bc19-be1d866247e") and not ids.is_db_user_id("x")


# -- pools per node and account -----------------------------------------------------------------
def test_a_pool_per_node_and_account_under_one_cap() -> None:
    limits = PoolLimits(size=2, connect_timeout=1, read_timeout=1, idle_seconds=60, cooldown_seconds=0)
    nodes = NodeRegistry(limits, max_pools=3, system_accounts=["rdsAdmin"], clock=lambda: 0.0)
    target = NodeTarget("p", "i", "n1", "master", "127.0.0.1", 1, "rdsAdmin", SecretStr("a"), ())
    alice = Account("u-1", "alice", SecretStr("alice-pw"))
    admin = nodes.client(target)
    as_alice = nodes.client(target, alice)
    assert as_alice is not admin and as_alice.pool.spec.user == "alice"
    assert nodes.client(target, alice) is as_alice and nodes.open_pools == 2
    changed = nodes.client(target, Account("u-1", "alice", SecretStr("new-pw")))
    assert changed is not as_alice and nodes.open_pools == 2  # a new password: a new pool
    nodes.forget_account("u-1")
    assert nodes.open_pools == 1 and nodes.client(target) is admin
    for number in range(5):  # the cap on open pools counts every account's pools
        nodes.client(target, Account(f"u-{number}", f"user{number}", SecretStr("pw")))
    assert nodes.open_pools == 3
    assert "alice-pw" not in repr(as_alice.pool) and "alice-pw" not in repr(alice)


# -- the migration ---------------------------------------------------------------------------------
def test_migration_0008_adds_and_removes_the_db_users_table(tmp_path: Path) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    below = script.get_revision("0008").down_revision
    assert isinstance(below, str)

    def tables(sync: Any) -> dict[str, list[str]]:
        inspector = sa.inspect(sync)
        return {
            name: [c["name"] for c in inspector.get_columns(name)] for name in inspector.get_table_names()
        }

    def downgrade(sync: Any) -> None:
        config = alembic_config()
        config.attributes["connection"] = sync
        command.downgrade(config, below)

    async def run() -> tuple[dict[str, list[str]], dict[str, list[str]], str | None]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inventory.db'}")
        try:
            await migrate(engine)
            async with engine.connect() as connection:
                up = await connection.run_sync(tables)
            async with engine.begin() as connection:
                await connection.run_sync(downgrade)
            async with engine.connect() as connection:
                down = await connection.run_sync(tables)
            await migrate(engine)
            return up, down, await current_revision(engine)
        finally:
            await engine.dispose()

    up, down, again = asyncio.run(run())
    assert up["das_db_users"] == [
        "id", "project_id", "instance_id", "username", "password_enc", "created_at", "updated_at"
    ]  # fmt: skip
    assert "das_db_users" not in down and "instances" in down
    assert again == head_revision()

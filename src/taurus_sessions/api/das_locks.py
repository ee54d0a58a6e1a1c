"""DAS's lock views (contract Part G): ListMetadataLocks and ListInnodbLocks, read on the
instance's primary node as the registered database account."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from taurus_sessions.api import openapi
from taurus_sessions.api.das_family import DAS_PATH, DasInstanceId, DasRoute, check_db_user_id, instance_ref
from taurus_sessions.api.das_processes import (
    NO_DATABASE,
    DasProcessModel,
    DatabaseName,
    DbUserIdQuery,
    process_body,
)
from taurus_sessions.api.openapi import ProjectId
from taurus_sessions.api.requests import authenticated, runtime_of
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.auth.caller import Caller
from taurus_sessions.das_domain import InnodbLock, InnodbLockReport, InnodbLockWait, InnodbTrx
from taurus_sessions.services.das_locks import MetadataLockFilter
from taurus_sessions.services.metadata_lock_graph import LockEdges

router = APIRouter(tags=["das"], route_class=DasRoute)

# performance_schema's object types as DAS names them; other types read "<Type> metadata lock".
LOCK_TYPES = {
    "TABLE": "Table metadata lock",
    "SCHEMA": "Schema metadata lock",
    "TABLESPACE": "Tablespace lock",
    "GLOBAL": "Global read lock",
    "COMMIT": "Commit lock",
    "BACKUP": "Backup lock",
    "USER LEVEL LOCK": "User lock",
}


def lock_type_name(object_type: str) -> str:
    return LOCK_TYPES.get(object_type, f"{object_type.capitalize()} metadata lock")


# -- ListMetadataLocks ----------------------------------------------------------------------------
class ListMetadataLocksQuery(BaseModel):
    db_user_id: DbUserIdQuery
    thread_id: str | None = Field(
        default=None, pattern="^[0-9]{1,19}$", description="Only this session's locks."
    )
    database: DatabaseName | None = Field(default=None, description="Only locks on objects of this database.")
    table: str | None = Field(
        default=None, min_length=1, max_length=64, description="Only locks on this table."
    )


class MetadataLockModel(BaseModel):
    thread_id: str
    lock_status: str = Field(description="PENDING (waiting for the lock) or GRANTED (holding it).")
    lock_mode: str = Field(description="MDL_SHARED_READ, MDL_EXCLUSIVE, ... (the server's lock type).")
    lock_type: str = Field(description="Table metadata lock, Schema metadata lock, Global read lock, ...")
    lock_duration: str = Field(description="MDL_STATEMENT, MDL_TRANSACTION or MDL_EXPLICIT.")
    table_schema: str
    table_name: str
    user: str
    time: str
    host: str
    database: str
    command: str
    state: str
    sql: str | None
    trx_exec_time: str
    block_process: list[DasProcessModel] = Field(
        description="Pending lock: sessions holding an incompatible lock on the object, or queued "
        "ahead of it with one (a waiting EXCLUSIVE holds up later SHARED_READs)."
    )
    wait_process: list[DasProcessModel] = Field(
        description="Granted lock: sessions whose pending request on the object it is incompatible with."
    )


class ListMetadataLocksResponse(BaseModel):
    metadata_locks: list[MetadataLockModel]
    count: int


def metadata_lock_body(entry: LockEdges) -> dict[str, object]:
    lock = entry.lock
    process = lock.session.process
    return {
        "thread_id": str(process.id),
        "lock_status": lock.status,
        "lock_mode": f"MDL_{lock.lock_type}",
        "lock_type": lock_type_name(lock.object_type),
        "lock_duration": f"MDL_{lock.duration}",
        "table_schema": lock.schema or "",
        "table_name": lock.name or "",
        "user": process.user,
        "time": str(process.time),
        "host": process.host,
        "database": process.db if process.db is not None else NO_DATABASE,
        "command": process.command,
        "state": process.state or "",
        "sql": process.info,
        "trx_exec_time": str(lock.session.trx_seconds or 0),
        "block_process": [process_body(p) for p in entry.block_process],
        "wait_process": [process_body(p) for p in entry.wait_process],
    }


@router.get(
    DAS_PATH + "/metadata-locks",
    operation_id="ListMetadataLocks",
    summary="List metadata locks, who holds them and who waits, as a registered database user",
    response_model=ListMetadataLocksResponse,
    responses=openapi.error_responses("DAS"),
)
async def list_metadata_locks(
    request: Request,
    project_id: ProjectId,
    instance_id: DasInstanceId,
    caller: Annotated[Caller, Depends(authenticated)],
    query: Annotated[ListMetadataLocksQuery, Query()],
) -> Response:
    """From ``performance_schema.metadata_locks`` (the node must run with performance_schema on and
    the instrument ``wait/lock/metadata/sql/mdl`` enabled, else DAS.290002; the account needs SELECT
    on performance_schema, and PROCESS to see other accounts' sessions, else DAS.290001 or only its
    own). Pending and granted locks, by session id; the service's own connection is left out.
    ``database`` and ``table`` match the locked object's schema and name exactly."""
    flt = MetadataLockFilter(
        int(query.thread_id) if query.thread_id is not None else None, query.database, query.table
    )
    entries = await runtime_of(request).das_locks.list_metadata_locks(
        caller, instance_ref(project_id, instance_id), check_db_user_id(query.db_user_id), flt
    )
    return JsonResponse({"metadata_locks": [metadata_lock_body(e) for e in entries], "count": len(entries)})


# -- ListInnodbLocks ------------------------------------------------------------------------------
class ListInnodbLocksQuery(BaseModel):
    db_user_id: DbUserIdQuery


class InnodbLockModel(BaseModel):
    lock_id: str
    lock_trx_id: str
    lock_mode: str | None = Field(description="S, X, IS, IX (with ,GAP), AUTO_INC, ... as the node names it.")
    lock_type: str | None = Field(description="RECORD or TABLE.")
    lock_table: str | None = Field(description="`db`.`table`.")
    lock_index: str | None
    lock_space: str | None
    lock_page: str | None
    lock_rec: str | None
    lock_data: str | None


class InnodbTrxModel(BaseModel):
    trx_id: str
    trx_state: str | None
    trx_started: str | None = Field(description="YYYY-MM-DD hh:mm:ss, the node's time.")
    trx_wait_started: str | None
    trx_mysql_thread_id: str = Field(description="The session id, as ListProcesses gives it.")
    trx_query: str | None
    trx_tables_locked: str
    trx_rows_locked: str
    trx_rows_modified: str
    trx_isolation_level: str | None
    innodb_wait_locks: list[InnodbLockModel]
    innodb_hold_locks: list[InnodbLockModel]


class InnodbLockWaitModel(BaseModel):
    requesting_trx_id: str
    requested_lock_id: str
    blocking_trx_id: str
    blocking_lock_id: str


class ListInnodbLocksResponse(BaseModel):
    innodb_trx: list[InnodbTrxModel]
    innodb_lock_waits: list[InnodbLockWaitModel]
    count: int = Field(description="Transactions waiting for a lock or holding one another waits for.")


def _time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None


def lock_body(lock: InnodbLock) -> dict[str, str | None]:
    return {
        "lock_id": lock.lock_id,
        "lock_trx_id": lock.trx_id,
        "lock_mode": lock.mode,
        "lock_type": lock.type,
        "lock_table": lock.table,
        "lock_index": lock.index,
        "lock_space": lock.space,
        "lock_page": lock.page,
        "lock_rec": lock.rec,
        "lock_data": lock.data,
    }


def trx_body(trx: InnodbTrx, locks: dict[str, InnodbLock], waits: list[InnodbLockWait]) -> dict[str, object]:
    waiting_for = {w.requested_lock_id for w in waits if w.requesting_trx_id == trx.trx_id}
    holding = {w.blocking_lock_id for w in waits if w.blocking_trx_id == trx.trx_id}
    return {
        "trx_id": trx.trx_id,
        "trx_state": trx.state,
        "trx_started": _time(trx.started),
        "trx_wait_started": _time(trx.wait_started),
        "trx_mysql_thread_id": str(trx.thread_id),
        "trx_query": trx.query,
        "trx_tables_locked": str(trx.tables_locked),
        "trx_rows_locked": str(trx.rows_locked),
        "trx_rows_modified": str(trx.rows_modified),
        "trx_isolation_level": trx.isolation_level,
        "innodb_wait_locks": [lock_body(locks[i]) for i in sorted(waiting_for) if i in locks],
        "innodb_hold_locks": [lock_body(locks[i]) for i in sorted(holding) if i in locks],
    }


def innodb_body(report: InnodbLockReport) -> dict[str, object]:
    locks = {lock.lock_id: lock for lock in report.locks}
    return {
        "innodb_trx": [trx_body(trx, locks, report.waits) for trx in report.transactions],
        "innodb_lock_waits": [
            {
                "requesting_trx_id": w.requesting_trx_id,
                "requested_lock_id": w.requested_lock_id,
                "blocking_trx_id": w.blocking_trx_id,
                "blocking_lock_id": w.blocking_lock_id,
            }
            for w in report.waits
        ],
        "count": len(report.transactions),
    }


@router.get(
    DAS_PATH + "/innodb-locks",
    operation_id="ListInnodbLocks",
    summary="List InnoDB lock waits: the transactions, the locks they wait for and hold",
    response_model=ListInnodbLocksResponse,
    responses=openapi.error_responses("DAS"),
)
async def list_innodb_locks(
    request: Request,
    project_id: ProjectId,
    instance_id: DasInstanceId,
    caller: Annotated[Caller, Depends(authenticated)],
    query: Annotated[ListInnodbLocksQuery, Query()],
) -> Response:
    """MariaDB: information_schema INNODB_TRX, INNODB_LOCKS, INNODB_LOCK_WAITS; MySQL 8:
    performance_schema data_locks and data_lock_waits (no space/page/heap numbers there: null).
    The account needs PROCESS (DAS.290001 otherwise). ``innodb_trx`` holds the transactions that
    wait or block, oldest first; each wait links a requesting to a blocking transaction and lock."""
    report = await runtime_of(request).das_locks.list_innodb_locks(
        caller, instance_ref(project_id, instance_id), check_db_user_id(query.db_user_id)
    )
    return JsonResponse(innodb_body(report))

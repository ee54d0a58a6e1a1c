"""ListTaurusDbNodeProcesses and DeleteTaurusDbNodeProcesses (contract A1, A2)."""

from __future__ import annotations

import enum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from taurus_sessions.api import parsing, schemas
from taurus_sessions.api.deps import audited_node_call, authenticated, runtime_of
from taurus_sessions.api.parsing_ext import MAX_TEXT
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.auth.caller import Caller
from taurus_sessions.domain import ListQuery, SortKey, ThreadFilter
from taurus_sessions.ids import MAX_THREAD_ID
from taurus_sessions.services.lock_waits import LockWaitReport

router = APIRouter(tags=["sessions"])

EXT = "(Extension) "


class Order(enum.Enum):
    ASC = "asc"
    DESC = "desc"


NODE_PATH = "/v3/{project_id}/instances/{instance_id}/nodes/{node_id}"


@router.get(
    NODE_PATH + "/processes",
    operation_id="ListTaurusDbNodeProcesses",
    summary="List user session threads of a node",
    response_model=schemas.ListProcessesResponse,
    responses=schemas.ERRORS_400_500,
)
async def list_taurus_db_node_processes(
    request: Request,
    project_id: str,
    instance_id: str,
    node_id: str,
    caller: Annotated[Caller, Depends(authenticated)],
    offset: Annotated[int, Query(ge=0, le=MAX_THREAD_ID, description="Rows to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=100, description="Rows to return, 1 to 100.")] = 100,
    user: Annotated[
        str | None, Query(max_length=MAX_TEXT, description=EXT + "Account; * and ? wildcards.")
    ] = None,
    host: Annotated[
        str | None, Query(max_length=MAX_TEXT, description=EXT + "Client host:port; wildcards.")
    ] = None,
    db: Annotated[str | None, Query(max_length=MAX_TEXT, description=EXT + "Database; wildcards.")] = None,
    command: Annotated[
        str | None, Query(max_length=MAX_TEXT, description=EXT + "Command; wildcards.")
    ] = None,
    state: Annotated[str | None, Query(max_length=MAX_TEXT, description=EXT + "State; wildcards.")] = None,
    info: Annotated[
        str | None, Query(max_length=MAX_TEXT, description=EXT + "Substring of the statement; wildcards.")
    ] = None,
    min_time: Annotated[
        int | None,
        Query(ge=0, le=10**9, description=EXT + "Only sessions at least this many seconds in state."),
    ] = None,
    idle_in_trx: Annotated[
        bool, Query(description=EXT + "Only sessions sleeping with an open transaction.")
    ] = False,
    sort: Annotated[SortKey, Query(description=EXT + "Sort by id (default), time or user.")] = SortKey.ID,
    order: Annotated[Order, Query(description=EXT + "asc (default) or desc.")] = Order.ASC,
    stats: Annotated[bool, Query(description=EXT + "Add counts per user, host, db and command.")] = False,
) -> Response:
    """The node's user sessions (``SHOW FULL PROCESSLIST`` minus internal threads), by id ascending.

    Extension parameters (never sent by official clients) filter and sort; ``total_count`` then
    counts the matching sessions.
    """
    ref = parsing.node_ref(project_id, instance_id, node_id)
    flt = ThreadFilter(
        user=user,
        host=host,
        db=db,
        command=command,
        state=state,
        info=info,
        min_time=min_time,
        idle_in_trx=idle_in_trx,
    )
    query = ListQuery(offset, limit, flt, sort, order is Order.DESC, stats)
    page = await runtime_of(request).processes.list_taurus_db_node_processes(caller, ref, query)
    body: dict[str, object] = {
        "processes": [process.as_dict() for process in page.processes],
        "total_count": page.total_count,
    }
    if page.stats is not None:
        body["stats"] = page.stats
    return JsonResponse(body)


@router.delete(
    NODE_PATH + "/processes",
    operation_id="DeleteTaurusDbNodeProcesses",
    summary="Terminate user session threads of a node",
    response_model=schemas.DeleteProcessesResponse,
    responses=schemas.ERRORS_400_500,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schemas.DeleteProcessesRequest.model_json_schema()}},
        }
    },
)
async def delete_taurus_db_node_processes(
    request: Request, project_id: str, instance_id: str, node_id: str
) -> Response:
    """``KILL CONNECTION`` for each listed user session; internal threads read as not found."""
    service = runtime_of(request).processes
    result = await audited_node_call(
        request,
        "deleteProcesses",
        (project_id, instance_id, node_id),
        parsing.delete_processes_body,
        service.delete_taurus_db_node_processes,
    )
    return JsonResponse(
        {"processes_killed": result.processes_killed, "processes_not_found": result.processes_not_found}
    )


def lock_wait_body(report: LockWaitReport) -> dict[str, object]:
    edge = report.edge
    if edge is None:
        return {"abnormal_root_cause": {"abnormal_type": "NONE"}}
    blocker = report.blocker
    cause = {
        "locked_pid": report.waiter.id,
        "locked_sql": edge.waiter_query or report.waiter.info,
        "wait_seconds": edge.wait_seconds,
        "lock_db": edge.lock_db,
        "lock_table": edge.lock_table,
        "lock_index": edge.lock_index,
        "lock_mode": edge.lock_mode,
        "lock_data": edge.lock_data,
        "blocker_pid": edge.blocker,
        "blocker_state": edge.blocker_state,
        "blocker_age": edge.blocker_age,
        "blocker_rows_locked": edge.blocker_rows_locked,
        "blocker_rows_modified": edge.blocker_rows_modified,
        "blocker_current_sql": [sql for sql in (edge.blocker_query,) if sql],
        "blocker_host": blocker.host if blocker else None,
        "blocker_command": blocker.command if blocker else None,
        "blocker_thread_id": edge.blocker,
        # Extensions: who holds the blocker up in turn (the last id is the root cause).
        "blocker_user": blocker.user if blocker else None,
        "blocking_chain": report.chain,
    }
    return {"abnormal_root_cause": {"abnormal_type": "LOCK_WAIT", "lock_root_cause": cause}}


@router.get(
    NODE_PATH + "/process/lock-wait",
    operation_id="ShowLockWaitSession",
    summary="What a waiting session is blocked by (InnoDB row locks)",
    responses=schemas.ERRORS_400_500,
)
async def show_lock_wait_session(
    request: Request,
    project_id: str,
    instance_id: str,
    node_id: str,
    caller: Annotated[Caller, Depends(authenticated)],
    pid: Annotated[int, Query(ge=1, le=MAX_THREAD_ID, description="Thread id of the waiting session.")],
) -> Response:
    """``abnormal_type`` LOCK_WAIT with the lock and its blocker, or NONE when the session waits for
    no row lock; a pid that names no (user) session is 404 DBS.280405."""
    ref = parsing.node_ref(project_id, instance_id, node_id)
    report = await runtime_of(request).lock_waits.show_lock_wait_session(caller, ref, pid)
    return JsonResponse(lock_wait_body(report))

"""ShowLockWaitSession (contract A3): what a waiting session is blocked by (InnoDB row locks)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from taurus_sessions.api import openapi
from taurus_sessions.api.openapi import InstanceId, NodeId, ProjectId
from taurus_sessions.api.processes import NODE_PATH
from taurus_sessions.api.requests import authenticated, node_ref, runtime_of
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.auth.caller import Caller
from taurus_sessions.ids import MAX_THREAD_ID
from taurus_sessions.services.lock_waits import LockWaitReport

router = APIRouter(tags=["sessions"])


def lock_wait_body(report: LockWaitReport) -> dict[str, object]:
    edge = report.edge
    if edge is None:
        return {"abnormal_root_cause": {"abnormal_type": "NONE"}}
    blocker = report.blocker
    if report.blocker_internal:
        return {
            "abnormal_root_cause": {"abnormal_type": "LOCK_WAIT", "lock_root_cause": internal_cause(report)}
        }
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
        "blocker_internal": False,
        "blocking_chain": report.chain,
    }
    return {"abnormal_root_cause": {"abnormal_type": "LOCK_WAIT", "lock_root_cause": cause}}


def internal_cause(report: LockWaitReport) -> dict[str, object]:
    """The lock the session waits for, but nothing about the internal thread that holds it."""
    edge = report.edge
    assert edge is not None
    return {
        "locked_pid": report.waiter.id,
        "locked_sql": edge.waiter_query or report.waiter.info,
        "wait_seconds": edge.wait_seconds,
        "lock_db": edge.lock_db,
        "lock_table": edge.lock_table,
        "lock_index": edge.lock_index,
        "lock_mode": edge.lock_mode,
        "lock_data": edge.lock_data,
        "blocker_pid": None,
        "blocker_state": None,
        "blocker_age": None,
        "blocker_rows_locked": None,
        "blocker_rows_modified": None,
        "blocker_current_sql": [],
        "blocker_host": None,
        "blocker_command": None,
        "blocker_thread_id": None,
        "blocker_user": None,
        "blocker_internal": True,  # extension: an internal thread (contract Part D) holds the lock
        "blocking_chain": report.chain,
    }


@router.get(
    NODE_PATH + "/process/lock-wait",
    operation_id="ShowLockWaitSession",
    summary="What a waiting session is blocked by (InnoDB row locks)",
    responses=openapi.error_responses(),
)
async def show_lock_wait_session(
    request: Request,
    project_id: ProjectId,
    instance_id: InstanceId,
    node_id: NodeId,
    caller: Annotated[Caller, Depends(authenticated)],
    pid: Annotated[int, Query(ge=1, le=MAX_THREAD_ID, description="Thread id of the waiting session.")],
) -> Response:
    """``abnormal_type`` LOCK_WAIT with the lock and its blocker, or NONE when the session waits for
    no row lock; a pid that names no (user) session is 404 DBS.280405."""
    ref = node_ref(project_id, instance_id, node_id)
    report = await runtime_of(request).lock_waits.show_lock_wait_session(caller, ref, pid)
    return JsonResponse(lock_wait_body(report))

"""ListTaurusDbNodeProcesses and DeleteTaurusDbNodeProcesses (contract A1, A2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from taurus_sessions.api import parsing, schemas
from taurus_sessions.api.deps import authenticate, authenticated, call_context, read_body, runtime_of
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.auth.caller import Caller
from taurus_sessions.domain import ListQuery
from taurus_sessions.ids import MAX_THREAD_ID

router = APIRouter(tags=["sessions"])

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
) -> Response:
    """The node's user sessions (``SHOW FULL PROCESSLIST`` minus internal threads), by id ascending."""
    ref = parsing.node_ref(project_id, instance_id, node_id)
    page = await runtime_of(request).processes.list_taurus_db_node_processes(
        caller, ref, ListQuery(offset=offset, limit=limit)
    )
    return JsonResponse(
        {"processes": [process.as_dict() for process in page.processes], "total_count": page.total_count}
    )


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
    runtime = runtime_of(request)
    async with runtime.audit.kill_call(
        call_context(request), "deleteProcesses", project_id, instance_id, node_id
    ) as call:
        body = await read_body(request)
        call.caller = await authenticate(request, body, project_id)
        ref = parsing.node_ref(project_id, instance_id, node_id)
        ids = parsing.delete_processes_body(body, request.headers.get("content-type"))
        result = await runtime.processes.delete_taurus_db_node_processes(call, ref, ids)
    return JsonResponse(
        {"processes_killed": result.processes_killed, "processes_not_found": result.processes_not_found}
    )

"""Kill tasks (extension): a rule the service keeps applying to a node until it ends or is stopped."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from taurus_sessions import ids
from taurus_sessions.api import parsing_ext, schemas, schemas_ext
from taurus_sessions.api.deps import (
    audited_node_call,
    authenticate,
    authenticated,
    call_context,
    read_body,
    runtime_of,
)
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.api.routes_processes import NODE_PATH
from taurus_sessions.auth.caller import Caller
from taurus_sessions.errors import ParameterError
from taurus_sessions.inventory.models import KillTask
from taurus_sessions.services.kill_tasks import KillTaskSpec, task_times

router = APIRouter(tags=["kill tasks"])

_TASK_ID = re.compile(r"[0-9a-f]{32}")


def task_body(task: KillTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "name": task.name,
        "project_id": task.project_id,
        "instance_id": task.instance_id,
        "node_id": task.node_id,
        "filter": task.filter,
        "mode": task.mode,
        "victims": task.victims,
        "interval_seconds": task.interval_seconds,
        "duration_seconds": task.duration_seconds,
        "max_victims_per_pass": task.max_victims_per_pass,
        "state": task.state,
        "created_by": task.created_by,
        "stopped_by": task.stopped_by,
        "passes": task.passes,
        "victims_killed": task.victims_killed,
        "last_error": task.last_error,
        **task_times(task),
    }


def _task_id(value: str) -> str:
    if not _TASK_ID.fullmatch(value):
        raise ParameterError("task_id must be 32 lowercase hex characters")
    return value


@router.post(
    NODE_PATH + "/kill-tasks",
    operation_id="CreateKillTask",
    summary="(Extension) Keep killing sessions matching a filter, every interval, for a duration",
    status_code=201,
    responses=schemas.ERRORS_400_500,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schemas_ext.KillTaskRequestModel.model_json_schema()}},
        }
    },
)
async def create_kill_task(request: Request, project_id: str, instance_id: str, node_id: str) -> Response:
    """Body: ``filter`` (at least one criterion), ``mode``, ``victims``, ``interval_seconds`` (1-3600,
    default 5), ``duration_seconds`` (default 600; null: until stopped), ``max_victims_per_pass``,
    ``name``. Needs gaussdb:killTask:create and gaussdb:instance:deleteProcesses."""
    runtime = runtime_of(request)

    def parse(body: bytes, content_type: str | None) -> KillTaskSpec:
        return parsing_ext.kill_task_spec(body, content_type, runtime.settings.kill_max_victims)

    path_ids = (project_id, instance_id, node_id)
    task = await audited_node_call(request, "createKillTask", path_ids, parse, runtime.tasks.create_kill_task)
    return JsonResponse({"task": task_body(task)}, status_code=201)


@router.get(
    "/v3/{project_id}/kill-tasks",
    operation_id="ListKillTasks",
    summary="(Extension) Kill tasks of the project, newest first",
    responses=schemas.ERRORS_400_500,
)
async def list_kill_tasks(
    request: Request,
    project_id: str,
    caller: Annotated[Caller, Depends(authenticated)],
    instance_id: Annotated[str | None, Query(max_length=36)] = None,
    node_id: Annotated[str | None, Query(max_length=36)] = None,
    state: Annotated[str | None, Query(pattern="^(running|stopped|finished|failed)$")] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> Response:
    ids.check_project_id(project_id)
    tasks, total = await runtime_of(request).tasks.list_kill_tasks(
        caller, project_id, instance_id=instance_id, node_id=node_id, state=state, offset=offset, limit=limit
    )
    return JsonResponse({"tasks": [task_body(t) for t in tasks], "total_count": total})


@router.get(
    "/v3/{project_id}/kill-tasks/{task_id}",
    operation_id="ShowKillTask",
    summary="(Extension) A kill task: progress and its most recent victims",
    responses=schemas.ERRORS_400_500,
)
async def show_kill_task(
    request: Request, project_id: str, task_id: str, caller: Annotated[Caller, Depends(authenticated)]
) -> Response:
    ids.check_project_id(project_id)
    task, victims = await runtime_of(request).tasks.show_kill_task(caller, project_id, _task_id(task_id))
    return JsonResponse({"task": task_body(task), "recent_victims": victims})


@router.post(
    "/v3/{project_id}/kill-tasks/{task_id}/stop",
    operation_id="StopKillTask",
    summary="(Extension) Stop a kill task (a pass under way finishes; no new pass starts)",
    responses=schemas.ERRORS_400_500,
)
async def stop_kill_task(request: Request, project_id: str, task_id: str) -> Response:
    runtime = runtime_of(request)
    async with runtime.audit.kill_call(call_context(request), "stopKillTask", project_id, None, None) as call:
        call.caller = await authenticate(request, await read_body(request), project_id)
        ids.check_project_id(project_id)
        task = await runtime.tasks.stop_kill_task(call, _task_id(task_id))
    return JsonResponse({"task": task_body(task)})

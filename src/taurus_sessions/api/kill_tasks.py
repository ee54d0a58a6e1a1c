"""Kill tasks (extension): a rule the service keeps applying to a node until it ends or is stopped."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field, StringConstraints
from starlette.responses import Response

from taurus_sessions.api import openapi
from taurus_sessions.api.models import CriteriaFilter, Mode, RequestModel, Victims
from taurus_sessions.api.openapi import InstanceId, NodeId, ProjectId
from taurus_sessions.api.processes import NODE_PATH
from taurus_sessions.api.requests import audited, authenticated, runtime_of
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.auth.caller import Caller
from taurus_sessions.domain import KillMode, VictimChoice
from taurus_sessions.errors import ParameterError
from taurus_sessions.ids import check_project_id
from taurus_sessions.inventory.models import KillTask
from taurus_sessions.services.kill_tasks import KillTaskSpec, task_times

router = APIRouter(tags=["kill tasks"])

TASK_NAME_MAX = 64
MAX_TASK_SECONDS = 30 * 24 * 3600
TASK_ID_PATTERN = "^[0-9a-f]{32}$"
_TASK_ID = re.compile(TASK_ID_PATTERN)
TaskId = Annotated[
    str, Path(description="32 lowercase hex characters.", json_schema_extra={"pattern": TASK_ID_PATTERN})
]


class CreateKillTaskRequest(RequestModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=TASK_NAME_MAX)] | None = None
    filter: CriteriaFilter
    mode: Mode = "connection"
    victims: Victims = "all"
    interval_seconds: int = Field(default=5, ge=1, le=3600, description="Seconds between passes.")
    duration_seconds: int | None = Field(
        default=600, ge=1, le=MAX_TASK_SECONDS, description="How long the task runs; null: until stopped."
    )
    max_victims_per_pass: int | None = Field(
        default=None, ge=1, description="Cap per pass; default 100, at most TAURUS_KILL_MAX_VICTIMS."
    )

    def spec(self, cap: int) -> KillTaskSpec:
        if self.max_victims_per_pass is not None and self.max_victims_per_pass > cap:
            raise ParameterError(f"max_victims_per_pass must be an integer from 1 to {cap}")
        return KillTaskSpec(
            name=self.name or "",
            filter=self.filter,
            mode=KillMode(self.mode),
            victims=VictimChoice(self.victims),
            interval_seconds=self.interval_seconds,
            duration_seconds=self.duration_seconds,
            max_victims_per_pass=self.max_victims_per_pass or min(100, cap),
        )


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


def check_task_id(value: str) -> str:
    if not _TASK_ID.fullmatch(value):
        raise ParameterError("task_id must be 32 lowercase hex characters")
    return value


@router.post(
    NODE_PATH + "/kill-tasks",
    operation_id="CreateKillTask",
    summary="(Extension) Keep killing sessions matching a filter, every interval, for a duration",
    status_code=201,
    responses=openapi.error_responses(),
    openapi_extra=openapi.body(CreateKillTaskRequest),
)
async def create_kill_task(
    request: Request, project_id: ProjectId, instance_id: InstanceId, node_id: NodeId
) -> Response:
    """Needs gaussdb:killTask:create and gaussdb:instance:deleteProcesses; the first pass runs at once."""
    runtime = runtime_of(request)
    async with audited(request, "createKillTask") as call:
        call.record.ok_status = 201
        caller = await call.authenticate(project_id)
        ref = call.node(project_id, instance_id, node_id)
        spec = call.parse(CreateKillTaskRequest).spec(runtime.settings.kill_max_victims)
        task = await runtime.tasks.create_kill_task(caller, ref, spec, call.record)
    return JsonResponse({"task": task_body(task)}, status_code=201)


@router.get(
    "/v3/{project_id}/kill-tasks",
    operation_id="ListKillTasks",
    summary="(Extension) Kill tasks of the project, newest first",
    responses=openapi.error_responses(),
)
async def list_kill_tasks(
    request: Request,
    project_id: ProjectId,
    caller: Annotated[Caller, Depends(authenticated)],
    instance_id: Annotated[str | None, Query(max_length=36)] = None,
    node_id: Annotated[str | None, Query(max_length=36)] = None,
    state: Annotated[str | None, Query(pattern="^(running|stopped|finished|failed)$")] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> Response:
    check_project_id(project_id)
    tasks, total = await runtime_of(request).tasks.list_kill_tasks(
        caller, project_id, instance_id=instance_id, node_id=node_id, state=state, offset=offset, limit=limit
    )
    return JsonResponse({"tasks": [task_body(t) for t in tasks], "total_count": total})


@router.get(
    "/v3/{project_id}/kill-tasks/{task_id}",
    operation_id="ShowKillTask",
    summary="(Extension) A kill task: progress and its most recent victims",
    responses=openapi.error_responses(),
)
async def show_kill_task(
    request: Request,
    project_id: ProjectId,
    task_id: TaskId,
    caller: Annotated[Caller, Depends(authenticated)],
) -> Response:
    check_project_id(project_id)
    service = runtime_of(request).tasks
    task, victims = await service.show_kill_task(caller, project_id, check_task_id(task_id))
    return JsonResponse({"task": task_body(task), "recent_victims": victims})


@router.post(
    "/v3/{project_id}/kill-tasks/{task_id}/stop",
    operation_id="StopKillTask",
    summary="(Extension) Stop a kill task (a pass under way finishes; no new pass starts)",
    responses=openapi.error_responses(),
)
async def stop_kill_task(request: Request, project_id: ProjectId, task_id: TaskId) -> Response:
    async with audited(request, "stopKillTask") as call:
        caller = await call.authenticate(project_id)
        call.project(project_id)
        task = await runtime_of(request).tasks.stop_kill_task(
            caller, project_id, check_task_id(task_id), call.record
        )
    return JsonResponse({"task": task_body(task)})

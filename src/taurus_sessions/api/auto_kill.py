"""Automatic kill (contract Part F; TaurusDB's API reference, newer than the official SDK):
AddKillProcessTask, ShowKillProcessTask, StopKillProcessTask, ShowKillProcessTaskPreview,
UpdateAutoKillProcessStatus, ShowKillProcessStatus, ExecuteKillAllProcess, ShowKillProcessHistory.

Huawei's reference shows the paths, the request fields up to ``command`` and the switch; the rest
is decided here and written in each operation's description: AddKillProcessTask also takes ``time``
(required: seconds in the current state, as ShowKillProcessTaskPreview's ``time``), ``info`` (a
substring of the statement) and ``task_duration`` (required: seconds the task runs), each given
value must match exactly (``user``, ``db``, ``command``; a ``host`` without a port matches that
client on any port), and answers ``{"id": <task id>}``; StopKillProcessTask takes ``{"id"}`` (or
``{"task_id"}``); a task runs on every node of its instance and only while the switch is ON; the
switch must be ON to add a task or to kill all; times in answers are Unix milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator
from starlette.responses import Response

from taurus_sessions import ids
from taurus_sessions.api import openapi
from taurus_sessions.api.models import MAX_EPOCH_MS, ProcessModel, RequestModel
from taurus_sessions.api.openapi import InstanceId, ProjectId
from taurus_sessions.api.requests import audited, authenticated, call_context, runtime_of
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.auth.caller import Caller
from taurus_sessions.domain import FilterText
from taurus_sessions.errors import ParameterError
from taurus_sessions.inventory.models import KillTask
from taurus_sessions.services.auto_kill import KillCriteria

router = APIRouter(tags=["intelligent diagnosis"])

BASE = "/v3/{project_id}/instances/{instance_id}"
MAX_SECONDS = 2147483647  # ShowKillProcessTaskPreview's range for ``time``
MAX_TASK_SECONDS = 30 * 24 * 3600

# Huawei's value ranges: "1到32个字符之间，由字母、数字、中划线或下划线组成" (user), 1-64 (db).
UserName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
DbName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


def _seconds(value: int | str) -> int:
    """An integer, or digits in a string (the reference types ``time`` as a string of digits)."""
    number = value if isinstance(value, int) else int(value) if value.isdigit() else -1
    if not 1 <= number <= MAX_SECONDS:
        raise ValueError(f"must be an integer from 1 to {MAX_SECONDS}")
    return number


Seconds = Annotated[int | str, AfterValidator(_seconds)]


class AddKillProcessTaskRequest(RequestModel):
    user: UserName | None = None
    host: FilterText | None = None
    db: DbName | None = None
    command: FilterText | None = None
    time: Seconds = Field(description="Kill sessions at least this many seconds in their state.")
    info: FilterText | None = Field(default=None, description="A substring of the running statement.")
    task_duration: Seconds = Field(description=f"Seconds the task runs (at most {MAX_TASK_SECONDS}).")

    def criteria(self) -> KillCriteria:
        if int(self.task_duration) > MAX_TASK_SECONDS:
            raise ParameterError(f"task_duration must be at most {MAX_TASK_SECONDS}")
        return KillCriteria(int(self.time), self.user, self.host, self.db, self.command, self.info)


class StopKillProcessTaskRequest(RequestModel):
    id: str | None = Field(default=None, description="The task's id (ShowKillProcessTask).")
    task_id: str | None = Field(default=None, description="The same, as DAS names it.")

    @model_validator(mode="after")
    def _one_id(self) -> StopKillProcessTaskRequest:
        if not (self.id or self.task_id):
            raise ValueError("id is required")
        return self

    @property
    def task(self) -> str:
        return str(self.id or self.task_id)


class SwitchRequest(RequestModel):
    status: Annotated[str, StringConstraints(pattern="^(ON|OFF)$")]


class SwitchResponse(BaseModel):
    status: str = Field(description="ON or OFF.")


class KillProcessItem(BaseModel):
    id: str
    instance_id: str
    user: str | None
    host: str | None
    db: str | None
    command: str | None
    time: int | None
    info: str | None
    task_duration: int | None
    status: str = Field(description="running, stopped, finished or failed.")
    start_time: int = Field(description="Unix milliseconds.")
    end_time: int | None = Field(description="Unix milliseconds.")
    killed_count: int


class ShowKillProcessTaskResponse(BaseModel):
    processes: list[KillProcessItem]


def _ms(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def task_item(task: KillTask) -> dict[str, Any]:
    criteria: dict[str, Any] = dict(task.filter)
    return {
        "id": task.id,
        "instance_id": task.instance_id,
        **{name: _plain(criteria.get(name)) for name in ("user", "host", "db", "command", "info")},
        "time": criteria.get("min_time"),
        "task_duration": task.duration_seconds,
        "status": task.state,
        "start_time": _ms(task.created_at),
        "end_time": _ms(task.stopped_at or task.ends_at),
        "killed_count": task.victims_killed,
    }


def _plain(pattern: str | None) -> str | None:
    """A stored filter value as the caller gave it (the escapes and the any-port suffix removed)."""
    if pattern is None:
        return None
    text = pattern.removesuffix(":*")
    return text.replace("\\*", "*").replace("\\?", "?").replace("\\\\", "\\")


@router.post(
    BASE + "/process/task",
    operation_id="AddKillProcessTask",
    summary="Add an automatic kill task: kill matching sessions on every node, for a duration",
    responses=openapi.error_responses(),
    openapi_extra=openapi.body(AddKillProcessTaskRequest),
)
async def add_kill_process_task(request: Request, project_id: ProjectId, instance_id: InstanceId) -> Response:
    """The conditions are ANDed; at most 5 tasks run per instance (DBS.280407); the switch must be
    ON (DBS.280408). Needs gaussdb:instance:modify and gaussdb:instance:deleteProcesses."""
    async with audited(request, "addKillProcessTask") as call:
        caller = await call.authenticate(project_id)
        call.project(project_id)
        call.record.instance_id = ids.check_instance_id(instance_id)
        body = call.parse(AddKillProcessTaskRequest)
        task = await runtime_of(request).auto_kill.add_kill_process_task(
            caller, project_id, instance_id, body.criteria(), int(body.task_duration), call.record
        )
    return JsonResponse({"id": task.id})


@router.get(
    BASE + "/process/task",
    operation_id="ShowKillProcessTask",
    summary="The instance's automatic kill tasks, newest first",
    response_model=ShowKillProcessTaskResponse,
    responses=openapi.error_responses(),
)
async def show_kill_process_task(
    request: Request,
    project_id: ProjectId,
    instance_id: InstanceId,
    caller: Annotated[Caller, Depends(authenticated)],
) -> Response:
    _check(project_id, instance_id)
    tasks = await runtime_of(request).auto_kill.show_kill_process_task(caller, project_id, instance_id)
    return JsonResponse({"processes": [task_item(task) for task in tasks]})


@router.put(
    BASE + "/process/task",
    operation_id="StopKillProcessTask",
    summary="Stop an automatic kill task",
    responses=openapi.error_responses(),
    openapi_extra=openapi.body(StopKillProcessTaskRequest),
)
async def stop_kill_process_task(
    request: Request, project_id: ProjectId, instance_id: InstanceId
) -> Response:
    async with audited(request, "stopKillProcessTask") as call:
        caller = await call.authenticate(project_id)
        call.project(project_id)
        call.record.instance_id = ids.check_instance_id(instance_id)
        body = call.parse(StopKillProcessTaskRequest)
        await runtime_of(request).auto_kill.stop_kill_process_task(
            caller, project_id, instance_id, body.task, call.record
        )
    return JsonResponse({})


class PreviewRowModel(ProcessModel):
    node_id: str


class PreviewResponse(BaseModel):
    processes: list[PreviewRowModel]
    total_count: int


@router.get(
    BASE + "/process/task/preview",
    operation_id="ShowKillProcessTaskPreview",
    summary="The sessions an automatic kill task with these conditions would kill now",
    response_model=PreviewResponse,
    responses=openapi.error_responses(),
)
async def show_kill_process_task_preview(
    request: Request,
    project_id: ProjectId,
    instance_id: InstanceId,
    caller: Annotated[Caller, Depends(authenticated)],
    time: Annotated[int, Query(ge=1, le=MAX_SECONDS, description="Seconds in state, at least.")],
    user: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,32}$")] = None,
    host: Annotated[str | None, Query(min_length=1, max_length=1024)] = None,
    db: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = None,
    command: Annotated[str | None, Query(min_length=1, max_length=1024)] = None,
    info: Annotated[str | None, Query(min_length=1, max_length=1024)] = None,
) -> Response:
    _check(project_id, instance_id)
    criteria = KillCriteria(time, user, host, db, command, info)
    rows = await runtime_of(request).auto_kill.show_kill_process_task_preview(
        caller, project_id, instance_id, criteria
    )
    body = [{**row.process.as_dict(), "node_id": row.node_id} for row in rows]
    return JsonResponse({"processes": body, "total_count": len(body)})


@router.put(
    BASE + "/process/task/switch",
    operation_id="UpdateAutoKillProcessStatus",
    summary="Turn the instance's automatic kill on or off (its tasks run only while ON)",
    responses=openapi.error_responses(),
    openapi_extra=openapi.body(SwitchRequest),
)
async def update_auto_kill_process_status(
    request: Request, project_id: ProjectId, instance_id: InstanceId
) -> Response:
    async with audited(request, "updateAutoKillProcessStatus") as call:
        caller = await call.authenticate(project_id)
        call.project(project_id)
        call.record.instance_id = ids.check_instance_id(instance_id)
        body = call.parse(SwitchRequest)
        await runtime_of(request).auto_kill.update_auto_kill_process_status(
            caller, project_id, instance_id, body.status == "ON", call.record
        )
    return JsonResponse({})


@router.get(
    BASE + "/process/task/switch",
    operation_id="ShowKillProcessStatus",
    summary="Whether the instance's automatic kill is on",
    response_model=SwitchResponse,
    responses=openapi.error_responses(),
)
async def show_kill_process_status(
    request: Request,
    project_id: ProjectId,
    instance_id: InstanceId,
    caller: Annotated[Caller, Depends(authenticated)],
) -> Response:
    _check(project_id, instance_id)
    enabled = await runtime_of(request).auto_kill.show_kill_process_status(caller, project_id, instance_id)
    return JsonResponse({"status": "ON" if enabled else "OFF"})


@router.put(
    BASE + "/all/process",
    operation_id="ExecuteKillAllProcess",
    summary="Kill every user session of the instance (internal threads never); the switch must be ON",
    responses=openapi.error_responses(),
)
async def execute_kill_all_process(
    request: Request, project_id: ProjectId, instance_id: InstanceId
) -> Response:
    """Each node is swept and audited on its own (action killAllProcess)."""
    runtime = runtime_of(request)
    async with audited(request, "killAllProcess") as call:
        caller = await call.authenticate(project_id)
        call.project(project_id)
        call.record.instance_id = ids.check_instance_id(instance_id)
        call.record.record_if_empty = False  # done: each node's sweep has its own record
        await runtime.auto_kill.execute_kill_all_process(
            caller, project_id, instance_id, call_context(request)
        )
    return JsonResponse({})


class KillHistoryItem(BaseModel):
    task_id: str | None = Field(description="The automatic kill task; null for kill-all.")
    node_id: str
    killed_at: int = Field(description="Unix milliseconds.")
    id: int = Field(description="The killed session's thread id.")
    user: str
    host: str
    db: str | None
    command: str
    time: int = Field(description="Seconds the session had been in its state.")
    info: str | None


class KillHistoryResponse(BaseModel):
    kill_process_histories: list[KillHistoryItem]
    total_count: int


@router.get(
    BASE + "/process/kill/history",
    operation_id="ShowKillProcessHistory",
    summary="Sessions killed by automatic kill tasks and kill-all, newest first",
    response_model=KillHistoryResponse,
    responses=openapi.error_responses(),
)
async def show_kill_process_history(
    request: Request,
    project_id: ProjectId,
    instance_id: InstanceId,
    caller: Annotated[Caller, Depends(authenticated)],
    start_time: Annotated[int | None, Query(ge=0, le=MAX_EPOCH_MS, description="Unix milliseconds.")] = None,
    end_time: Annotated[int | None, Query(ge=0, le=MAX_EPOCH_MS, description="Unix milliseconds.")] = None,
    page_num: Annotated[int, Query(ge=0, le=10**6, description="Page, from 1 (0 reads as 1).")] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 10,
) -> Response:
    _check(project_id, instance_id)
    since = datetime.fromtimestamp(start_time / 1000, UTC) if start_time is not None else None
    until = datetime.fromtimestamp(end_time / 1000, UTC) if end_time is not None else None
    if since and until and since >= until:
        raise ParameterError("start_time must be before end_time")
    killed, total = await runtime_of(request).auto_kill.show_kill_process_history(
        caller, project_id, instance_id, since, until, page_num, page_size
    )
    return JsonResponse({"kill_process_histories": killed, "total_count": total})


def _check(project_id: str, instance_id: str) -> None:
    ids.check_project_id(project_id)
    ids.check_instance_id(instance_id)

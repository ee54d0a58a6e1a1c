"""Intelligent kill (contract Part F; in the official SDK): ShowIntelligentKillSessionStatistic,
ExecuteIntelligentKillSession, ListIntelligentKillSessionHistory, and the download its history links
to (this service's own: authenticated, and the link expires).

Decisions where Huawei's reference is silent (also in the OpenAPI descriptions): times in the
statistic are seconds with millisecond precision (MariaDB's TIME_MS); a session qualifies when it
runs a statement (not Sleep); each strategy lists up to three groups, so up to nine entries, and
the execution kills the sessions of all of them; the download is a CSV of the killed sessions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from taurus_sessions import ids
from taurus_sessions.api import openapi
from taurus_sessions.api.models import MAX_EPOCH_MS, RequestModel
from taurus_sessions.api.openapi import InstanceId, ProjectId
from taurus_sessions.api.requests import audited, authenticated, node_ref, runtime_of
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.auth.caller import Caller
from taurus_sessions.csv_export import to_csv
from taurus_sessions.errors import DownloadExpired, ParameterError
from taurus_sessions.ids import NODE_ID_PATTERN
from taurus_sessions.inventory.models import IntelligentKillTask
from taurus_sessions.services.intelligent_kill import Statistic

router = APIRouter(tags=["intelligent diagnosis"])

BASE = "/v3/{project_id}/instances/{instance_id}/intelligent-kill-session"
NodeIdQuery = Annotated[
    str,
    Query(description="Node id (…no07).", json_schema_extra={"pattern": NODE_ID_PATTERN}),
]
UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
TaskId = Annotated[
    str, Path(description="An intelligent kill task id.", json_schema_extra={"pattern": UUID_PATTERN})
]
CSV_FIELDS = ("task_id", "node_id", "id", "user", "host", "db", "command", "time", "info", "outcome")


class StatisticModel(BaseModel):
    keyword: str = Field(description="The SQL template the group's sessions share (literals as ?).")
    example_sql_text: str = Field(description="The statement of the group's first session.")
    ids: list[int] = Field(description="Thread ids of the group's sessions.")
    count: int
    total_time: float = Field(description="Seconds, summed over the group's sessions.")
    avg_time: float
    max_time: float
    strategy: str = Field(description="top3_time, top3_count or top3_avg_time.")


class StatisticResponse(BaseModel):
    statistics: list[StatisticModel]


def statistic_body(stat: Statistic) -> dict[str, Any]:
    group = stat.group
    return {
        "keyword": group.keyword,
        "example_sql_text": group.example_sql_text,
        "ids": group.ids,
        "count": group.count,
        "total_time": round(group.total_time, 3),
        "avg_time": round(group.avg_time, 3),
        "max_time": round(group.max_time, 3),
        "strategy": stat.strategy,
    }


@router.get(
    BASE + "/statistic",
    operation_id="ShowIntelligentKillSessionStatistic",
    summary="Preview intelligent kill: the node's sessions by SQL template, the top 3 groups per strategy",
    response_model=StatisticResponse,
    responses=openapi.error_responses(),
)
async def show_intelligent_kill_session_statistic(
    request: Request,
    project_id: ProjectId,
    instance_id: InstanceId,
    caller: Annotated[Caller, Depends(authenticated)],
    node_id: NodeIdQuery,
) -> Response:
    ref = node_ref(project_id, instance_id, node_id)
    stats = await runtime_of(request).intelligent_kill.show_intelligent_kill_session_statistic(caller, ref)
    return JsonResponse({"statistics": [statistic_body(stat) for stat in stats]})


class ExecuteIntelligentKillSessionRequest(RequestModel):
    node_id: str = Field(description="Node id (…no07).", json_schema_extra={"pattern": NODE_ID_PATTERN})


class ExecuteIntelligentKillSessionResponse(BaseModel):
    task_id: str


@router.post(
    BASE,
    operation_id="ExecuteIntelligentKillSession",
    summary="Kill the sessions of the top SQL-template groups of a node, as one audited task",
    response_model=ExecuteIntelligentKillSessionResponse,
    responses=openapi.error_responses(),
    openapi_extra=openapi.body(ExecuteIntelligentKillSessionRequest),
)
async def execute_intelligent_kill_session(
    request: Request, project_id: ProjectId, instance_id: InstanceId
) -> Response:
    """Needs executeIntelligentKillSession and deleteProcesses; internal threads never, and a
    session whose statement changed since it was grouped is left alone."""
    async with audited(request, "intelligentKillSession") as call:
        caller = await call.authenticate(project_id)
        call.project(project_id)
        body = call.parse(ExecuteIntelligentKillSessionRequest)
        ref = call.node(project_id, instance_id, body.node_id)
        task = await runtime_of(request).intelligent_kill.execute_intelligent_kill_session(
            caller, ref, call.record
        )
    return JsonResponse({"task_id": task.id})


class HistoryModel(BaseModel):
    task_id: str
    start_time: int = Field(description="Unix time in seconds.")
    end_time: int = Field(description="Unix time in seconds.")
    download_link: str = Field(description="A CSV of the killed sessions; needs authentication; expires.")


class HistoryResponse(BaseModel):
    intelligent_kill_session_histories: list[HistoryModel]
    total_count: int


def _epoch_ms(value: int, name: str) -> datetime:
    if not 0 <= value <= MAX_EPOCH_MS:
        raise ParameterError(f"{name} must be a Unix time in milliseconds")
    return datetime.fromtimestamp(value / 1000, UTC)


def _count(value: str, name: str, low: int, high: int) -> int:
    # The SDK sends limit and offset as strings: "必须为整数，不能为负数".
    if not value.isdigit() or not low <= int(value) <= high:
        raise ParameterError(f"{name} must be an integer from {low} to {high}")
    return int(value)


def history_body(task: IntelligentKillTask, link: str) -> dict[str, Any]:
    ended = task.ended_at or task.started_at
    return {
        "task_id": task.id,
        "start_time": int(task.started_at.timestamp()),
        "end_time": int(ended.timestamp()),
        "download_link": link,
    }


@router.get(
    BASE + "/history",
    operation_id="ListIntelligentKillSessionHistory",
    summary="Intelligent kill tasks of a node begun between two times (milliseconds), newest first",
    response_model=HistoryResponse,
    responses=openapi.error_responses(),
)
async def list_intelligent_kill_session_history(
    request: Request,
    project_id: ProjectId,
    instance_id: InstanceId,
    caller: Annotated[Caller, Depends(authenticated)],
    node_id: NodeIdQuery,
    start_time: Annotated[int, Query(description="Unix time in milliseconds, before end_time.")],
    end_time: Annotated[int, Query(description="Unix time in milliseconds.")],
    limit: Annotated[str, Query(description="1 to 100 (default 100).")] = "100",
    offset: Annotated[str, Query(description="Records to skip (default 0).")] = "0",
) -> Response:
    ref = node_ref(project_id, instance_id, node_id)
    since, until = _epoch_ms(start_time, "start_time"), _epoch_ms(end_time, "end_time")
    if since >= until:
        raise ParameterError("start_time must be before end_time")
    runtime = runtime_of(request)
    tasks, total = await runtime.intelligent_kill.list_intelligent_kill_session_history(
        caller, ref, since, until, _count(offset, "offset", 0, 10**9), _count(limit, "limit", 1, 100)
    )
    base = str(request.base_url).rstrip("/") + BASE.format(project_id=project_id, instance_id=instance_id)
    provider = runtime.keyring.provider
    histories = []
    for task in tasks:
        ticket = provider.sign_ticket({"task": task.id, "project": project_id})
        histories.append(history_body(task, f"{base}/history/{task.id}/download?ticket={ticket}"))
    return JsonResponse({"intelligent_kill_session_histories": histories, "total_count": total})


@router.get(
    BASE + "/history/{task_id}/download",
    operation_id="DownloadIntelligentKillSessionHistory",
    summary="(Extension) The sessions an intelligent kill task killed, as CSV (the history's link)",
    responses={**openapi.error_responses(), 200: {"content": {"text/csv": {}}}},
)
async def download_intelligent_kill_session_history(
    request: Request,
    project_id: ProjectId,
    instance_id: InstanceId,
    task_id: TaskId,
    caller: Annotated[Caller, Depends(authenticated)],
    ticket: Annotated[str, Query(max_length=4096, description="From the history's download_link.")],
) -> Response:
    """Needs the caller's own authentication and a ticket no older than TAURUS_DOWNLOAD_LINK_SECONDS."""
    runtime = runtime_of(request)
    claims = runtime.keyring.provider.read_ticket(ticket, runtime.settings.download_link_seconds)
    if claims is None or claims.get("task") != task_id or claims.get("project") != project_id:
        raise DownloadExpired()
    ids.check_project_id(project_id)
    ids.check_instance_id(instance_id)
    rows = await runtime.intelligent_kill.killed_sessions(caller, project_id, instance_id, task_id)
    return Response(
        to_csv(CSV_FIELDS, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="intelligent-kill-{task_id}.csv"'},
    )

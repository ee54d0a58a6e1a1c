"""Autonomous SQL limiting (contract Part F; in the official SDK): SetAutoSqlLimiting,
ShowSqlAutoSqlLimiting, DeleteAutoSqlLimiting, ShowAutoSqlLimitingLog.

Decisions where Huawei's reference is silent (also in the OpenAPI descriptions and the README):
``start_time``/``end_time`` are the service's limiting time zone (``TAURUS_LIMITING_TIME_ZONE``),
both ends included, a window whose end is before its start runs over midnight; ``retain_sql_rule``
is taken as a JSON boolean or as "true"/"false" (Terraform sends strings); the log's ``create_at``
and ``expire_at`` are Unix milliseconds, newest first, at most 1,000 entries; a node without a rule
is left out of ShowSqlAutoSqlLimiting; switching off a node without a rule is DBS.280417. Beyond
TaurusDB's fields, ShowSqlAutoSqlLimiting says what the limiter last saw (the SDK ignores them):
``state``, ``cpu_source``, ``cpu_condition`` ("unknown" without a CPU source), the readings, the
limits in force and ``minute_seconds``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from starlette.responses import Response

from taurus_sessions import ids
from taurus_sessions.api import openapi
from taurus_sessions.api.models import RequestModel
from taurus_sessions.api.openapi import InstanceId, NodeId, ProjectId
from taurus_sessions.api.requests import (
    audited,
    authenticated,
    authenticated_body,
    node_ref,
    parse_body,
    runtime_of,
)
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.auth.caller import Caller
from taurus_sessions.ids import NODE_ID_PATTERN
from taurus_sessions.inventory.models import AutoSqlLimit, AutoSqlLimitingRule
from taurus_sessions.services.cpu_sources import source_kind
from taurus_sessions.services.limiting_rules import CpuState, in_window
from taurus_sessions.services.sql_limiting import NodeLimiting, RuleSettings
from taurus_sessions.settings import Settings

router = APIRouter(tags=["intelligent diagnosis"])

BASE = "/v3/{project_id}/instances/{instance_id}"
MAX_NODES = 64

NodeIdText = Annotated[str, StringConstraints(pattern=NODE_ID_PATTERN)]
ClockTime = Annotated[
    str,
    StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
    Field(description='"hh:mm", 24-hour, in the service\'s limiting time zone.'),
]


def _flag(value: bool | str) -> bool:
    return value if isinstance(value, bool) else value == "true"


Flag = Annotated[bool | Literal["true", "false"], AfterValidator(_flag)]


class AutoSqlLimitingRuleModel(RequestModel):
    node_id: NodeIdText = Field(description="A primary node of the instance.")
    start_time: ClockTime
    end_time: ClockTime
    condition: Literal["and", "or"] = Field(description="How the CPU and active-session conditions combine.")
    cpu_usage: int = Field(ge=70, le=100, description="CPU usage threshold, percent.")
    active_sessions: int = Field(ge=1, le=5000, description="Active sessions threshold.")
    clear_time: int = Field(ge=1, le=1440, description="Minutes a limit lasts.")
    duration: int = Field(ge=2, le=60, description="Minutes the conditions must hold before a limit is made.")
    max_concurrency: int = Field(
        ge=0, le=1000000000, description="Executions of the limited SQL allowed at once."
    )
    retain_sql_rule: Flag = Field(
        description="Keep existing SQL limiting rules (this service has no manual ones: stored only)."
    )

    def settings(self) -> RuleSettings:
        return RuleSettings(**self.model_dump())  # retain_sql_rule a bool by now (Flag)


class SetAutoSqlLimitingRequest(RequestModel):
    auto_sql_limiting_rules: list[AutoSqlLimitingRuleModel] = Field(min_length=1, max_length=MAX_NODES)


class SetAutoSqlLimitingResponse(BaseModel):
    job_id: str = Field(description="Poll GET /v3/{project_id}/jobs?id= (ShowGaussMySqlJobInfo).")


@router.put(
    BASE + "/auto-sql-limiting",
    operation_id="SetAutoSqlLimiting",
    summary="Switch on or change autonomous SQL limiting on primary nodes",
    response_model=SetAutoSqlLimitingResponse,
    responses=openapi.error_responses(),
    openapi_extra=openapi.body(SetAutoSqlLimitingRequest),
)
async def set_auto_sql_limiting(request: Request, project_id: ProjectId, instance_id: InstanceId) -> Response:
    """All rules are applied or none; a changed rule starts its observation over and the limits it
    made end. Needs setSqlFilterRules and deleteProcesses (limits kill in the caller's name)."""
    async with audited(request, "setAutoSqlLimiting") as call:
        caller = await call.authenticate(project_id)
        call.project(project_id)
        call.record.instance_id = ids.check_instance_id(instance_id)
        body = call.parse(SetAutoSqlLimitingRequest)
        job = await runtime_of(request).sql_limiting.set_auto_sql_limiting(
            caller,
            project_id,
            instance_id,
            [rule.settings() for rule in body.auto_sql_limiting_rules],
            call.record,
        )
    return JsonResponse({"job_id": job.id})


class ShowSqlAutoSqlLimitingRequest(RequestModel):
    node_ids: list[NodeIdText] = Field(min_length=1, max_length=MAX_NODES)


class ActiveLimitModel(BaseModel):
    pattern: str
    max_concurrency: int
    create_at: int = Field(description="Unix time, milliseconds.")
    expire_at: int = Field(description="Unix time, milliseconds.")
    stopped: int = Field(description="Executions stopped under this limit so far.")


class NodeSqlAutoSqlLimitingModel(BaseModel):
    node_id: str
    start_time: str
    end_time: str
    condition: str
    cpu_usage: int
    active_sessions: int
    clear_time: int
    duration: int
    max_concurrency: int
    state: Literal["not_evaluated", "outside_window", "watching", "conditions_met", "limiting"] = Field(
        description="(Extension) What the limiter last saw."
    )
    cpu_source: Literal["none", "process", "node_exporter"] = Field(description="(Extension)")
    cpu_condition: Literal["met", "not_met", "unknown"] = Field(
        description="(Extension) unknown without a CPU source or reading: only an 'or' rule can fire."
    )
    cpu_usage_now: float | None = Field(description="(Extension) Percent, at the last check.")
    active_sessions_now: int | None = Field(description="(Extension) At the last check.")
    conditions_since: int | None = Field(description="(Extension) Unix ms since the conditions hold.")
    evaluated_at: int | None = Field(description="(Extension) Unix ms of the last saved check.")
    note: str | None = Field(description="(Extension) Why a condition is unknown, or what stops the rule.")
    minute_seconds: float = Field(
        description="(Extension) Seconds in one minute of the rule (60 in production)."
    )
    active_limits: list[ActiveLimitModel] = Field(description="(Extension) Limits in force now.")


class ShowSqlAutoSqlLimitingResponse(BaseModel):
    instance_id: str
    auto_sql_limiting_rules: list[NodeSqlAutoSqlLimitingModel]


def millis(at: datetime | None) -> int | None:
    return None if at is None else int(at.timestamp() * 1000)


def _state(rule: AutoSqlLimitingRule, limiting: NodeLimiting, now: datetime, zone: ZoneInfo | None) -> str:
    if limiting.active:
        return "limiting"
    local = now.astimezone(zone) if zone else now.astimezone()
    if not in_window(rule.start_time, rule.end_time, local.hour * 60 + local.minute):
        return "outside_window"
    if rule.evaluated_at is None:
        return "not_evaluated"
    return "conditions_met" if rule.conditions_since is not None else "watching"


def _cpu_condition(rule: AutoSqlLimitingRule, cpu_source: str | None) -> str:
    if cpu_source is None or rule.last_cpu_usage is None:
        return CpuState.UNKNOWN
    return CpuState.MET if rule.last_cpu_usage >= rule.cpu_usage else CpuState.NOT_MET


def rule_body(limiting: NodeLimiting, settings: Settings, now: datetime) -> dict[str, Any]:
    rule = limiting.rule
    zone = ZoneInfo(settings.limiting_time_zone) if settings.limiting_time_zone else None
    note = rule.last_note
    if limiting.cpu_source is None:
        note = "no CPU source for this node: the CPU condition is unknown, only an 'or' rule can fire"
    return {
        "node_id": rule.node_id,
        "start_time": rule.start_time,
        "end_time": rule.end_time,
        "condition": rule.condition,
        "cpu_usage": rule.cpu_usage,
        "active_sessions": rule.active_sessions,
        "clear_time": rule.clear_time,
        "duration": rule.duration,
        "max_concurrency": int(rule.max_concurrency),
        "state": _state(rule, limiting, now, zone),
        "cpu_source": source_kind(limiting.cpu_source),
        "cpu_condition": _cpu_condition(rule, limiting.cpu_source),
        "cpu_usage_now": None if rule.last_cpu_usage is None else round(rule.last_cpu_usage, 1),
        "active_sessions_now": rule.last_active_sessions,
        "conditions_since": millis(rule.conditions_since),
        "evaluated_at": millis(rule.evaluated_at),
        "note": note,
        "minute_seconds": settings.limiting_minute_seconds,
        "active_limits": [
            {
                "pattern": limit.pattern,
                "max_concurrency": int(limit.max_concurrency),
                "create_at": millis(limit.create_at),
                "expire_at": millis(limit.expire_at),
                "stopped": limit.stopped,
            }
            for limit in limiting.active
        ],
    }


@router.post(
    BASE + "/auto-sql-limiting",
    operation_id="ShowSqlAutoSqlLimiting",
    summary="The autonomous SQL limiting rules of primary nodes, with what the limiter last saw",
    response_model=ShowSqlAutoSqlLimitingResponse,
    responses=openapi.error_responses(),
    openapi_extra=openapi.body(ShowSqlAutoSqlLimitingRequest),
)
async def show_sql_auto_sql_limiting(
    request: Request, project_id: ProjectId, instance_id: InstanceId
) -> Response:
    """A query sent as POST, as TaurusDB does; nodes without a rule are left out."""
    caller, raw = await authenticated_body(request, project_id)
    ids.check_project_id(project_id)
    ids.check_instance_id(instance_id)
    body = parse_body(ShowSqlAutoSqlLimitingRequest, raw, request.headers.get("content-type"))
    runtime = runtime_of(request)
    found = await runtime.sql_limiting.show_sql_auto_sql_limiting(
        caller, project_id, instance_id, body.node_ids
    )
    now = datetime.now(UTC)
    return JsonResponse(
        {
            "instance_id": instance_id,
            "auto_sql_limiting_rules": [rule_body(limiting, runtime.settings, now) for limiting in found],
        }
    )


@router.delete(
    BASE + "/nodes/{node_id}/auto-sql-limiting",
    operation_id="DeleteAutoSqlLimiting",
    summary="Switch autonomous SQL limiting off on a primary node (its limits in force end)",
    responses=openapi.error_responses(),
)
async def delete_auto_sql_limiting(
    request: Request, project_id: ProjectId, instance_id: InstanceId, node_id: NodeId
) -> Response:
    async with audited(request, "deleteAutoSqlLimiting") as call:
        caller = await call.authenticate(project_id)
        ref = call.node(project_id, instance_id, node_id)
        await runtime_of(request).sql_limiting.delete_auto_sql_limiting(caller, ref, call.record)
    return JsonResponse({})


class AutoSqlLimitingLogModel(BaseModel):
    node_id: str
    pattern: str = Field(description="The limited SQL's keywords joined by ~.")
    sql_type: str = Field(description="SELECT.")
    max_concurrency: int
    create_at: int = Field(description="Unix time, milliseconds.")
    expire_at: int = Field(description="Unix time, milliseconds: when the limit ends (or was due to).")
    ended_at: int | None = Field(description="(Extension) Unix ms, when ended early (rule changed or off).")
    end_reason: str | None = Field(description="(Extension)")
    stopped: int = Field(description="(Extension) Executions stopped under this limit.")
    template: str = Field(description="(Extension) The SQL template whose sessions fired the rule.")
    sessions: int = Field(description="(Extension) How many sessions ran it then.")


class ShowAutoSqlLimitingLogResponse(BaseModel):
    logs: list[AutoSqlLimitingLogModel]


def log_body(limit: AutoSqlLimit) -> dict[str, Any]:
    return {
        "node_id": limit.node_id,
        "pattern": limit.pattern,
        "sql_type": limit.sql_type,
        "max_concurrency": int(limit.max_concurrency),
        "create_at": millis(limit.create_at),
        "expire_at": millis(limit.expire_at),
        "ended_at": millis(limit.ended_at),
        "end_reason": limit.end_reason,
        "stopped": limit.stopped,
        "template": limit.template,
        "sessions": limit.sessions,
    }


@router.get(
    BASE + "/nodes/{node_id}/auto-sql-limiting/log",
    operation_id="ShowAutoSqlLimitingLog",
    summary="The limits autonomous SQL limiting made on a node, newest first (at most 1,000)",
    response_model=ShowAutoSqlLimitingLogResponse,
    responses=openapi.error_responses(),
)
async def show_auto_sql_limiting_log(
    request: Request,
    project_id: ProjectId,
    instance_id: InstanceId,
    node_id: NodeId,
    caller: Annotated[Caller, Depends(authenticated)],
) -> Response:
    ref = node_ref(project_id, instance_id, node_id)
    logs = await runtime_of(request).sql_limiting.show_auto_sql_limiting_log(caller, ref)
    return JsonResponse({"logs": [log_body(limit) for limit in logs]})

"""Jobs (TaurusDB's ShowGaussMySqlJobInfo, ``GET /v3/{project_id}/jobs?id=``): the job an operation
answered with, as clients poll it (Terraform waits for SetAutoSqlLimiting's job to be Completed)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from taurus_sessions import ids
from taurus_sessions.api import openapi
from taurus_sessions.api.openapi import ProjectId
from taurus_sessions.api.requests import authenticated, runtime_of
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.auth.caller import Caller
from taurus_sessions.errors import ParameterError
from taurus_sessions.inventory.models import Job

router = APIRouter(tags=["jobs"])

UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_UUID_CHARS = frozenset("0123456789abcdef-")


class JobInstanceModel(BaseModel):
    id: str
    name: str


class JobModel(BaseModel):
    id: str
    name: str = Field(description="The operation, e.g. SetAutoSqlLimiting.")
    status: str = Field(description="Pending, Running, Completed or Failed.")
    created: str = Field(description='"yyyy-mm-ddThh:mm:ss+0000".')
    ended: str = Field(description='"yyyy-mm-ddThh:mm:ss+0000", empty until it ends.')
    process: str = Field(description="Progress while running (e.g. 60%), else empty.")
    instance: JobInstanceModel
    entities: dict[str, Any]
    fail_reason: str


class ShowGaussMySqlJobInfoResponse(BaseModel):
    job: JobModel


def huawei_time(at: datetime | None) -> str:
    return "" if at is None else at.strftime("%Y-%m-%dT%H:%M:%S%z")


def job_body(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "status": job.status,
        "created": huawei_time(job.created_at),
        "ended": huawei_time(job.ended_at),
        "process": "",
        "instance": {"id": job.instance_id, "name": job.instance_name},
        "entities": {},
        "fail_reason": job.fail_reason or "",
    }


@router.get(
    "/v3/{project_id}/jobs",
    operation_id="ShowGaussMySqlJobInfo",
    summary="A job an operation answered with (e.g. SetAutoSqlLimiting's job_id)",
    response_model=ShowGaussMySqlJobInfoResponse,
    responses=openapi.error_responses(),
)
async def show_gauss_my_sql_job_info(
    request: Request,
    project_id: ProjectId,
    caller: Annotated[Caller, Depends(authenticated)],
    id: Annotated[
        str, Query(max_length=36, description="The job id.", json_schema_extra={"pattern": UUID_PATTERN})
    ],
) -> Response:
    ids.check_project_id(project_id)
    if len(id) != 36 or not set(id) <= _UUID_CHARS:
        raise ParameterError("id must be a job id as an operation returned it")
    job = await runtime_of(request).sql_limiting.show_gauss_my_sql_job_info(caller, project_id, id)
    return JsonResponse({"job": job_body(job)})

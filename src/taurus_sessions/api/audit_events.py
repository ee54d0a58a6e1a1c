"""The audit trail of a project (extension): kills and refused kills, filtered and paged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from taurus_sessions import ids
from taurus_sessions.api import openapi
from taurus_sessions.api.openapi import ProjectId
from taurus_sessions.api.requests import authenticated, runtime_of
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.auth.caller import Caller
from taurus_sessions.inventory.audit_events import AuditQuery

router = APIRouter(tags=["audit"])

Text = Annotated[str | None, Query(max_length=130)]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@router.get(
    "/v3/{project_id}/audit-events",
    operation_id="ListAuditEvents",
    summary="(Extension) The audit trail of kills and refused kills, newest first",
    responses=openapi.error_responses(),
)
async def list_audit_events(
    request: Request,
    project_id: ProjectId,
    caller: Annotated[Caller, Depends(authenticated)],
    instance_id: Text = None,
    node_id: Text = None,
    actor: Annotated[
        str | None, Query(max_length=130, description="domain/name, user id, AK or task id")
    ] = None,
    outcome: Annotated[str | None, Query(pattern="^(ok|refused|failed|pending|interrupted)$")] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="deleteProcesses, killProcesses, …")
    ] = None,
    request_id: Annotated[str | None, Query(max_length=64)] = None,
    source_ip: Annotated[str | None, Query(max_length=64, description="The caller's address.")] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601, inclusive; UTC when no zone")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601, exclusive; UTC when no zone")] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    ids.check_project_id(project_id)
    query = AuditQuery(
        project_id=project_id,
        instance_id=instance_id,
        node_id=node_id,
        actor=actor,
        outcome=outcome,
        action=action,
        request_id=request_id,
        source_ip=source_ip,
        since=_utc(since),
        until=_utc(until),
        offset=offset,
        limit=limit,
    )
    events, total = await runtime_of(request).audit_reader.list_audit_events(caller, query)
    return JsonResponse({"events": events, "total_count": total})

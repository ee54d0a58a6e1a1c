"""Realtime session collection (contract Part F; in the official SDK): CollectRealtimeSession,
ShowRealtimeSessionTaskStatus, DownloadRealtimeSession.

Decisions where Huawei's reference is silent (also in the OpenAPI descriptions): the request id is
a UUID; the file is a CSV with a header row; an id that is unknown, expired or another node's reads
as ``unrecognized``, and its download is DBS.280412; a collection still running or failed cannot be
downloaded (DBS.280410, DBS.280411); a project runs a few collections at once and keeps a bounded
number of files (DBS.280413, DBS.280414).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from taurus_sessions.api import openapi
from taurus_sessions.api.models import RequestModel
from taurus_sessions.api.openapi import InstanceId, NodeId, ProjectId
from taurus_sessions.api.processes import NODE_PATH
from taurus_sessions.api.requests import (
    authenticate,
    authenticated,
    node_ref,
    parse_optional_body,
    read_body,
    runtime_of,
)
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.auth.caller import Caller
from taurus_sessions.domain import FilterText, RealtimeQuery
from taurus_sessions.errors import ParameterError
from taurus_sessions.nodes.realtime import COLUMNS
from taurus_sessions.services.realtime_sessions import INFO_CHARS

router = APIRouter(tags=["intelligent diagnosis"])

MAX_THRESHOLD = 86400  # Huawei's range for slow_process_threshold: 1 to 86400 seconds
UUID_PATTERN = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"

Filter = Literal["slow", "active", "total", "long"]
Command = Literal["Sleep", "Query", "Connect", "Init DB", "Field List", "Processlist"]
SortKeyName = Literal[
    "id",
    "state_duration",
    "trx_executed_time",
    "trx_id",
    "trx_lock_duration",
    "trx_lock_rows",
    "trx_lock_tables",
    "trx_update_rows",
]


class RealtimeSessionRequest(RequestModel):
    """Every field is optional; no body at all (or ``{}``) collects every user session by id."""

    filter: Filter = Field(
        default="total",
        description="total: every user session; active: not Sleep; slow: active for at least "
        "slow_process_threshold seconds in its state; long: in an InnoDB transaction open for at "
        "least slow_process_threshold seconds.",
    )
    slow_process_threshold: int = Field(
        default=10, ge=1, le=MAX_THRESHOLD, description="Seconds, for the slow and long filters."
    )
    user: FilterText | None = Field(default=None, description="Account, exactly (case-sensitive).")
    host: FilterText | None = Field(
        default=None, description="Client host, exactly; without a port it matches every port."
    )
    db: FilterText | None = Field(default=None, description="Current database, exactly (case-sensitive).")
    command: Command | None = Field(default=None, description="Command, exactly.")
    sql_key: FilterText | None = Field(
        default=None, description="Text the statement contains (case-insensitive, no wildcards)."
    )
    sort_key: SortKeyName = Field(
        default="id",
        description="Sorting by a trx_ column lists the sessions without a transaction last.",
    )
    sort_dir: Literal["asc", "desc"] = "asc"

    def query(self) -> RealtimeQuery:
        return RealtimeQuery(
            filter=self.filter,
            threshold=self.slow_process_threshold,
            user=self.user,
            host=self.host,
            db=self.db,
            command=self.command,
            sql_key=self.sql_key,
            sort_key=self.sort_key,
            descending=self.sort_dir == "desc",
        )


class CollectRealtimeSessionResponse(BaseModel):
    request_id: str = Field(description="The collection's id (a UUID), for its status and its file.")


FILE_DESCRIPTION = (
    "A CSV file (UTF-8) with a header row, one line per session: "
    + ", ".join(COLUMNS)
    + ". time and state_duration are seconds in the current state (state_duration to the "
    "millisecond where the server keeps it); trx_started is the node's local time; "
    "trx_executed_time is seconds since trx_started; trx_lock_duration is seconds waiting for a "
    "lock (0 when not waiting); trx_lock_rows, trx_lock_tables and trx_update_rows are InnoDB's "
    "trx_rows_locked, trx_tables_locked and trx_rows_modified. The trx_ cells are empty for a "
    f"session without a transaction. info is cut to {INFO_CHARS} characters; at most "
    "TAURUS_REALTIME_SESSION_MAX_ROWS sessions (the first in the requested order); a cell a "
    "spreadsheet would run as a formula starts with an apostrophe."
)


@router.post(
    NODE_PATH + "/realtime-session",
    operation_id="CollectRealtimeSession",
    summary="Collect a snapshot of a node's user sessions, in the background",
    response_model=CollectRealtimeSessionResponse,
    responses=openapi.error_responses(),
    openapi_extra=openapi.body(RealtimeSessionRequest, required=False),
)
async def collect_realtime_session(
    request: Request, project_id: ProjectId, instance_id: InstanceId, node_id: NodeId
) -> Response:
    """Needs gaussdb:instance:getRealtimeSession. Internal threads never appear. At most
    TAURUS_REALTIME_SESSION_MAX_RUNNING collections run at once per project (DBS.280413) and
    TAURUS_REALTIME_SESSION_MAX_RESULTS are kept (DBS.280414); a file is kept for
    TAURUS_REALTIME_SESSION_RESULT_SECONDS after the collection ends."""
    body = await read_body(request)
    caller = await authenticate(request, body, project_id)
    ref = node_ref(project_id, instance_id, node_id)
    parsed = parse_optional_body(RealtimeSessionRequest, body, request.headers.get("content-type"))
    request_id = await runtime_of(request).realtime_sessions.collect_realtime_session(
        caller, ref, parsed.query(), parsed.model_dump()
    )
    return JsonResponse({"request_id": request_id})


RequestId = Annotated[
    str,
    Query(
        max_length=36,
        description="The id CollectRealtimeSession answered (a UUID).",
        json_schema_extra={"pattern": UUID_PATTERN},
    ),
]


def _request_id(value: str) -> str:
    # Checked here rather than by the query model: a malformed id is the catalogue's parameter
    # error, named, while an id well formed but unknown is an answer (unrecognized).
    if re.fullmatch(UUID_PATTERN, value) is None:
        raise ParameterError("request_id must be a UUID")
    return value.lower()


class StatusResponse(BaseModel):
    status: Literal["running", "finished", "error", "unrecognized"] = Field(
        description="unrecognized: no such collection on this node, or it has expired."
    )


@router.get(
    NODE_PATH + "/realtime-session-task",
    operation_id="ShowRealtimeSessionTaskStatus",
    summary="The status of a realtime session collection",
    response_model=StatusResponse,
    responses=openapi.error_responses(),
)
async def show_realtime_session_task_status(
    request: Request,
    project_id: ProjectId,
    instance_id: InstanceId,
    node_id: NodeId,
    caller: Annotated[Caller, Depends(authenticated)],
    request_id: RequestId,
) -> Response:
    """running, finished or error (also for a collection whose service process stopped before it
    finished); unrecognized for an id unknown to this node or expired."""
    ref = node_ref(project_id, instance_id, node_id)
    status = await runtime_of(request).realtime_sessions.show_realtime_session_task_status(
        caller, ref, _request_id(request_id)
    )
    return JsonResponse({"status": status})


@router.get(
    NODE_PATH + "/realtime-session-result",
    operation_id="DownloadRealtimeSession",
    summary="The file of a finished realtime session collection (CSV)",
    description=FILE_DESCRIPTION,
    responses={
        **openapi.error_responses(),
        200: {"description": FILE_DESCRIPTION, "content": {"text/csv": {"schema": {"type": "string"}}}},
    },
)
async def download_realtime_session(
    request: Request,
    project_id: ProjectId,
    instance_id: InstanceId,
    node_id: NodeId,
    caller: Annotated[Caller, Depends(authenticated)],
    request_id: RequestId,
) -> Response:
    ref = node_ref(project_id, instance_id, node_id)
    request_id = _request_id(request_id)
    body = await runtime_of(request).realtime_sessions.download_realtime_session(caller, ref, request_id)
    filename = f"realtime-session-{node_id}-{request_id}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )

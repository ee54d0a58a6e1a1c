"""The processes of a node: ListTaurusDbNodeProcesses and DeleteTaurusDbNodeProcesses (contract A1,
A2), and the extension kills (Part E): kill with reasons, kill-query, dry runs, kill by filter."""

from __future__ import annotations

import enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from taurus_sessions.api import openapi
from taurus_sessions.api.models import (
    CriteriaFilter,
    KillReportModel,
    Mode,
    ProcessModel,
    RequestModel,
    ThreadId,
    Victims,
)
from taurus_sessions.api.openapi import InstanceId, NodeId, ProjectId
from taurus_sessions.api.requests import audited, authenticated, node_ref, runtime_of
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.auth.caller import Caller
from taurus_sessions.domain import (
    FilterKill,
    FilterText,
    KillMode,
    ListQuery,
    Outcome,
    SortKey,
    ThreadFilter,
    VictimChoice,
)
from taurus_sessions.errors import ParameterError
from taurus_sessions.ids import MAX_THREAD_ID
from taurus_sessions.services.extended_kills import KillReport
from taurus_sessions.services.kill_decision import Expectation, Verdict

router = APIRouter(tags=["sessions"])

NODE_PATH = "/v3/{project_id}/instances/{instance_id}/nodes/{node_id}"
FAITHFUL_MAX_IDS = 20  # Huawei's schema: maxItems 20


# -- ListTaurusDbNodeProcesses --------------------------------------------------------------------
class Order(enum.Enum):
    ASC = "asc"
    DESC = "desc"


class ListProcessesQuery(ThreadFilter):
    """``offset`` and ``limit`` are Huawei's; the rest are extensions official clients never send."""

    offset: int = Field(default=0, ge=0, le=MAX_THREAD_ID, description="Rows to skip.")
    limit: int = Field(default=100, ge=1, le=100, description="Rows to return, 1 to 100.")
    sort: SortKey = Field(default=SortKey.ID, description="(Extension) Sort by id (default), time or user.")
    order: Order = Field(default=Order.ASC, description="(Extension) asc (default) or desc.")
    stats: bool = Field(default=False, description="(Extension) Add counts per user, host, db and command.")

    def list_query(self) -> ListQuery:
        flt = ThreadFilter.model_validate(self.model_dump(include=set(ThreadFilter.model_fields)))
        return ListQuery(self.offset, self.limit, flt, self.sort, self.order is Order.DESC, self.stats)


class StatsModel(BaseModel):
    user: dict[str, int]
    host: dict[str, int] = Field(description="Per client machine (the port is dropped).")
    db: dict[str, int] = Field(description="The empty key counts sessions with no database.")
    command: dict[str, int]


class ListProcessesResponse(BaseModel):
    processes: list[ProcessModel]
    total_count: int = Field(description="User sessions (matching the filter, if any) in the snapshot.")
    stats: StatsModel | None = Field(default=None, description="Only with stats=true (extension).")


@router.get(
    NODE_PATH + "/processes",
    operation_id="ListTaurusDbNodeProcesses",
    summary="List user session threads of a node",
    response_model=ListProcessesResponse,
    responses=openapi.error_responses(),
)
async def list_taurus_db_node_processes(
    request: Request,
    project_id: ProjectId,
    instance_id: InstanceId,
    node_id: NodeId,
    caller: Annotated[Caller, Depends(authenticated)],
    query: Annotated[ListProcessesQuery, Query()],
) -> Response:
    """The node's user sessions (``SHOW FULL PROCESSLIST`` minus internal threads), by id ascending.

    Extension parameters (never sent by official clients) filter and sort; ``total_count`` then
    counts the matching sessions.
    """
    return await list_response(request, caller, project_id, instance_id, node_id, query.list_query())


async def list_response(
    request: Request, caller: Caller, project_id: str, instance_id: str, node_id: str, query: ListQuery
) -> Response:
    """The list call once its caller and query are known (also served by ``fast_routes``)."""
    ref = node_ref(project_id, instance_id, node_id)
    page = await runtime_of(request).processes.list_taurus_db_node_processes(caller, ref, query)
    # The rows are built by the service itself in the documented shape: no second validation.
    body: dict[str, object] = {"processes": page.processes, "total_count": page.total_count}
    if page.stats is not None:
        body["stats"] = page.stats
    return JsonResponse(body)


# -- DeleteTaurusDbNodeProcesses ------------------------------------------------------------------
class DeleteTaurusDbNodeProcessesRequest(RequestModel):
    processes: list[ThreadId] = Field(
        min_length=1, max_length=FAITHFUL_MAX_IDS, description="Thread ids to kill (0 to 2^63-1)."
    )


class DeleteTaurusDbNodeProcessesResponse(BaseModel):
    processes_killed: list[int]
    processes_not_found: list[int] = Field(
        description="No such thread, an internal thread, or a KILL the node refused."
    )


@router.delete(
    NODE_PATH + "/processes",
    operation_id="DeleteTaurusDbNodeProcesses",
    summary="Terminate user session threads of a node",
    response_model=DeleteTaurusDbNodeProcessesResponse,
    responses=openapi.error_responses(),
    openapi_extra=openapi.body(DeleteTaurusDbNodeProcessesRequest),
)
async def delete_taurus_db_node_processes(
    request: Request, project_id: ProjectId, instance_id: InstanceId, node_id: NodeId
) -> Response:
    """``KILL CONNECTION`` for each listed user session; internal threads read as not found."""
    async with audited(request, "deleteProcesses") as call:
        caller = await call.authenticate(project_id)
        ref = call.node(project_id, instance_id, node_id)
        body = call.parse(DeleteTaurusDbNodeProcessesRequest)
        result = await runtime_of(request).processes.delete_taurus_db_node_processes(
            caller, ref, body.processes, call.record
        )
    return JsonResponse(
        {"processes_killed": result.processes_killed, "processes_not_found": result.processes_not_found}
    )


# -- KillNodeProcesses (extension) ----------------------------------------------------------------
class ExpectedProcess(RequestModel):
    """Identity guard: the id is killed only if the node still shows these values."""

    id: ThreadId
    user: FilterText | None = None
    host: FilterText | None = None
    db: FilterText | None = None
    command: FilterText | None = None
    info: FilterText | None = Field(default=None, description="The statement the caller saw, exactly.")

    def expectation(self) -> Expectation:
        return Expectation(self.user, self.host, self.db, self.command, self.info)


class KillNodeProcessesRequest(RequestModel):
    processes: list[ThreadId | ExpectedProcess] = Field(
        min_length=1,
        description="Ids, or objects with an id and what the caller expects the thread to be; at most "
        "TAURUS_KILL_MAX_IDS (default 20).",
    )
    mode: Mode = Field(
        default="connection", description="connection: end the session; query: only its statement."
    )
    dry_run: bool = Field(default=False, description="Decide, but kill nothing (needs only the list right).")

    def ids(self) -> list[int]:
        return [item if isinstance(item, int) else item.id for item in self.processes]

    def expectations(self) -> dict[int, Expectation]:
        return {item.id: item.expectation() for item in self.processes if isinstance(item, ExpectedProcess)}


_OUTCOME = {outcome: outcome.value for outcome in Outcome}  # an enum's .value is a slow lookup


def verdict_body(verdict: Verdict) -> dict[str, Any]:
    body: dict[str, Any] = {"id": verdict.thread_id, "outcome": _OUTCOME[verdict.outcome]}
    if verdict.process is not None:
        body["process"] = verdict.process.as_dict()
    if verdict.changed:
        body["changed"] = list(verdict.changed)
    return body


def report_body(report: KillReport) -> dict[str, Any]:
    body: dict[str, Any] = {
        "mode": report.mode.value,
        "dry_run": report.dry_run,
        "results": [verdict_body(v) for v in report.verdicts],
        "summary": report.summary(),
    }
    if report.matched is not None:
        body["matched"] = report.matched
    return body


@router.post(
    NODE_PATH + "/processes/kill",
    operation_id="KillNodeProcesses",
    summary="(Extension) Kill sessions with a reason per id; kill-query; dry run; identity guard",
    response_model=KillReportModel,
    responses=openapi.error_responses(),
    openapi_extra=openapi.body(KillNodeProcessesRequest),
    tags=["extensions"],
)
async def kill_node_processes(
    request: Request, project_id: ProjectId, instance_id: InstanceId, node_id: NodeId
) -> Response:
    """Per id: killed, not_found, internal, denied, changed (the guard failed) or would_kill (dry run)."""
    runtime = runtime_of(request)
    async with audited(request, "killProcesses") as call:
        caller = await call.authenticate(project_id)
        ref = call.node(project_id, instance_id, node_id)
        body = call.parse(KillNodeProcessesRequest)
        if len(body.processes) > runtime.settings.kill_max_ids:
            raise ParameterError(f"processes must hold 1 to {runtime.settings.kill_max_ids} ids")
        report = await runtime.kills.kill_node_processes(
            caller,
            ref,
            body.ids(),
            KillMode(body.mode),
            call.record,
            expectations=body.expectations(),
            dry_run=body.dry_run,
        )
    return JsonResponse(report_body(report))


# -- KillNodeProcessesByFilter (extension) --------------------------------------------------------
class KillNodeProcessesByFilterRequest(RequestModel):
    filter: CriteriaFilter
    mode: Mode = "connection"
    victims: Victims = "all"
    max_victims: int | None = Field(
        default=None, ge=1, description="Cap; default and maximum TAURUS_KILL_MAX_VICTIMS (default 10000)."
    )
    dry_run: bool = False

    def kill(self, cap: int) -> FilterKill:
        if self.max_victims is not None and self.max_victims > cap:
            raise ParameterError(f"max_victims must be an integer from 1 to {cap}")
        return FilterKill(
            self.filter,
            KillMode(self.mode),
            VictimChoice(self.victims),
            self.max_victims or cap,
            self.dry_run,
        )


@router.post(
    NODE_PATH + "/processes/kill-by-filter",
    operation_id="KillNodeProcessesByFilter",
    summary="(Extension) Kill every user session matching a filter, or preview the victims",
    response_model=KillReportModel,
    responses=openapi.error_responses(),
    openapi_extra=openapi.body(KillNodeProcessesByFilterRequest),
    tags=["extensions"],
)
async def kill_node_processes_by_filter(
    request: Request, project_id: ProjectId, instance_id: InstanceId, node_id: NodeId
) -> Response:
    """The filter language of the list call; victims all, oldest or all-but-oldest; a cap on victims."""
    runtime = runtime_of(request)
    async with audited(request, "killByFilter") as call:
        caller = await call.authenticate(project_id)
        ref = call.node(project_id, instance_id, node_id)
        kill = call.parse(KillNodeProcessesByFilterRequest).kill(runtime.settings.kill_max_victims)
        report = await runtime.kills.kill_node_processes_by_filter(caller, ref, kill, call.record)
    return JsonResponse(report_body(report))

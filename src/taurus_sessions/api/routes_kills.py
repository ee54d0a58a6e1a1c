"""Extension kills (contract Part E): kill with reasons, kill-query, dry runs, kill by filter."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from taurus_sessions.api import parsing_ext, schemas, schemas_ext
from taurus_sessions.api.deps import audited_node_call, runtime_of
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.api.routes_processes import NODE_PATH
from taurus_sessions.services.audit_trail import KillCall
from taurus_sessions.services.extended_kills import KillReport
from taurus_sessions.services.kill_decision import Verdict
from taurus_sessions.services.node_access import NodeRef

router = APIRouter(tags=["extensions"])


def verdict_body(verdict: Verdict) -> dict[str, Any]:
    body: dict[str, Any] = {"id": verdict.thread_id, "outcome": verdict.outcome.value}
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


def _body_doc(model: type[Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


@router.post(
    NODE_PATH + "/processes/kill",
    operation_id="KillNodeProcesses",
    summary="(Extension) Kill sessions with a reason per id; kill-query; dry run; identity guard",
    response_model=schemas_ext.KillReportModel,
    responses=schemas.ERRORS_400_500,
    openapi_extra=_body_doc(schemas_ext.KillRequestModel),
)
async def kill_node_processes(request: Request, project_id: str, instance_id: str, node_id: str) -> Response:
    """Per id: killed, not_found, internal, denied, changed (the guard failed) or would_kill (dry run)."""
    runtime = runtime_of(request)

    def parse(body: bytes, content_type: str | None) -> parsing_ext.KillWithReasons:
        return parsing_ext.kill_with_reasons(body, content_type, runtime.settings.kill_max_ids)

    async def run(call: KillCall, ref: NodeRef, parsed: parsing_ext.KillWithReasons) -> KillReport:
        return await runtime.kills.kill_node_processes(
            call, ref, parsed.ids, parsed.mode, expectations=parsed.expectations, dry_run=parsed.dry_run
        )

    report = await audited_node_call(request, "killProcesses", (project_id, instance_id, node_id), parse, run)
    return JsonResponse(report_body(report))


@router.post(
    NODE_PATH + "/processes/kill-by-filter",
    operation_id="KillNodeProcessesByFilter",
    summary="(Extension) Kill every user session matching a filter, or preview the victims",
    response_model=schemas_ext.KillReportModel,
    responses=schemas.ERRORS_400_500,
    openapi_extra=_body_doc(schemas_ext.KillByFilterRequestModel),
)
async def kill_node_processes_by_filter(
    request: Request, project_id: str, instance_id: str, node_id: str
) -> Response:
    """The filter language of the list call; victims all, oldest or all-but-oldest; a cap on victims."""
    runtime = runtime_of(request)

    def parse(body: bytes, content_type: str | None) -> parsing_ext.KillByFilter:
        return parsing_ext.kill_by_filter(body, content_type, runtime.settings.kill_max_victims)

    async def run(call: KillCall, ref: NodeRef, parsed: parsing_ext.KillByFilter) -> KillReport:
        return await runtime.kills.kill_node_processes_by_filter(
            call, ref, parsed.filter, parsed.mode, parsed.victims, parsed.max_victims, parsed.dry_run
        )

    report = await audited_node_call(request, "killByFilter", (project_id, instance_id, node_id), parse, run)
    return JsonResponse(report_body(report))

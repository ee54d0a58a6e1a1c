"""Health (contract Part H): ``/healthz`` while the process serves, ``/readyz`` while it can also do
its work (the inventory answers and its schema is current). No authentication, no detail: a load
balancer or an orchestrator asks, and nothing about the inside is told."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from taurus_sessions.api.requests import runtime_of
from taurus_sessions.api.responses import JsonResponse

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])

READY_TIMEOUT = 2.0  # a probe that waits longer than this is already an answer


class Status(BaseModel):
    status: str


@router.get("/healthz", operation_id="ShowHealth", summary="The process serves", response_model=Status)
async def show_health() -> Response:
    return JsonResponse({"status": "ok"})


@router.get(
    "/readyz",
    operation_id="ShowReadiness",
    summary="The inventory answers and its schema is current",
    response_model=Status,
    responses={503: {"model": Status}},
)
async def show_readiness(request: Request) -> Response:
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            ready = await runtime_of(request).inventory.ready()
    except Exception:  # unreachable, too slow, or not an inventory at all: not ready either way
        log.warning("readiness check failed", exc_info=True)
        ready = False
    if ready:
        return JsonResponse({"status": "ok"})
    return JsonResponse({"status": "unavailable"}, status_code=503)

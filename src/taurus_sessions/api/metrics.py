"""``GET /metrics`` (contract Part H): the Prometheus text, for the networks in
``TAURUS_METRICS_ALLOW`` only (loopback by default); anyone else is told there is no such API, as
for any unknown path. The address is the client's as the middleware resolved it (behind a trusted
proxy, the original client's)."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator

from fastapi import APIRouter, Request
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.responses import Response

from taurus_sessions import metrics
from taurus_sessions.api.requests import runtime_of, source_ip
from taurus_sessions.errors import ApiNotFound
from taurus_sessions.runtime import Runtime

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])


class InventoryGauges(Collector):
    """What only the inventory knows, read at scrape time (the same for every worker)."""

    def __init__(self, pending: int | None) -> None:
        self._pending = pending

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self._pending is not None:
            yield GaugeMetricFamily(
                "taurus_audit_pending_records",
                "Audit records still pending: kill calls in flight, or left by a process that died "
                "(settled after the longest call).",
                value=self._pending,
            )


def allowed(runtime: Runtime, address: str | None) -> bool:
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in runtime.settings.metrics_allow)


@router.get(
    "/metrics",
    operation_id="ShowMetrics",
    summary="Prometheus metrics (only for TAURUS_METRICS_ALLOW; others get 404)",
    responses={200: {"content": {"text/plain": {}}}},
    include_in_schema=True,
)
async def show_metrics(request: Request) -> Response:
    runtime = runtime_of(request)
    if not allowed(runtime, source_ip(request)):
        raise ApiNotFound()
    try:
        pending: int | None = await runtime.inventory.audit.count_pending()
    except Exception:  # the inventory is down: the other metrics still matter, most of all then
        log.warning("counting pending audit records failed", exc_info=True)
        pending = None
    return Response(metrics.render([InventoryGauges(pending)]), media_type=metrics.CONTENT_TYPE)

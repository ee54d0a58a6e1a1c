"""The service's Prometheus metrics (contract Part H), defined once here and updated where things
happen; ``/metrics`` renders them (``api/metrics.py``).

With several workers (``serve --workers N``) each process writes its values to files in the folder
``PROMETHEUS_MULTIPROC_DIR`` names, and a scrape sums them over processes (prometheus-client's
multiprocess mode); the variable must be set before this module is first imported, which
``workers.py`` does for the processes it starts. Labels take only bounded values: operation ids,
HTTP statuses, outcomes, node ids of the inventory, reasons from fixed lists — never a path or a
caller's text.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

HTTP_REQUESTS = Counter(
    "taurus_http_requests_total", "HTTP requests answered, by operation and status.", ["operation", "code"]
)
HTTP_DURATION = Histogram(
    "taurus_http_request_duration_seconds",
    "Time from a request's arrival to its answer, by operation.",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
KILLS = Counter(
    "taurus_kills_total",
    "Sessions a kill call decided on, by the call's action and the outcome per session.",
    ["action", "outcome"],
)
NODE_ERRORS = Counter(
    "taurus_node_errors_total", "Calls that failed on a node (unreachable, timed out, refused).", ["node_id"]
)
NODE_POOL_CONNECTIONS = Gauge(
    "taurus_node_pool_connections",
    "Connections to a node held by the service, by state (idle, in_use).",
    ["node_id", "state"],
    multiprocess_mode="livesum",
)
TASK_PASSES = Counter(
    "taurus_task_passes_total", "Kill task passes, by outcome (ok, error, finished, failed).", ["outcome"]
)
THROTTLED = Counter(
    "taurus_throttled_requests_total",
    "Requests refused with 429, by throttle (source, caller, auth_failures, login, password_queue).",
    ["reason"],
)
CACHE_LOOKUPS = Counter(
    "taurus_cache_lookups_total",
    "Lookups of the in-process caches (token, user, roles, node, access key, project), hit or miss.",
    ["cache", "result"],
)
SQL_LIMITS = Counter("taurus_sql_limits_total", "Limits auto SQL limiting made (rules that fired).")
REALTIME_COLLECTIONS = Counter(
    "taurus_realtime_collections_total",
    "Realtime session collections ended, by status (finished, error).",
    ["status"],
)


def render(extra: Iterable[Collector] = ()) -> bytes:
    """The exposition text: this process's metrics, or every worker's summed in multiprocess mode,
    then ``extra`` collectors computed at scrape time (e.g. from the inventory)."""
    base: CollectorRegistry = REGISTRY
    if os.environ.get(MULTIPROCESS_ENV):
        base = CollectorRegistry()
        multiprocess.MultiProcessCollector(base)
    scrape = CollectorRegistry()
    for collector in extra:
        scrape.register(collector)
    return generate_latest(base) + generate_latest(scrape)


def forget_process(pid: int | None) -> None:
    """A worker ended: its live gauges no longer count (multiprocess mode only)."""
    folder = os.environ.get(MULTIPROCESS_ENV)
    if folder and pid is not None:
        multiprocess.mark_process_dead(pid, folder)


# Labelled children, looked up once: ``labels()`` takes a lock and builds a key on every call, and
# these are counted on every request.
_children: dict[tuple[object, ...], Any] = {}


def child(metric: Counter | Histogram | Gauge, *labels: str) -> Any:
    """``metric.labels(*labels)``, kept for the next time (label values are bounded, see above)."""
    key = (metric, *labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found


def cache_lookup(cache: str, hit: bool) -> None:
    child(CACHE_LOOKUPS, cache, "hit" if hit else "miss").inc()


def throttled(reason: str) -> None:
    child(THROTTLED, reason).inc()

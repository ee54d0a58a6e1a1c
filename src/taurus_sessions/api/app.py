"""The one app factory. It receives a ready ``Runtime`` (settings, inventory, node pools) and wires
routes, error rendering and the outer middleware; tests and the demo call it the same way."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI

from taurus_sessions import __version__
from taurus_sessions.api import (
    audit_events,
    auto_kill,
    console,
    das_db_users,
    das_locks,
    das_processes,
    errors,
    health,
    iam,
    instances,
    intelligent_kill,
    jobs,
    kill_tasks,
    lock_waits,
    metrics,
    openapi,
    processes,
    realtime_sessions,
    sql_limiting,
)
from taurus_sessions.api.fast_routes import FastRoutes
from taurus_sessions.api.middleware import HostAllowList, RequestContextMiddleware
from taurus_sessions.metrics import NODE_POOL_CONNECTIONS
from taurus_sessions.runtime import Runtime

log = logging.getLogger(__name__)

BackgroundJob = Callable[[Runtime], Coroutine[Any, Any, None]]

DESCRIPTION = """
Huawei Cloud TaurusDB session API, served from your own machines: list and terminate user session
threads of MySQL-family nodes (ListTaurusDbNodeProcesses, DeleteTaurusDbNodeProcesses,
ShowLockWaitSession), with the same paths, bodies, error codes and authentication (IAM token or
AK/SK signature), plus extensions: filtered listing, kills with reasons, dry runs, kill-query,
kill by filter, kill tasks and an audit trail.

Also Huawei DAS's "Cloud DBA" sessions and locks (RegisterDbUser and the other DB-user operations,
ListProcesses, DeleteProcess, ListMetadataLocks, ListInnodbLocks), faithful to the official DAS SDK:
they act on the database as an account the caller registered, so the database's own privileges
decide what is seen and killed — a least-privilege mode the TaurusDB API does not have. Their errors
are DAS's (DAS.xxxxxx).

Tested against the official Python SDKs (huaweicloudsdkgaussdb: sync and async clients, endpoint and
region modes; huaweicloudsdkdas) on MariaDB nodes. Expected to work but not tested: Huawei's Terraform
provider, the Go and Java SDKs, MySQL 8 nodes.
"""


async def sweep_idle_pools(runtime: Runtime) -> None:
    while True:
        await asyncio.sleep(max(1.0, runtime.settings.node_pool_idle_seconds / 2))
        try:
            runtime.nodes.sweep()
        except Exception:  # a bug here must not end the sweeping for the life of the process
            log.exception("closing idle node connections failed")


POOL_GAUGE_SECONDS = 5.0


async def publish_pool_gauges(runtime: Runtime) -> None:
    """This process's node connections, for taurus_node_pool_connections (summed over workers)."""
    shown: set[str] = set()
    while True:
        try:
            counts = runtime.nodes.connection_counts()
            for node_id in shown - counts.keys():  # pool closed: nothing held any more
                NODE_POOL_CONNECTIONS.labels(node_id, "idle").set(0)
                NODE_POOL_CONNECTIONS.labels(node_id, "in_use").set(0)
            for node_id, (idle, in_use) in counts.items():
                NODE_POOL_CONNECTIONS.labels(node_id, "idle").set(idle)
                NODE_POOL_CONNECTIONS.labels(node_id, "in_use").set(in_use)
            shown = set(counts)
        except Exception:  # a bug here must not end the publishing for the life of the process
            log.exception("publishing node pool gauges failed")
        await asyncio.sleep(POOL_GAUGE_SECONDS)


async def run_kill_tasks(runtime: Runtime) -> None:
    await runtime.task_runner.run_forever()


async def run_sql_limiter(runtime: Runtime) -> None:
    minute = runtime.settings.limiting_minute_seconds
    if minute != 60:
        log.warning(
            "auto SQL limiting counts one minute as %gs (TAURUS_LIMITING_MINUTE_SECONDS): "
            "for tests and demos only",
            minute,
        )
    await runtime.sql_limiter.run_forever()


ANONYMOUS_FLUSH_SECONDS = 2.0


async def count_anonymous_refusals(runtime: Runtime) -> None:
    try:
        while True:
            await asyncio.sleep(ANONYMOUS_FLUSH_SECONDS)
            try:
                await runtime.audit.anonymous.flush()
            except Exception:  # a bug here must not end the counting for the life of the process
                log.exception("writing the counts of refused anonymous calls failed")
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(runtime.audit.anonymous.flush())  # the last counts, on the way out


PURGE_REVOCATIONS_EVERY = 3600.0


async def follow_token_revocations(runtime: Runtime) -> None:
    """Tokens signed out on other replicas, read ahead of need (never on a request's path)."""
    last_purge = time.monotonic()
    while True:
        await asyncio.sleep(runtime.settings.revocation_refresh_seconds)
        try:
            await runtime.revocations.refresh()
            if time.monotonic() - last_purge > PURGE_REVOCATIONS_EVERY:
                await runtime.inventory.revoked_tokens.purge(datetime.now(UTC))
                last_purge = time.monotonic()
        except Exception:  # the inventory may be down for a while; keep following
            log.exception("reading token revocations failed")


async def settle_interrupted_calls(runtime: Runtime) -> None:
    """Records left pending by calls that never finished: at start-up, then regularly."""
    every = min(30.0, max(1.0, runtime.recovery.longest_call / 2))
    while True:
        try:
            await runtime.recovery.settle_stale()
        except Exception:  # the inventory may be down for a while; keep looking
            log.exception("settling interrupted kill calls failed")
        await asyncio.sleep(every)


async def refresh_caches(runtime: Runtime) -> None:
    """Inventory lookups a request needs (its caller, roles, node) and the token keys, loaded again
    before they expire, so a request after a pause does not wait for the inventory."""
    await runtime.caches.run_forever()


async def purge_realtime_sessions(runtime: Runtime) -> None:
    """Realtime session collections past their expiry, and their files, are deleted."""
    every = min(60.0, max(1.0, runtime.settings.realtime_session_result_seconds / 2))
    while True:
        await asyncio.sleep(every)
        try:
            await runtime.realtime_sessions.purge()
        except Exception:  # the inventory may be down for a while; keep purging
            log.exception("purging expired realtime session collections failed")


DEFAULT_JOBS: tuple[BackgroundJob, ...] = (
    refresh_caches,
    sweep_idle_pools,
    publish_pool_gauges,
    run_kill_tasks,
    run_sql_limiter,
    count_anonymous_refusals,
    follow_token_revocations,
    settle_interrupted_calls,
    purge_realtime_sessions,
)


def create_app(runtime: Runtime, background: tuple[BackgroundJob, ...] = DEFAULT_JOBS) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(job(runtime)) for job in background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await runtime.close()

    app = FastAPI(
        title="taurus-sessions",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # the bundled docs pages load assets from a CDN; the service stays offline
        redoc_url=None,
        openapi_url="/openapi.json",
        # A gateway answers an unknown path with APIGW.0101; it does not redirect /path/ to /path.
        redirect_slashes=False,
        # FastAPI's own OpenTelemetry hooks, off: the service publishes its metrics on /metrics, and
        # the hooks would otherwise ask the (unconfigured) global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.runtime = runtime
    errors.install(app)
    resources = (health, metrics, iam, processes, lock_waits, instances, audit_events, kill_tasks, auto_kill)
    families = (
        intelligent_kill,
        realtime_sessions,
        sql_limiting,
        jobs,
        das_db_users,
        das_processes,
        das_locks,
    )
    for resource in (*resources, *families, console):
        app.include_router(resource.router)
    app.mount("/console/static", console.static_files(), name="console-static")
    settings = runtime.settings
    # Inside the request context (added first, so it runs after it): the hot operations without
    # FastAPI's per-request machinery; everything else passes on to the routes.
    app.add_middleware(FastRoutes, api=app)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        trusted_proxies=settings.trusted_proxies,
        source_limit=runtime.source_limit,
        allowed_hosts=HostAllowList.build(settings.allowed_hosts, settings.host),
    )
    openapi.install(app)
    return app

"""Per-request plumbing shared by the routes: the runtime, the call context, the body, the caller."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from fastapi import Request

from taurus_sessions.api.middleware import SCOPE_KEY
from taurus_sessions.api.parsing import node_ref
from taurus_sessions.auth.caller import AuthRequest, Caller
from taurus_sessions.runtime import Runtime
from taurus_sessions.services.audit_trail import KillCall
from taurus_sessions.services.call_context import CallContext
from taurus_sessions.services.node_access import NodeRef

T = TypeVar("T")
R = TypeVar("R")


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def call_context(request: Request) -> CallContext:
    info = request.scope.get(SCOPE_KEY, {})
    started = float(info.get("started", time.perf_counter()))
    return CallContext(
        request_id=str(info.get("request_id", "")),
        source_ip=info.get("source_ip"),
        started_at=datetime.now(UTC),
        started_monotonic=time.monotonic() - (time.perf_counter() - started),
    )


async def read_body(request: Request) -> bytes:
    # The middleware's receive wrapper raises EntityTooLarge as soon as the cap is passed.
    return await request.body()


def auth_request(request: Request, body: bytes, project_id: str | None = None) -> AuthRequest:
    return AuthRequest(
        method=request.method,
        path=request.url.path,
        query=list(request.query_params.multi_items()),
        headers={key.lower(): value for key, value in request.headers.items()},
        body=body,
        host=request.headers.get("host", ""),
        path_project_id=project_id,
    )


async def authenticate(request: Request, body: bytes = b"", project_id: str | None = None) -> Caller:
    runtime = runtime_of(request)
    caller = await runtime.authenticator.authenticate(auth_request(request, body, project_id))
    runtime.throttle.check(caller.access_key or caller.user_id)
    return caller


async def authenticated(request: Request) -> Caller:
    """Dependency for bodiless routes; runs before query validation (401 comes before 400)."""
    return await authenticate(request, b"", request.path_params.get("project_id"))


async def audited_node_call(
    request: Request,
    action: str,
    path_ids: tuple[str, str, str],
    parse: Callable[[bytes, str | None], T],
    run: Callable[[KillCall, NodeRef, T], Awaitable[R]],
) -> R:
    """One shape for every call that may kill: recorded in the audit trail whatever happens
    (refused, failed or done), in this order: the body (capped), who is calling, the path ids, the
    body's content, then the service operation."""
    runtime = runtime_of(request)
    project_id, instance_id, node_id = path_ids
    async with runtime.audit.kill_call(
        call_context(request), action, project_id, instance_id, node_id
    ) as call:
        body = await read_body(request)
        call.caller = await authenticate(request, body, project_id)
        ref = node_ref(project_id, instance_id, node_id)
        parsed = parse(body, request.headers.get("content-type"))
        return await run(call, ref, parsed)

"""Per-request plumbing shared by the resources: the runtime, the call context, the body read and
parsed into the model that documents it, the caller, and the audited call.

Nothing a caller sends goes further unparsed: path ids through ``ids``, query strings through
their FastAPI-declared models, bodies through ``parse_body`` (strict JSON: ``true`` is no integer,
``"5"`` no number; unknown keys are ignored; every failure is ``DBS.200001`` naming the field).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from taurus_sessions import ids
from taurus_sessions.api.middleware import SCOPE_KEY
from taurus_sessions.auth.caller import AuthRequest, Caller
from taurus_sessions.errors import (
    AuthenticationFailed,
    EmptyRequest,
    ParameterError,
    SignatureExpired,
    TokenExpired,
)
from taurus_sessions.runtime import Runtime
from taurus_sessions.services.audit_trail import KillCall
from taurus_sessions.services.call_context import CallContext
from taurus_sessions.services.node_access import NodeRef

M = TypeVar("M", bound=BaseModel)


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


# -- bodies ---------------------------------------------------------------------------------------
def check_content_type(content_type: str | None) -> None:
    """JSON, with or without a charset; no Content-Type at all is read as JSON too."""
    if content_type is None or not content_type.strip():
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise ParameterError("Content-Type must be application/json")


def describe(exc: ValidationError) -> str:
    """``field.sub[2]: what is wrong`` for the first error (union member tags left out)."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ""
    for part in first.get("loc", ()):
        if isinstance(part, int):
            where += f"[{part}]"
        elif part.isidentifier() and not part[:1].isupper():  # skip tags such as 'constrained-int'
            where += f".{part}" if where else part
    message = str(first.get("msg", "invalid value"))
    return f"{where}: {message}" if where else message


def parse_body(model: type[M], body: bytes, content_type: str | None) -> M:
    if not body.strip():
        raise EmptyRequest()
    check_content_type(content_type)
    try:
        return model.model_validate_json(body, strict=True)
    except ValidationError as exc:
        raise ParameterError(describe(exc)) from None


def parse_optional_body(model: type[M], body: bytes, content_type: str | None) -> M:
    """A body the caller may leave out: none at all, or an empty one, means every default. (The
    SDK sends an empty body with a JSON Content-Type when its request has no body object.)"""
    if not body.strip():
        return model()
    return parse_body(model, body, content_type)


# -- who is calling -------------------------------------------------------------------------------
def _repeated(raw_headers: list[tuple[bytes, bytes]]) -> frozenset[str]:
    seen: set[bytes] = set()
    repeated: set[str] = set()
    for name, _ in raw_headers:
        lowered = name.lower()
        if lowered in seen:
            repeated.add(lowered.decode("latin-1"))
        seen.add(lowered)
    return frozenset(repeated)


def auth_request(request: Request, body: bytes, project_id: str | None = None) -> AuthRequest:
    return AuthRequest(
        method=request.method,
        path=request.url.path,
        query=list(request.query_params.multi_items()),
        headers={key.lower(): value for key, value in request.headers.items()},
        body=body,
        host=request.headers.get("host", ""),
        path_project_id=project_id,
        source_ip=source_ip(request),
        raw_path=request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
        repeated_headers=_repeated(request.headers.raw),
    )


def token_header(request: Request) -> str | None:
    """``X-Auth-Token`` as ``auth_request`` would see it (the last one, when sent twice)."""
    token: str | None = None
    for name, value in request.scope["headers"]:
        if name.lower() == b"x-auth-token":
            token = value.decode("latin-1")
    return token


def source_ip(request: Request) -> str | None:
    """The client address the middleware settled on (the peer, or a trusted proxy's client)."""
    address: str | None = request.scope.get(SCOPE_KEY, {}).get("source_ip")
    return address


async def authenticate(request: Request, body: bytes = b"", project_id: str | None = None) -> Caller:
    """Who is calling. A source address that keeps failing is refused before any check is made
    for it (429), so guessing tokens or signatures costs the guesser, not the service."""
    runtime = runtime_of(request)
    source = source_ip(request)
    runtime.auth_failures.check(source)
    try:
        token = token_header(request)
        if token:  # what Authenticator.authenticate does first, without building the whole view
            caller = await runtime.authenticator.by_token(token)
        else:
            caller = await runtime.authenticator.authenticate(auth_request(request, body, project_id))
    except (AuthenticationFailed, TokenExpired, SignatureExpired):
        runtime.auth_failures.failed(source)
        raise
    runtime.throttle.check(caller.access_key or caller.user_id)
    return caller


async def authenticated(request: Request) -> Caller:
    """Dependency for bodiless routes; runs before query validation (401 comes before 400)."""
    return await authenticate(request, b"", request.path_params.get("project_id"))


async def authenticated_body(request: Request, project_id: str) -> tuple[Caller, bytes]:
    """Who is calling, on a route that reads a body but kills nothing (a query sent as POST): the
    signature covers the body, so it is read first."""
    body = await read_body(request)
    return await authenticate(request, body, project_id), body


def node_ref(project_id: str, instance_id: str, node_id: str) -> NodeRef:
    return NodeRef(
        ids.check_project_id(project_id), ids.check_instance_id(instance_id), ids.check_node_id(node_id)
    )


# -- the audited call -----------------------------------------------------------------------------
class AuditedCall:
    """A call that may kill, recorded whatever happens (refused, failed or done). Its steps run in
    this order, each noting on the record what it learnt: the body (capped), who is calling, the
    path ids (only validated ones are recorded), the body's content."""

    def __init__(self, request: Request, record: KillCall) -> None:
        self.request = request
        self.record = record
        self._body = b""

    async def authenticate(self, project_id: str) -> Caller:
        # Recorded only when well-formed: a refused stranger's typing is not kept.
        self.record.project_id = project_id if ids.is_project_id(project_id) else None
        self._body = await read_body(self.request)
        self.record.caller = await authenticate(self.request, self._body, project_id)
        return self.record.caller

    def project(self, project_id: str) -> str:
        self.record.project_id = ids.check_project_id(project_id)
        return project_id

    def node(self, project_id: str, instance_id: str, node_id: str) -> NodeRef:
        self.project(project_id)
        self.record.instance_id = ids.check_instance_id(instance_id)
        self.record.node_id = ids.check_node_id(node_id)
        return NodeRef(project_id, instance_id, node_id)

    def parse(self, model: type[M]) -> M:
        return self.parse_with(parse_body, model)

    def parse_with(self, parser: Callable[[type[M], bytes, str | None], M], model: type[M]) -> M:
        """The body through a family's own parser (DAS names the field at fault by its codes)."""
        return parser(model, self._body, self.request.headers.get("content-type"))


@asynccontextmanager
async def audited(request: Request, action: str) -> AsyncIterator[AuditedCall]:
    async with runtime_of(request).audit.kill_call(call_context(request), action) as record:
        yield AuditedCall(request, record)

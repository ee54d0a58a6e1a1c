"""The IAM-compatible endpoints: ``POST /v3/auth/tokens`` and ``GET /v3/projects`` (Keystone v3 shape)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field, StringConstraints
from starlette.responses import Response

from taurus_sessions.api import openapi
from taurus_sessions.api.errors import language_of
from taurus_sessions.api.models import RequestModel
from taurus_sessions.api.requests import authenticate, parse_body, read_body, runtime_of, source_ip
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.errors import ApiError, IamError
from taurus_sessions.inventory.models import Project
from taurus_sessions.services.iam import IssuedToken, PasswordAuth, domain_id

router = APIRouter(tags=["iam"])


class IamErrorDetail(BaseModel):
    code: int
    message: str
    title: str


class IamErrorBody(BaseModel):
    error: IamErrorDetail


def _keystone_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


IamText = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class KeystoneDomain(RequestModel):
    id: IamText | None = None
    name: IamText | None = None


class KeystoneUser(RequestModel):
    id: IamText | None = None
    name: IamText | None = None
    password: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    domain: KeystoneDomain | None = None


class KeystonePassword(RequestModel):
    user: KeystoneUser


class KeystoneIdentity(RequestModel):
    methods: list[str] = Field(examples=[["password"]])
    password: KeystonePassword


class KeystoneProject(RequestModel):
    id: IamText | None = None
    name: IamText | None = None
    domain: KeystoneDomain | None = None


class KeystoneScope(RequestModel):
    project: KeystoneProject


class KeystoneAuth(RequestModel):
    identity: KeystoneIdentity
    scope: KeystoneScope


class CreateTokenRequest(RequestModel):
    auth: KeystoneAuth

    def password_auth(self) -> PasswordAuth:
        identity, project = self.auth.identity, self.auth.scope.project
        if "password" not in identity.methods:
            raise IamError.bad_request("Only the password authentication method is supported.")
        user = identity.password.user
        domain_name = user.domain.name if user.domain else None
        if user.id is None and (user.name is None or domain_name is None):
            raise IamError.bad_request("Expecting to find user.id, or user.name with user.domain.name.")
        if project.id is None and project.name is None:
            raise IamError.bad_request("Expecting to find scope.project.id or scope.project.name.")
        return PasswordAuth(user.name, user.id, domain_name, user.password, project.id, project.name)


def parse_password_auth(body: bytes, content_type: str | None) -> PasswordAuth:
    try:
        request = parse_body(CreateTokenRequest, body, content_type)
    except ApiError as exc:
        # Keystone's shape, not the DBS one; the detail names the field, never echoes a value.
        raise IamError.bad_request(f"Invalid input for the request body: {exc.detail or 'empty'}") from exc
    return request.password_auth()


def _domain(name: str) -> dict[str, str]:
    return {"id": domain_id(name), "name": name}


def token_body(issued: IssuedToken, base_url: str) -> dict[str, Any]:
    project = issued.project
    return {
        "token": {
            "methods": list(issued.claims.methods),
            "expires_at": _keystone_time(issued.claims.expires_at),
            "issued_at": _keystone_time(issued.claims.issued_at),
            "user": {
                "id": issued.user.id,
                "name": issued.user.name,
                "domain": _domain(issued.user.domain_name),
                "password_expires_at": "",
            },
            "project": {"id": project.id, "name": project.name, "domain": _domain(project.domain_name)},
            "roles": [{"id": domain_id(f"role:{name}"), "name": name} for name in issued.roles],
            "catalog": [
                {
                    "type": "gaussdb",
                    "name": "gaussdb",
                    "id": domain_id("service:gaussdb"),
                    "endpoints": [
                        {
                            "id": domain_id(f"endpoint:{project.id}"),
                            "interface": "public",
                            "region": project.name,
                            "region_id": project.name,
                            "url": f"{base_url}/v3/{project.id}",
                        }
                    ],
                }
            ],
        }
    }


@router.post(
    "/v3/auth/tokens",
    operation_id="KeystoneCreateUserTokenByPassword",
    summary="Get a project-scoped token (password method)",
    status_code=201,
    responses={
        400: {"model": IamErrorBody},
        401: {"model": IamErrorBody},
        429: {"model": IamErrorBody, "description": "Too many attempts from this address or for this user."},
    },
    openapi_extra=openapi.body(CreateTokenRequest),
)
async def keystone_create_user_token_by_password(request: Request) -> Response:
    """The token comes back in the ``X-Subject-Token`` header; it lives 24 hours."""
    auth = parse_password_auth(await read_body(request), request.headers.get("content-type"))
    issued = await runtime_of(request).iam.create_token(auth, source_ip(request))
    base_url = str(request.base_url).rstrip("/")
    headers = {"X-Subject-Token": issued.token, "Cache-Control": "no-store"}  # a credential: never cached
    return JsonResponse(token_body(issued, base_url), status_code=201, headers=headers)


@router.delete(
    "/v3/auth/tokens",
    operation_id="KeystoneRevokeToken",
    summary="Sign a token out before it expires (X-Auth-Token: the caller; X-Subject-Token: the token)",
    status_code=204,
    responses={
        400: {"model": IamErrorBody},
        401: {"model": IamErrorBody},
        403: {"model": IamErrorBody},
        404: {"model": IamErrorBody},
    },
)
async def keystone_revoke_token(
    request: Request,
    x_subject_token: Annotated[str | None, Header(description="The token to revoke.")] = None,
) -> Response:
    """Keystone's revocation: the token is refused from now on, on every replica within
    TAURUS_REVOCATION_REFRESH_SECONDS. A user may revoke her own tokens."""
    if not x_subject_token:
        raise IamError.bad_request("X-Subject-Token is required.")
    try:
        caller = await authenticate(request)
    except ApiError as exc:
        raise IamError.unauthorized(exc.message(language_of(request))) from exc
    await runtime_of(request).iam.revoke_token(caller, x_subject_token.strip())
    return Response(status_code=204)


def project_body(project: Project, base_url: str) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "domain_id": domain_id(project.domain_name),
        "parent_id": domain_id(project.domain_name),
        "description": "",
        "enabled": True,
        "is_domain": False,
        "links": {"self": f"{base_url}/v3/projects/{project.id}"},
    }


@router.get(
    "/v3/projects",
    operation_id="KeystoneListProjects",
    summary="Projects the caller may use (the SDKs resolve a region name to a project id here)",
    responses={401: {"model": IamErrorBody}},
)
async def keystone_list_projects(request: Request, name: str | None = None) -> Response:
    try:
        caller = await authenticate(request, b"")
    except ApiError as exc:
        raise IamError.unauthorized(exc.message(language_of(request))) from exc
    projects = await runtime_of(request).iam.list_projects(caller, name)
    base_url = str(request.base_url).rstrip("/")
    return JsonResponse(
        {
            "projects": [project_body(project, base_url) for project in projects],
            "links": {"self": f"{base_url}/v3/projects", "previous": None, "next": None},
        }
    )

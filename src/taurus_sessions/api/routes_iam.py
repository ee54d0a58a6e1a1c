"""The IAM-compatible endpoints: ``POST /v3/auth/tokens`` and ``GET /v3/projects`` (Keystone v3 shape)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from taurus_sessions.api import schemas
from taurus_sessions.api.deps import authenticate, read_body, runtime_of
from taurus_sessions.api.errors import language_of
from taurus_sessions.api.parsing import json_object
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.errors import ApiError, IamError
from taurus_sessions.inventory.models import Project
from taurus_sessions.services.iam import IssuedToken, PasswordAuth, domain_id

router = APIRouter(tags=["iam"])


def _keystone_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _dig(document: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def _optional_str(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 255:
        raise IamError.bad_request(f"Invalid input for field '{what}'.")
    return value


def parse_password_auth(body: bytes, content_type: str | None) -> PasswordAuth:
    try:
        document = json_object(body, content_type)
    except ApiError as exc:
        raise IamError.bad_request("The request body is not a valid JSON object.") from exc
    methods = _dig(document, "auth", "identity", "methods")
    if not isinstance(methods, list) or "password" not in methods:
        raise IamError.bad_request("Only the password authentication method is supported.")
    user = _dig(document, "auth", "identity", "password", "user")
    if not isinstance(user, dict):
        raise IamError.bad_request("Expecting to find user in password.")
    password = user.get("password")
    if not isinstance(password, str) or not password:
        raise IamError.bad_request("Expecting to find password in user.")
    user_name = _optional_str(user.get("name"), "user.name")
    user_id = _optional_str(user.get("id"), "user.id")
    domain_name = _optional_str(_dig(user, "domain", "name"), "user.domain.name")
    if user_id is None and (user_name is None or domain_name is None):
        raise IamError.bad_request("Expecting to find user.id, or user.name with user.domain.name.")
    project = _dig(document, "auth", "scope", "project")
    if not isinstance(project, dict):
        raise IamError.bad_request("A project scope is required (auth.scope.project).")
    project_id = _optional_str(project.get("id"), "scope.project.id")
    project_name = _optional_str(project.get("name"), "scope.project.name")
    if project_id is None and project_name is None:
        raise IamError.bad_request("Expecting to find scope.project.id or scope.project.name.")
    return PasswordAuth(user_name, user_id, domain_name, password, project_id, project_name)


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
    responses={401: {"model": schemas.IamErrorBody}, 400: {"model": schemas.IamErrorBody}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schemas.CreateTokenRequest.model_json_schema()}},
        }
    },
)
async def keystone_create_user_token_by_password(request: Request) -> Response:
    """The token comes back in the ``X-Subject-Token`` header; it lives 24 hours."""
    auth = parse_password_auth(await read_body(request), request.headers.get("content-type"))
    issued = await runtime_of(request).iam.create_token(auth)
    base_url = str(request.base_url).rstrip("/")
    return JsonResponse(
        token_body(issued, base_url), status_code=201, headers={"X-Subject-Token": issued.token}
    )


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
    responses={401: {"model": schemas.IamErrorBody}},
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

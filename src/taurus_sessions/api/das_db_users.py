"""DAS's database users (contract Part G): RegisterDbUser, ListDbUsers, ShowDbUser, UpdateDbUser,
DeleteDbUser. A registration names an existing account of the instance; its password is checked by
logging in, kept sealed, and never returned."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, SecretStr, field_validator
from starlette.responses import Response

from taurus_sessions import ids
from taurus_sessions.api import openapi
from taurus_sessions.api.das_family import (
    DAS_PATH,
    DasInstanceId,
    DasRoute,
    DbUserId,
    check_db_user_id,
    instance_ref,
    parse_das_body,
)
from taurus_sessions.api.models import RequestModel
from taurus_sessions.api.openapi import ProjectId
from taurus_sessions.api.requests import authenticate, authenticated, read_body, runtime_of
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.auth.caller import Caller
from taurus_sessions.inventory.db_users import DbUserFilter
from taurus_sessions.inventory.models import DbUser
from taurus_sessions.services.das_db_users import InstanceRef

router = APIRouter(tags=["das"], route_class=DasRoute)

USERS = DAS_PATH + "/db-users"
ONE_USER = USERS + "/{db_user_id}"
MAX_OFFSET = 2**31 - 1

DbUsername = Annotated[str, Field(min_length=1, max_length=128, description="An existing account's name.")]
DbPassword = Annotated[SecretStr, Field(min_length=1, max_length=1024, description="Its password.")]


def _ref(project_id: str, instance_id: str) -> InstanceRef:
    return InstanceRef(*instance_ref(project_id, instance_id))


def user_body(user: DbUser) -> dict[str, str]:
    return {"db_user_id": user.id, "db_username": user.username}


class DbUserModel(BaseModel):
    db_user_id: str
    db_username: str


# -- RegisterDbUser -------------------------------------------------------------------------------
class RegisterDbUserRequestBody(RequestModel):
    db_username: DbUsername
    db_user_password: DbPassword
    datastore_type: str = Field(description="MySQL (any case): the only type DAS registers.")

    @field_validator("datastore_type")
    @classmethod
    def _mysql(cls, value: str) -> str:
        if value.lower() != "mysql":
            raise ValueError("only MySQL is supported")
        return value


class RegisterDbUserResponse(BaseModel):
    db_user_id: str = Field(description="A UUID; the other DAS operations take it.")


@router.post(
    USERS,
    operation_id="RegisterDbUser",
    summary="Register an existing database account for DAS's operations",
    response_model=RegisterDbUserResponse,
    responses=openapi.error_responses("DAS"),
    openapi_extra=openapi.body(RegisterDbUserRequestBody),
)
async def register_db_user(request: Request, project_id: ProjectId, instance_id: DasInstanceId) -> Response:
    """The account is checked by logging in to the instance's primary node with it (a refused
    login is DAS.220001); nothing is created on the database. The password is stored encrypted
    and never returned. A name registered already for the instance is DAS.290003 (our decision)."""
    body = await read_body(request)
    caller = await authenticate(request, body, project_id)
    ref = _ref(project_id, instance_id)
    parsed = parse_das_body(RegisterDbUserRequestBody, body, request.headers.get("content-type"))
    user = await runtime_of(request).db_users.register_db_user(
        caller, ref, parsed.db_username, parsed.db_user_password
    )
    return JsonResponse({"db_user_id": user.id})


# -- ListDbUsers ----------------------------------------------------------------------------------
class ListDbUsersQuery(BaseModel):
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET, description="Rows to skip.")
    limit: int = Field(default=100, ge=1, le=100, description="Rows to return, 1 to 100 (default 100).")
    db_user_id: str | None = Field(default=None, pattern=ids.DB_USER_ID_PATTERN, description="Only this id.")
    db_username: str | None = Field(
        default=None, min_length=1, max_length=128, description="Only this name (exact match, our decision)."
    )


class ListDbUsersResponse(BaseModel):
    total: int = Field(description="Registrations matching, before paging.")
    db_users: list[DbUserModel]


@router.get(
    USERS,
    operation_id="ListDbUsers",
    summary="List the database users registered for an instance",
    response_model=ListDbUsersResponse,
    responses=openapi.error_responses("DAS"),
)
async def list_db_users(
    request: Request,
    project_id: ProjectId,
    instance_id: DasInstanceId,
    caller: Annotated[Caller, Depends(authenticated)],
    query: Annotated[ListDbUsersQuery, Query()],
) -> Response:
    """Oldest registration first (our decision: a stable order makes offset paging usable)."""
    flt = DbUserFilter(query.db_user_id.lower() if query.db_user_id else None, query.db_username)
    page = await runtime_of(request).db_users.list_db_users(
        caller, _ref(project_id, instance_id), query.offset, query.limit, flt
    )
    return JsonResponse({"total": page.total, "db_users": [user_body(user) for user in page.users]})


# -- ShowDbUser -----------------------------------------------------------------------------------
class ShowDbUserResponse(BaseModel):
    db_user: DbUserModel


@router.get(
    ONE_USER,
    operation_id="ShowDbUser",
    summary="Show one registered database user",
    response_model=ShowDbUserResponse,
    responses=openapi.error_responses("DAS"),
)
async def show_db_user(
    request: Request,
    project_id: ProjectId,
    instance_id: DasInstanceId,
    db_user_id: DbUserId,
    caller: Annotated[Caller, Depends(authenticated)],
) -> Response:
    """A registration of another instance or project, or none, is DAS.220003."""
    user = await runtime_of(request).db_users.show_db_user(
        caller, _ref(project_id, instance_id), check_db_user_id(db_user_id)
    )
    return JsonResponse({"db_user": user_body(user)})


# -- UpdateDbUser ---------------------------------------------------------------------------------
class UpdateDbUserRequestBody(RequestModel):
    db_username: DbUsername
    db_user_password: DbPassword


class ResultResponse(BaseModel):
    result: str = Field(examples=["OK"])


@router.put(
    ONE_USER,
    operation_id="UpdateDbUser",
    summary="Change the account name and password of a registration",
    response_model=ResultResponse,
    responses=openapi.error_responses("DAS"),
    openapi_extra=openapi.body(UpdateDbUserRequestBody),
)
async def update_db_user(
    request: Request, project_id: ProjectId, instance_id: DasInstanceId, db_user_id: DbUserId
) -> Response:
    """Checked by logging in, as a registration is; the database account itself is not changed.
    Connections that logged in with the old credentials are closed."""
    body = await read_body(request)
    caller = await authenticate(request, body, project_id)
    ref = _ref(project_id, instance_id)
    user_id = check_db_user_id(db_user_id)
    parsed = parse_das_body(UpdateDbUserRequestBody, body, request.headers.get("content-type"))
    await runtime_of(request).db_users.update_db_user(
        caller, ref, user_id, parsed.db_username, parsed.db_user_password
    )
    return JsonResponse({"result": "OK"})


# -- DeleteDbUser ---------------------------------------------------------------------------------
@router.delete(
    ONE_USER,
    operation_id="DeleteDbUser",
    summary="Remove a registration (the database account stays)",
    response_model=ResultResponse,
    responses=openapi.error_responses("DAS"),
)
async def delete_db_user(
    request: Request,
    project_id: ProjectId,
    instance_id: DasInstanceId,
    db_user_id: DbUserId,
    caller: Annotated[Caller, Depends(authenticated)],
) -> Response:
    """Connections that logged in as the registration are closed."""
    await runtime_of(request).db_users.delete_db_user(
        caller, _ref(project_id, instance_id), check_db_user_id(db_user_id)
    )
    return JsonResponse({"result": "OK"})

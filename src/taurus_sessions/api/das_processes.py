"""DAS's sessions (contract Part G): ListProcesses and DeleteProcess, run on the node as the
registered database account (so the database's privileges decide what is seen and killed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from taurus_sessions import ids
from taurus_sessions.api import openapi
from taurus_sessions.api.das_family import (
    DAS_PATH,
    DasInstanceId,
    DasRoute,
    check_db_user_id,
    das_errors,
    instance_ref,
    parse_das_body,
)
from taurus_sessions.api.models import RequestModel
from taurus_sessions.api.openapi import ProjectId
from taurus_sessions.api.requests import audited, authenticated, runtime_of
from taurus_sessions.api.responses import JsonResponse
from taurus_sessions.auth.caller import Caller
from taurus_sessions.das_domain import DasProcess, DasProcessQuery
from taurus_sessions.errors import DasParameterError
from taurus_sessions.services.das_sessions import DasKill

router = APIRouter(tags=["das"], route_class=DasRoute)

MAX_OFFSET = 2**31 - 1
NO_DATABASE = "--"  # what DAS shows for a session with no current database (its own example)

DbUserIdQuery = Annotated[str, Field(pattern=ids.DB_USER_ID_PATTERN, description="The registered user's id.")]
AccountName = Annotated[str, Field(min_length=1, max_length=128)]
DatabaseName = Annotated[str, Field(min_length=1, max_length=64)]
ProcessId = Annotated[
    str, Field(pattern="^[0-9]{1,19}$", description="A session id, as ListProcesses gives it.")
]


class DasProcessModel(BaseModel):
    """A session, every value a string as DAS sends it."""

    id: str
    user: str
    host: str
    database: str = Field(description='The current database, "--" when there is none.')
    command: str
    time: str = Field(description="Seconds in the current state.")
    state: str
    sql: str = Field(description="The running statement, empty when none.")
    trx_executed_time: str = Field(
        description='Seconds the session\'s transaction has been open, "0" when none (and when the '
        "account may not read InnoDB's transactions: that needs PROCESS)."
    )


def process_body(entry: DasProcess) -> dict[str, str]:
    process = entry.process
    return {
        "id": str(process.id),
        "user": process.user,
        "host": process.host,
        "database": process.db if process.db is not None else NO_DATABASE,
        "command": process.command,
        "time": str(process.time),
        "state": process.state or "",
        "sql": process.info or "",
        "trx_executed_time": str(entry.trx_seconds or 0),
    }


# -- ListProcesses --------------------------------------------------------------------------------
class ListProcessesQuery(BaseModel):
    db_user_id: DbUserIdQuery
    user: AccountName | None = Field(default=None, description="Only this account's sessions (exact).")
    database: DatabaseName | None = Field(default=None, description="Only sessions in this database (exact).")
    node_id: str | None = Field(
        default=None, pattern=ids.NODE_ID_PATTERN, description="The node to read; default the primary."
    )
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET, description="Rows to skip.")
    limit: int = Field(default=20, ge=1, le=100, description="Rows to return, 1 to 100 (default 20).")


class ListProcessesResponse(BaseModel):
    processes: list[DasProcessModel]
    count: int = Field(description="Sessions matching, before paging.")


@router.get(
    DAS_PATH + "/processes",
    operation_id="ListProcesses",
    summary="List an instance's sessions as a registered database user",
    response_model=ListProcessesResponse,
    responses=openapi.error_responses("DAS"),
)
async def list_processes(
    request: Request,
    project_id: ProjectId,
    instance_id: DasInstanceId,
    caller: Annotated[Caller, Depends(authenticated)],
    query: Annotated[ListProcessesQuery, Query()],
) -> Response:
    """What the node's processlist shows to the registered account — every session if it holds
    PROCESS, only its own otherwise — by id ascending, without the service's own connection.

    Our decisions where DAS is silent: ``user`` and ``database`` are optional and exact; internal
    threads (system accounts, server threads) are listed when the account can see them, as DAS's
    own example lists event_scheduler, but DeleteProcess never kills them; ``count`` is the number
    of matching sessions before paging; the order is by id (stable paging)."""
    page = await runtime_of(request).das_sessions.list_processes(
        caller,
        instance_ref(project_id, instance_id),
        check_db_user_id(query.db_user_id),
        query.node_id,
        DasProcessQuery(query.user, query.database, query.offset, query.limit),
    )
    return JsonResponse({"processes": [process_body(p) for p in page.processes], "count": page.count})


# -- DeleteProcess --------------------------------------------------------------------------------
class DeleteProcessReqBody(RequestModel):
    db_user_id: DbUserIdQuery
    process_ids: list[ProcessId] | None = Field(
        default=None, description="Sessions to kill (strings of digits, at most TAURUS_KILL_MAX_VICTIMS)."
    )
    user: AccountName | None = Field(default=None, description="Kill this account's sessions.")
    database: DatabaseName | None = Field(default=None, description="Kill the sessions in this database.")


class DeleteProcessResponse(BaseModel):
    """DAS answers a kill with an empty object."""


@router.delete(
    DAS_PATH + "/process",
    operation_id="DeleteProcess",
    summary="Kill sessions as a registered database user",
    response_model=DeleteProcessResponse,
    responses=openapi.error_responses("DAS"),
    openapi_extra=openapi.body(DeleteProcessReqBody),
)
async def delete_process(request: Request, project_id: ProjectId, instance_id: DasInstanceId) -> Response:
    """``KILL CONNECTION`` as the registered account, on the instance's primary, for every session
    that matches all the criteria given: ``process_ids`` AND ``user`` AND ``database`` (at least one;
    combining them with AND is our decision — it never kills more than each criterion alone would).
    Internal threads are never killed; ids that match no session are skipped; the node refuses the
    KILLs the account may not make (without PROCESS it sees, and so kills, only its own sessions).
    Every call is audited like every other kill, naming the caller and the database user; the
    per-session outcomes are in the audit trail (DAS's answer is an empty object)."""
    runtime = runtime_of(request)
    async with audited(request, "dasDeleteProcess") as call:
        with das_errors():
            caller = await call.authenticate(project_id)
            ref = instance_ref(project_id, instance_id)
            call.record.project_id, call.record.instance_id = ref
            body = call.parse_with(parse_das_body, DeleteProcessReqBody)
            kill = _kill(body, runtime.settings.kill_max_victims)
            await runtime.das_sessions.delete_process(caller, ref, kill, call.record)
    return JsonResponse({})


def _kill(body: DeleteProcessReqBody, cap: int) -> DasKill:
    if not body.process_ids and body.user is None and body.database is None:
        raise DasParameterError("give at least one of process_ids, user and database")
    ids_given = body.process_ids or []
    if len(ids_given) > cap:
        raise DasParameterError(f"process_ids: at most {cap} ids")
    as_ints = [int(text) for text in ids_given]
    if any(value > ids.MAX_THREAD_ID for value in as_ints):
        raise DasParameterError("process_ids: a session id is at most 2^63-1")
    return DasKill(check_db_user_id(body.db_user_id), as_ints, body.user, body.database)

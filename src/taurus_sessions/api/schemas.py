"""Models that describe the wire format in the OpenAPI document.

Requests are parsed by ``api/parsing.py`` (the catalogue decides the error codes, not the
framework) and responses are written directly; these models are the published contract.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from taurus_sessions.ids import MAX_THREAD_ID


class ErrorBody(BaseModel):
    error_code: str = Field(examples=["DBS.200001"])
    error_msg: str = Field(examples=["Parameter error."])


class IamErrorDetail(BaseModel):
    code: int
    message: str
    title: str


class IamErrorBody(BaseModel):
    error: IamErrorDetail


class ProcessModel(BaseModel):
    id: int = Field(description="Thread (connection) id, the one KILL takes.")
    user: str = Field(description="Account that opened the session.")
    host: str = Field(description="Client host:port.")
    db: str | None = Field(description="Current database.")
    command: str = Field(description="Current command (Query, Sleep, ...).")
    time: int = Field(ge=0, description="Seconds in the current state.")
    state: str | None = Field(description="State of the running statement.")
    info: str | None = Field(description="The running statement, untruncated.")


class StatsModel(BaseModel):
    user: dict[str, int]
    host: dict[str, int] = Field(description="Per client machine (the port is dropped).")
    db: dict[str, int] = Field(description="The empty key counts sessions with no database.")
    command: dict[str, int]


class ListProcessesResponse(BaseModel):
    processes: list[ProcessModel]
    total_count: int = Field(description="User sessions (matching the filter, if any) in the snapshot.")
    stats: StatsModel | None = Field(default=None, description="Only with stats=true (extension).")


class DeleteProcessesRequest(BaseModel):
    processes: list[int] = Field(
        min_length=1,
        max_length=20,
        description="Thread ids to kill (0 to 2^63-1). Unknown keys are ignored.",
        json_schema_extra={
            "items": {"type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_THREAD_ID}
        },
    )


class DeleteProcessesResponse(BaseModel):
    processes_killed: list[int]
    processes_not_found: list[int] = Field(
        description="No such thread, an internal thread, or a KILL the node refused."
    )


ERRORS_400_500: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "DBS.200001, DBS.200006 or DBS.280404"},
    401: {"model": ErrorBody, "description": "APIGW.0301, APIGW.0303 or APIGW.0307"},
    403: {"model": ErrorBody, "description": "DBS.200010"},
    404: {"model": ErrorBody, "description": "DBS.200002, DBS.200013 or APIGW.0101"},
    413: {"model": ErrorBody, "description": "APIGW.0201"},
    429: {"model": ErrorBody, "description": "APIGW.0308"},
    500: {"model": ErrorBody, "description": "DBS.200005 or DBS.108000"},
}


class KeystoneDomain(BaseModel):
    id: str | None = None
    name: str | None = None


class KeystoneUser(BaseModel):
    id: str | None = None
    name: str | None = None
    password: str
    domain: KeystoneDomain | None = None


class KeystonePassword(BaseModel):
    user: KeystoneUser


class KeystoneIdentity(BaseModel):
    methods: list[str] = Field(examples=[["password"]])
    password: KeystonePassword


class KeystoneProject(BaseModel):
    id: str | None = None
    name: str | None = None
    domain: KeystoneDomain | None = None


class KeystoneScope(BaseModel):
    project: KeystoneProject


class KeystoneAuth(BaseModel):
    identity: KeystoneIdentity
    scope: KeystoneScope


class CreateTokenRequest(BaseModel):
    auth: KeystoneAuth

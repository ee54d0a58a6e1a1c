"""Wire shapes shared by several resources (errors, a session row, kill reports). A resource's own
request and response models live in its module, beside its routes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from taurus_sessions.domain import ThreadFilter
from taurus_sessions.ids import MAX_THREAD_ID

Mode = Literal["connection", "query"]
Victims = Literal["all", "oldest", "all-but-oldest"]
OutcomeName = Literal["killed", "not_found", "internal", "denied", "changed", "would_kill"]
ThreadId = Annotated[int, Field(ge=0, le=MAX_THREAD_ID, json_schema_extra={"format": "int64"})]
# The last instant a datetime holds (9999-12-31T23:59:59.999Z): a later time in milliseconds cannot
# be read, so it is a parameter error, not a server failure (the fuzzer found one).
MAX_EPOCH_MS = 253402300799999


def _has_criterion(flt: ThreadFilter) -> ThreadFilter:
    # Killing "everything" must be spelled out: at least one criterion, as pt-kill requires.
    if flt.is_empty:
        raise ValueError("filter needs at least one criterion")
    return flt


CriteriaFilter = Annotated[
    ThreadFilter, AfterValidator(_has_criterion), Field(description="At least one criterion.")
]


class RequestModel(BaseModel):
    """Request bodies: unknown keys are ignored (as Huawei's API does), everything else is checked."""

    model_config = ConfigDict(extra="ignore")


class ErrorBody(BaseModel):
    error_code: str = Field(examples=["DBS.200001"])
    error_msg: str = Field(examples=["Parameter error."])


class ProcessModel(BaseModel):
    id: int = Field(description="Thread (connection) id, the one KILL takes.")
    user: str = Field(description="Account that opened the session.")
    host: str = Field(description="Client host:port.")
    db: str | None = Field(description="Current database.")
    command: str = Field(description="Current command (Query, Sleep, ...).")
    time: int = Field(ge=0, description="Seconds in the current state.")
    state: str | None = Field(description="State of the running statement.")
    info: str | None = Field(description="The running statement, untruncated.")


class VerdictModel(BaseModel):
    id: int
    outcome: OutcomeName
    process: ProcessModel | None = Field(default=None, description="What the thread was when decided.")
    changed: list[str] | None = Field(default=None, description="Guarded fields that no longer match.")


class KillReportModel(BaseModel):
    mode: Mode
    dry_run: bool
    results: list[VerdictModel]
    summary: dict[str, int]
    matched: int | None = Field(default=None, description="Kill by filter: sessions matching the filter.")

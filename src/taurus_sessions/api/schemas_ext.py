"""OpenAPI models of the extension endpoints (documentation; parsing is in ``parsing_ext.py``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from taurus_sessions.api.schemas import ProcessModel

Mode = Literal["connection", "query"]
OutcomeName = Literal["killed", "not_found", "internal", "denied", "changed", "would_kill"]


class FilterModel(BaseModel):
    """Text fields match exactly, with ``*`` (any run) and ``?`` (one character) as wildcards;
    ``user`` and ``db`` are case-sensitive, the others not; ``info`` matches a substring."""

    user: str | None = None
    host: str | None = Field(default=None, description="Client host:port, e.g. 10.0.3.* or *:5123?")
    db: str | None = None
    command: str | None = Field(default=None, examples=["Query", "Sleep"])
    state: str | None = None
    info: str | None = Field(default=None, description="Substring of the running statement.")
    min_time: int | None = Field(
        default=None, ge=0, description="At least this many seconds in the current state."
    )
    idle_in_trx: bool = Field(default=False, description="Sleeping with an open InnoDB transaction.")


class ExpectedProcess(BaseModel):
    """Identity guard: the id is killed only if the node still shows these values."""

    id: int = Field(ge=0)
    user: str | None = None
    host: str | None = None
    db: str | None = None
    command: str | None = None
    info: str | None = Field(default=None, description="The statement the caller saw, exactly.")


class KillRequestModel(BaseModel):
    processes: list[int | ExpectedProcess] = Field(
        min_length=1, description="Ids, or objects with an id and what the caller expects the thread to be."
    )
    mode: Mode = Field(
        default="connection", description="connection: end the session; query: only its statement."
    )
    dry_run: bool = Field(default=False, description="Decide, but kill nothing (needs only the list right).")


class KillByFilterRequestModel(BaseModel):
    filter: FilterModel = Field(description="At least one criterion.")
    mode: Mode = "connection"
    victims: Literal["all", "oldest", "all-but-oldest"] = "all"
    max_victims: int | None = Field(
        default=None, ge=1, description="Cap; default and maximum set by the operator."
    )
    dry_run: bool = False


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


class KillTaskRequestModel(BaseModel):
    name: str | None = Field(default=None, max_length=64)
    filter: FilterModel = Field(description="At least one criterion.")
    mode: Mode = "connection"
    victims: Literal["all", "oldest", "all-but-oldest"] = "all"
    interval_seconds: int = Field(default=5, ge=1, le=3600)
    duration_seconds: int | None = Field(
        default=600, ge=1, le=30 * 24 * 3600, description="null: until stopped."
    )
    max_victims_per_pass: int = Field(default=100, ge=1)

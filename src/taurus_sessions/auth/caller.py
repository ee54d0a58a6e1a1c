"""Who is calling, and the transport-neutral view of a request that authentication needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: str
    user_name: str
    domain_name: str
    method: str  # "token", "aksk", or "task" (a kill task acting for its creator)
    # A token is scoped to one project; an access key acts for its user in any project.
    token_project_id: str | None = None
    access_key: str | None = None

    @property
    def display_name(self) -> str:
        return f"{self.domain_name}/{self.user_name}"


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """What the API layer hands to authentication: no framework types cross this line."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""
    host: str = ""
    path_project_id: str | None = None
    source_ip: str | None = None
    raw_path: str = ""  # the path exactly as sent (percent-encoding kept), what a signature covers
    repeated_headers: frozenset[str] = frozenset()  # lower-case names sent more than once

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

"""The service's API as the benchmark calls it: a token, then prepared requests on one connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from bench.http1 import HttpConnection, Response


class ApiError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class NodePath:
    project_id: str
    instance_id: str
    node_id: str

    @property
    def processes(self) -> str:
        return f"/v3/{self.project_id}/instances/{self.instance_id}/nodes/{self.node_id}/processes"

    def list_page(self, offset: int = 0, limit: int = 100) -> str:
        return f"{self.processes}?offset={offset}&limit={limit}"


def token_body(user: str, password: str, domain: str, project_name: str) -> bytes:
    return orjson.dumps(
        {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"name": user, "password": password, "domain": {"name": domain}}},
                },
                "scope": {"project": {"name": project_name}},
            }
        }
    )


async def issue_token(conn: HttpConnection, user: str, password: str, domain: str, project_name: str) -> str:
    response = await conn.request(
        "POST",
        "/v3/auth/tokens",
        {"Content-Type": "application/json"},
        token_body(user, password, domain, project_name),
    )
    if response.status != 201 or "x-subject-token" not in response.headers:
        raise ApiError(f"token refused: {response.status} {response.body[:300]!r}")
    return response.headers["x-subject-token"]


class Requests:
    """Prepared request bytes for one node, carrying the token."""

    def __init__(self, conn: HttpConnection, token: str) -> None:
        self.conn = conn
        self.token = token

    def list_page(self, node: NodePath, limit: int = 100) -> bytes:
        return self.conn.prepare("GET", node.list_page(0, limit), {"X-Auth-Token": self.token})

    def delete(self, node: NodePath, ids: list[int]) -> bytes:
        return self.conn.prepare(
            "DELETE",
            node.processes,
            {"X-Auth-Token": self.token, "Content-Type": "application/json"},
            orjson.dumps({"processes": ids}),
        )

    def kill_by_filter(self, node: NodePath, user: str, max_victims: int) -> bytes:
        body = {"filter": {"user": user}, "victims": "all", "max_victims": max_victims}
        return self.conn.prepare(
            "POST",
            node.processes + "/kill-by-filter",
            {"X-Auth-Token": self.token, "Content-Type": "application/json"},
            orjson.dumps(body),
        )


def expect_ok(response: Response, what: str) -> dict[str, Any]:
    if response.status != 200:
        raise ApiError(f"{what}: HTTP {response.status} {response.body[:500]!r}")
    document = response.json()
    if not isinstance(document, dict):
        raise ApiError(f"{what}: unexpected body {response.body[:200]!r}")
    return document

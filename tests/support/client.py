"""A thin HTTP client for the API (httpx), with token helpers: over real sockets, or through a
transport straight into the app (support/inprocess.py)."""

from __future__ import annotations

from typing import Any

import httpx


def token_body(
    user: str, password: str, domain: str, *, project_name: str | None = None, project_id: str | None = None
) -> dict[str, Any]:
    project: dict[str, Any] = {"id": project_id} if project_id else {"name": project_name}
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "password": password, "domain": {"name": domain}}},
            },
            "scope": {"project": project},
        }
    }


Processes = list[dict[str, Any]]  # as the list call returns them (its JSON)


class Api:
    def __init__(self, base_url: str, transport: httpx.BaseTransport | None = None) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30.0, transport=transport)

    def close(self) -> None:
        self.http.close()

    def token(self, user: str, password: str, domain: str, **scope: str) -> str:
        response = self.http.post("/v3/auth/tokens", json=token_body(user, password, domain, **scope))
        assert response.status_code == 201, response.text
        return response.headers["X-Subject-Token"]

    @staticmethod
    def processes_path(project_id: str, instance_id: str, node_id: str) -> str:
        return f"/v3/{project_id}/instances/{instance_id}/nodes/{node_id}/processes"

    def list(
        self, token: str | None, path: str, language: str | None = None, **params: Any
    ) -> httpx.Response:
        headers = {"X-Auth-Token": token} if token else {}
        if language:
            headers["X-Language"] = language
        return self.http.get(path, params=params, headers=headers)

    def kill(
        self,
        token: str | None,
        path: str,
        ids: Any = None,
        *,
        body: bytes | None = None,
        content_type: str | None = "application/json",
        language: str | None = None,
    ) -> httpx.Response:
        headers: dict[str, str] = {}
        if token:
            headers["X-Auth-Token"] = token
        if content_type:
            headers["Content-Type"] = content_type
        if language:
            headers["X-Language"] = language
        content = body if body is not None else httpx.Request("POST", "/", json={"processes": ids}).content
        return self.http.request("DELETE", path, content=content, headers=headers)

    def all_processes(self, token: str, path: str) -> Processes:
        collected: Processes = []
        offset = 0
        while True:
            page = self.list(token, path, offset=offset, limit=100).json()
            collected.extend(page["processes"])
            offset += 100
            if offset >= page["total_count"]:
                return collected

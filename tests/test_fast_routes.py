"""The hot operations' lean path (``api/fast_routes.py``) answers exactly as the routes do.

Each pair below sends the same call twice: as official clients send it (the lean path takes it) and
with something only the route takes (an extension parameter at its default for the list, a query
string the route ignores for the DELETE). Status, error code, message and body must agree, in
either language, and both count under the same operation in the metrics.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import World, open_app_sessions
from support.personas import ADMIN, OUTSIDER, READONLY
from support.sessions import Sessions
from test_operations import scrape, value

ROUTE_ONLY = {"sort": "id"}  # the default sort: the same answer, from the route


def _list(world: World, token: str | None, path: str, language: str | None, **params: Any) -> httpx.Response:
    return world.api.list(token, path, language=language, **params)


def _comparable(response: httpx.Response) -> tuple[int, Any]:
    body = response.json()
    if isinstance(body, dict) and "processes" in body:
        # Seconds in state may tick between the two calls; everything else must be equal.
        body = {**body, "processes": [{**p, "time": None} for p in body["processes"]]}
    return response.status_code, body


@pytest.mark.parametrize("language", [None, "zh-cn"])
def test_the_list_answers_as_its_route(world: World, sessions: Sessions, language: str | None) -> None:
    open_app_sessions(world.sandbox, sessions, 3)
    path = world.path()
    other = world.path(registration=world.other)
    bad_instance = path.replace(world.main.instance_id, "not-an-instance")
    unknown_node = path.replace(world.main.primary.node_id, "0" * 32 + "no07")
    cases: list[tuple[str | None, str, dict[str, Any]]] = [
        (world.token(ADMIN), path, {}),
        (world.token(ADMIN), path, {"offset": 1, "limit": 2}),
        (world.token(READONLY), path, {"limit": 100}),
        (None, path, {}),
        ("not-a-token", path, {}),
        (world.token(OUTSIDER), path, {}),
        (world.token(ADMIN), other, {}),
        (world.token(ADMIN), bad_instance, {}),
        (world.token(ADMIN), unknown_node, {}),
    ]
    for token, where, params in cases:
        lean = _list(world, token, where, language, **params)
        routed = _list(world, token, where, language, **params, **ROUTE_ONLY)
        assert _comparable(lean) == _comparable(routed), (where, params)
        assert lean.headers["content-type"] == routed.headers["content-type"]
        assert {"x-request-id", "x-frame-options", "content-security-policy"} <= lean.headers.keys()


def test_the_delete_answers_as_its_route(world: World, sessions: Sessions) -> None:
    path = world.path()
    other = world.path(registration=world.other)

    def both(token: str | None, where: str, body: bytes, content_type: str = "application/json") -> None:
        headers = {"Content-Type": content_type, **({"X-Auth-Token": token} if token else {})}
        lean = world.api.http.request("DELETE", where, content=body, headers=headers)
        routed = world.api.http.request("DELETE", where + "?via=route", content=body, headers=headers)
        assert (lean.status_code, lean.json()) == (routed.status_code, routed.json()), (where, body)

    both(None, path, b'{"processes": [1]}')
    both("not-a-token", path, b'{"processes": [1]}')
    both(world.token(READONLY), path, b'{"processes": [1]}')
    both(world.token(ADMIN), other, b'{"processes": [1]}')
    both(world.token(ADMIN), path, b"")
    both(world.token(ADMIN), path, b"{not json")
    both(world.token(ADMIN), path, b'{"processes": []}')
    both(world.token(ADMIN), path, b'{"processes": ["1"]}')
    both(world.token(ADMIN), path, b'{"processes": [1]}', content_type="text/plain")
    both(world.token(ADMIN), path.replace(world.main.instance_id, "x"), b'{"processes": [1]}')
    both(world.token(ADMIN), path, b'{"processes": [0]}')  # no such thread: not found on both

    # and a real kill on each path, answered alike
    victims = open_app_sessions(world.sandbox, sessions, 2)
    token = world.token(ADMIN)
    lean = world.api.kill(token, path, [victims[0].id])
    routed = world.api.http.request(
        "DELETE",
        path + "?via=route",
        json={"processes": [victims[1].id]},
        headers={"X-Auth-Token": token},
    )
    assert lean.json() == {"processes_killed": [victims[0].id], "processes_not_found": []}
    assert routed.json() == {"processes_killed": [victims[1].id], "processes_not_found": []}


def test_both_paths_count_under_the_operation(world: World) -> None:
    url = world.service.url
    before, _ = scrape(url)
    token = world.token(ADMIN)
    assert world.api.list(token, world.path()).status_code == 200
    assert world.api.list(token, world.path(), **ROUTE_ONLY).status_code == 200
    after, _ = scrape(url)
    name = "taurus_http_requests_total"
    labels = {"operation": "ListTaurusDbNodeProcesses", "code": "200"}
    assert value(after, name, **labels) - value(before, name, **labels) == 2

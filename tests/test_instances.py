"""Instances, nodes and permissions as the console (or any client) discovers them."""

from __future__ import annotations

from typing import Any

from conftest import World
from support.personas import ADMIN, AUDITOR, OUTSIDER, READONLY, Persona
from taurus_sessions.ids import new_instance_id


def _get(world: World, path: str, who: Persona = ADMIN) -> dict[str, Any]:
    response = world.api.http.get(path, headers={"X-Auth-Token": world.token(who)})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_list_and_show_instances_with_node_roles(world: World) -> None:
    listed = _get(world, f"/v3/{world.main.project_id}/instances")
    assert listed["total_count"] == 1
    (instance,) = listed["instances"]
    assert instance["id"] == world.main.instance_id and instance["node_count"] >= 2
    shown = _get(world, f"/v3/{world.main.project_id}/instances/{world.main.instance_id}")["instance"]
    types = {n["id"]: (n["type"], n["role"]) for n in shown["nodes"]}
    assert types[world.main.primary.node_id] == ("master", "master")
    assert types[world.main.replica.node_id] == ("slave", "readreplica")
    assert all("password" not in str(n) for n in shown["nodes"])


def test_instances_are_per_project(world: World) -> None:
    other = world.api.http.get(
        f"/v3/{world.main.project_id}/instances/{world.other.instance_id}",
        headers={"X-Auth-Token": world.token(ADMIN)},
    )
    assert other.status_code == 404 and other.json()["error_code"] == "DBS.200002"
    missing = world.api.http.get(
        f"/v3/{world.main.project_id}/instances/{new_instance_id()}",
        headers={"X-Auth-Token": world.token(ADMIN)},
    )
    assert missing.status_code == 404
    foreign = world.api.http.get(
        f"/v3/{world.main.project_id}/instances", headers={"X-Auth-Token": world.token(OUTSIDER)}
    )
    assert foreign.status_code == 403


def test_permissions_per_role(world: World) -> None:
    admin = _get(world, f"/v3/{world.main.project_id}/permissions")["actions"]
    reader = _get(world, f"/v3/{world.main.project_id}/permissions", READONLY)["actions"]
    auditor = _get(world, f"/v3/{world.main.project_id}/permissions", AUDITOR)["actions"]
    assert all(admin.values())
    assert reader["gaussdb:instance:listProcesses"] and not reader["gaussdb:instance:deleteProcesses"]
    assert auditor["gaussdb:audit:list"] and not auditor["gaussdb:instance:listProcesses"]


def test_console_is_served_from_the_package(world: World) -> None:
    redirect = world.api.http.get("/console")
    assert redirect.status_code == 307 and redirect.headers["location"] == "/console/"
    page = world.api.http.get("/console/")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert 'type="module"' in page.text and "http" not in page.text.split("<body", 1)[0].replace(
        "http-equiv", ""
    )
    module = world.api.http.get("/console/static/js/main.js")
    assert module.status_code == 200 and module.headers["cache-control"] == "no-cache"
    assert "javascript" in module.headers["content-type"]
    missing = world.api.http.get("/console/static/nope.js")
    assert missing.status_code == 404 and missing.json()["error_code"] == "APIGW.0101"

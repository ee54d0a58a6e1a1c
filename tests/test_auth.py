"""POST /v3/auth/tokens and token checking: Keystone shape, IAM errors, roles, disabling, rotation."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from conftest import World
from support.client import token_body
from support.inprocess import InProcessWorld
from support.personas import ADMIN, DOMAIN, MAIN_PROJECT, OUTSIDER, PASSWORD, READONLY
from taurus_sessions.auth.tokens import generate_key


def _create(world: World, body: object) -> httpx.Response:
    return world.api.http.post("/v3/auth/tokens", json=body)


def test_token_by_project_name_in_keystone_shape(world: World) -> None:
    response = _create(world, token_body(ADMIN.name, PASSWORD, DOMAIN, project_name=world.main.project_name))

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    token = response.headers["X-Subject-Token"]
    assert len(token) > 100
    body = response.json()["token"]
    assert body["methods"] == ["password"]
    issued = datetime.fromisoformat(body["issued_at"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert (expires - issued).total_seconds() == 24 * 3600
    assert body["user"]["name"] == ADMIN.name and body["user"]["domain"]["name"] == DOMAIN
    assert body["project"] == {
        "id": world.main.project_id,
        "name": world.main.project_name,
        "domain": body["project"]["domain"],
    }
    assert [r["name"] for r in body["roles"]] == ["admin"]
    endpoint = body["catalog"][0]["endpoints"][0]["url"]
    assert endpoint.endswith(f"/v3/{world.main.project_id}")
    assert world.api.list(token, world.path()).status_code == 200


def test_token_by_project_id(world: World) -> None:
    response = _create(world, token_body(READONLY.name, PASSWORD, DOMAIN, project_id=world.main.project_id))
    assert response.status_code == 201
    assert response.json()["token"]["roles"] == [
        {"id": response.json()["token"]["roles"][0]["id"], "name": "readonly"}
    ]


@pytest.mark.parametrize(
    "body",
    [
        token_body(ADMIN.name, "wrong password", DOMAIN, project_name=MAIN_PROJECT),
        token_body("nobody", PASSWORD, DOMAIN, project_name=MAIN_PROJECT),
        token_body(ADMIN.name, PASSWORD, "other-domain", project_name=MAIN_PROJECT),
    ],
    ids=["wrong password", "unknown user", "wrong domain"],
)
def test_wrong_credentials_get_one_iam_answer(world: World, body: object) -> None:
    response = _create(world, body)
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": 401, "message": "The username or password is wrong.", "title": "Unauthorized"}
    }
    assert "X-Subject-Token" not in response.headers


def test_no_role_in_the_project_means_no_token(world: World) -> None:
    # the outsider holds a role only in the other project
    response = _create(
        world, token_body(OUTSIDER.name, PASSWORD, DOMAIN, project_name=world.main.project_name)
    )
    assert response.status_code == 401
    assert response.json()["error"]["title"] == "Unauthorized"
    unknown = _create(world, token_body(ADMIN.name, PASSWORD, DOMAIN, project_name="no-such-project"))
    assert unknown.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"auth": {}}',
        b'{"auth": {"identity": {"methods": ["token"], "password": {}}}}',
        b'{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "a",'
        b' "password": "p"}}}, "scope": {"project": {"name": "x"}}}}',
        b'{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "a",'
        b' "password": "p", "domain": {"name": "d"}}}}}}',
    ],
    ids=["not json", "array", "no identity", "token method", "no domain", "no scope"],
)
def test_malformed_token_requests_are_iam_400s(world: World, body: bytes) -> None:
    response = world.api.http.post(
        "/v3/auth/tokens", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400 and error["title"] == "Bad Request" and error["message"]


def test_disabled_user_loses_tokens_and_access(world: World) -> None:
    created = world.service.cli(
        "user", "create", "dora", "--domain", DOMAIN, "--password-env", "DORA_PW", env={"DORA_PW": PASSWORD}
    )
    assert created.returncode == 0, created.stderr
    assert (
        world.service.cli(
            "role", "grant", "dora", "--domain", DOMAIN, "--project", MAIN_PROJECT, "--role", "readonly"
        ).returncode
        == 0
    )
    token = world.api.token("dora", PASSWORD, DOMAIN, project_name=MAIN_PROJECT)
    assert world.api.list(token, world.path()).status_code == 200

    assert world.service.cli("user", "disable", "dora", "--domain", DOMAIN).returncode == 0

    refused = world.api.list(token, world.path())
    assert refused.status_code == 401 and refused.json()["error_code"] == "APIGW.0301"
    assert _create(world, token_body("dora", PASSWORD, DOMAIN, project_name=MAIN_PROJECT)).status_code == 401

    # enabling the user again does not bring back the tokens issued before the disable
    assert world.service.cli("user", "enable", "dora", "--domain", DOMAIN).returncode == 0
    stale = world.api.list(token, world.path())
    assert stale.status_code == 401 and stale.json()["error_code"] == "APIGW.0307"
    fresh = world.api.token("dora", PASSWORD, DOMAIN, project_name="cn-north-4")
    assert world.api.list(fresh, world.path()).status_code == 200


def test_revoked_role_takes_effect(world: World) -> None:
    cli = world.service.cli
    assert (
        cli(
            "user", "create", "remy", "--domain", DOMAIN, "--password-stdin", stdin=PASSWORD + "\n"
        ).returncode
        == 0
    )
    assert cli("role", "grant", "remy", "--project", MAIN_PROJECT, "--role", "operator").returncode == 0
    token = world.api.token("remy", PASSWORD, DOMAIN, project_name=MAIN_PROJECT)
    assert world.api.kill(token, world.path(), [123456789]).status_code == 200
    assert cli("role", "revoke", "remy", "--project", MAIN_PROJECT, "--role", "operator").returncode == 0
    assert cli("role", "grant", "remy", "--project", MAIN_PROJECT, "--role", "readonly").returncode == 0
    assert world.api.kill(token, world.path(), [123456789]).status_code == 403
    assert world.api.list(token, world.path()).status_code == 200


def test_key_rotation_keeps_recent_tokens_and_retires_old_ones(in_process: InProcessWorld) -> None:
    world = in_process
    old = world.token(ADMIN)

    def rotate() -> None:  # what `taurus-sessions keys rotate` does: a new key, the newest three kept
        world.inventory(lambda inv: inv.users.add_token_key(generate_key(), 3))

    def refresh() -> None:  # the service re-reads its keys once they are this old
        world.clock.advance(world.settings.token_key_refresh_seconds)

    rotate()
    refresh()
    assert world.api.list(old, world.path()).status_code == 200  # still signed by a kept key
    for _ in range(2):
        rotate()
    # the key that signed `old` is gone; the service drops it at its next key refresh
    refresh()
    response = world.api.list(old, world.path())
    assert response.status_code == 401 and response.json()["error_code"] == "APIGW.0301"
    fresh = world.api.token(ADMIN.name, PASSWORD, DOMAIN, project_name=ADMIN.project)
    assert world.api.list(fresh, world.path()).status_code == 200


def test_projects_visible_to_a_token(world: World) -> None:
    token = world.token(ADMIN)
    response = world.api.http.get(
        "/v3/projects", params={"name": "cn-north-4"}, headers={"X-Auth-Token": token}
    )
    assert response.status_code == 200
    projects = response.json()["projects"]
    assert [(p["id"], p["name"]) for p in projects] == [(world.main.project_id, "cn-north-4")]
    other = world.api.http.get("/v3/projects", params={"name": "cn-south-1"}, headers={"X-Auth-Token": token})
    assert other.json()["projects"] == []
    anonymous = world.api.http.get("/v3/projects")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["title"] == "Unauthorized"

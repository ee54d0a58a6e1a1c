"""Every applicable row of the error catalogue, through the real HTTP stack, in both languages."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from conftest import World
from support.client import Api
from support.inprocess import InProcessWorld
from support.personas import ADMIN, DOMAIN, OUTSIDER, PASSWORD, Persona
from support.poll import eventually
from support.service import extra_node
from taurus_sessions.auth.tokens import TokenProvider
from taurus_sessions.errors import ApiError
from taurus_sessions.ids import new_instance_id, new_node_id


def assert_error(response: httpx.Response, status: int, code: str, language: str = "en-us") -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    assert len(response.headers["x-request-id"]) == 32
    body = response.json()
    assert set(body) == {"error_code", "error_msg"}
    assert body["error_code"] == code
    row = ApiError.registry[code]  # the catalogue's text; tests/unit/test_errors_catalogue.py pins it
    expected = row.zh if language == "zh-cn" else row.en
    assert body["error_msg"].startswith(expected), (body["error_msg"], expected)
    return str(body["error_msg"])


def logged(world: World, request_id: str) -> Callable[[], bool]:
    return lambda: request_id in world.service.log_text()


@dataclass
class Case:
    status: int
    code: str
    send: Callable[[World, str], httpx.Response]


def _path(
    world: World, instance: str | None = None, node: str | None = None, project: str | None = None
) -> str:
    reg = world.main
    return Api.processes_path(
        project or reg.project_id, instance or reg.instance_id, node or reg.primary.node_id
    )


def _get(
    world: World, language: str, path: str, who: Persona | None = ADMIN, **params: Any
) -> httpx.Response:
    headers = {"X-Language": language}
    if who is not None:
        headers["X-Auth-Token"] = world.token(who)
    return world.api.http.get(path, params=params, headers=headers)


def _delete(
    world: World, language: str, content: bytes, content_type: str = "application/json"
) -> httpx.Response:
    headers = {"X-Language": language, "X-Auth-Token": world.token(ADMIN), "Content-Type": content_type}
    return world.api.http.request("DELETE", _path(world), content=content, headers=headers)


CASES = {
    "limit out of range": Case(400, "DBS.200001", lambda w, lang: _get(w, lang, _path(w), limit=500)),
    "project id malformed": Case(
        400, "DBS.200001", lambda w, lang: _get(w, lang, _path(w, project="not-a-project"))
    ),
    "body not JSON": Case(400, "DBS.200001", lambda w, lang: _delete(w, lang, b"{processes")),
    "body wrong media type": Case(
        400, "DBS.200001", lambda w, lang: _delete(w, lang, b'{"processes":[1]}', "text/plain")
    ),
    "ids as strings": Case(400, "DBS.200001", lambda w, lang: _delete(w, lang, b'{"processes":["1"]}')),
    "empty body": Case(400, "DBS.200006", lambda w, lang: _delete(w, lang, b"")),
    "instance id malformed": Case(
        400, "DBS.280404", lambda w, lang: _get(w, lang, _path(w, instance="x" * 36))
    ),
    "node id malformed": Case(
        400, "DBS.280404", lambda w, lang: _get(w, lang, _path(w, node="y" * 32 + "in07"))
    ),
    "no token": Case(401, "APIGW.0301", lambda w, lang: _get(w, lang, _path(w), who=None)),
    "forged token": Case(
        401,
        "APIGW.0301",
        lambda w, lang: w.api.http.get(
            _path(w), headers={"X-Auth-Token": "gAAAAAforged", "X-Language": lang}
        ),
    ),
    "another project's token": Case(403, "DBS.200010", lambda w, lang: _get(w, lang, _path(w), who=OUTSIDER)),
    "unknown instance": Case(
        404, "DBS.200002", lambda w, lang: _get(w, lang, _path(w, instance=new_instance_id()))
    ),
    "instance of another project": Case(
        404, "DBS.200002", lambda w, lang: _get(w, lang, _path(w, instance=w.other.instance_id))
    ),
    "unknown node": Case(404, "DBS.200013", lambda w, lang: _get(w, lang, _path(w, node=new_node_id()))),
    "node of another instance": Case(
        404, "DBS.200013", lambda w, lang: _get(w, lang, _path(w, node=w.other.primary.node_id))
    ),
    "realtime collection unknown": Case(
        404,
        "DBS.280412",
        lambda w, lang: _get(
            w,
            lang,
            _path(w).removesuffix("/processes") + "/realtime-session-result",
            request_id="00000000-0000-4000-8000-000000000000",
        ),
    ),
    "unknown path": Case(
        404, "APIGW.0101", lambda w, lang: w.api.http.get("/v3/nothing/here", headers={"X-Language": lang})
    ),
    "trailing slash": Case(
        404, "APIGW.0101", lambda w, lang: w.api.http.get(_path(w) + "/", headers={"X-Language": lang})
    ),
    "unknown method": Case(
        404, "APIGW.0101", lambda w, lang: w.api.http.post(_path(w), json={}, headers={"X-Language": lang})
    ),
    "body over 1 MiB": Case(
        413,
        "APIGW.0201",
        lambda w, lang: _delete(w, lang, b'{"processes": [1], "pad": "' + b"x" * (1 << 20) + b'"}'),
    ),
}


@pytest.mark.parametrize("language", ["en-us", "zh-cn"])
@pytest.mark.parametrize("name", list(CASES))
def test_catalogue_error(world: World, name: str, language: str) -> None:
    case = CASES[name]
    assert_error(case.send(world, language), case.status, case.code, language)


def test_language_header_is_case_insensitive_and_defaults_to_english(world: World) -> None:
    response = world.api.http.get(
        _path(world, instance="x" * 36), headers={"X-Language": "ZH-CN", "X-Auth-Token": world.token(ADMIN)}
    )
    assert_error(response, 400, "DBS.280404", "zh-cn")
    response = world.api.http.get(
        _path(world, instance="x" * 36), headers={"X-Language": "de-de", "X-Auth-Token": world.token(ADMIN)}
    )
    assert_error(response, 400, "DBS.280404", "en-us")


def test_authentication_comes_before_parameter_checks(world: World) -> None:
    assert_error(_get(world, "en-us", _path(world), who=None, limit=0), 401, "APIGW.0301")


def test_gateway_variants_say_why(world: World) -> None:
    missing = assert_error(_get(world, "en-us", _path(world), who=None), 401, "APIGW.0301")
    assert missing.endswith("x-auth-token not found")
    forged = world.api.http.get(_path(world), headers={"X-Auth-Token": "nonsense"})
    assert assert_error(forged, 401, "APIGW.0301").endswith("decrypt token fail")


def test_chunked_body_over_the_limit_is_cut_off(world: World) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"processes": [1], "pad": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    response = world.api.http.request(
        "DELETE",
        _path(world),
        content=chunks(),
        headers={"X-Auth-Token": world.token(ADMIN), "Content-Type": "application/json"},
    )
    assert_error(response, 413, "APIGW.0201")


def test_expired_token(world: World) -> None:
    keys = world.service.inventory(lambda inv: inv.users.token_keys())
    user = world.service.inventory(lambda inv: inv.users.find_user(DOMAIN, ADMIN.name))
    assert user is not None
    yesterday = TokenProvider(keys, 86400, lambda: time.time() - 86400 - 60)
    expired, _ = yesterday.issue(user.id, world.main.project_id, ["password"])
    for language in ("en-us", "zh-cn"):
        response = world.api.http.get(_path(world), headers={"X-Auth-Token": expired, "X-Language": language})
        assert_error(response, 401, "APIGW.0307", language)


def test_token_altered_in_transit(world: World) -> None:
    token = world.token(ADMIN)
    middle = len(token) // 2
    altered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    response = world.api.http.get(_path(world), headers={"X-Auth-Token": altered})
    assert assert_error(response, 401, "APIGW.0301").endswith("decrypt token fail")


def test_token_signed_with_a_key_the_service_never_had(world: World) -> None:
    from cryptography.fernet import Fernet

    stranger = TokenProvider([Fernet.generate_key()], 86400, time.time)
    user = world.service.inventory(lambda inv: inv.users.find_user(DOMAIN, ADMIN.name))
    assert user is not None
    forged, _ = stranger.issue(user.id, world.main.project_id, ["password"])
    assert_error(world.api.http.get(_path(world), headers={"X-Auth-Token": forged}), 401, "APIGW.0301")


def test_unexpected_node_error_is_108000_with_the_request_id_in_the_log(world: World) -> None:
    """The node refuses our statements (its admin account hit a resource limit): not a node
    outage, something an operator must look at, so DBS.108000 with the request id in the log."""
    sandbox = world.sandbox
    sandbox.primary.sql(
        "CREATE USER IF NOT EXISTS 'capped'@'%' IDENTIFIED BY 'capped-password-1';\n"
        "GRANT ALL PRIVILEGES ON *.* TO 'capped'@'%' WITH MAX_QUERIES_PER_HOUR 1;"
    )

    capped = extra_node(
        world.service, world.main.instance_id, name="capped", port=sandbox.primary.port,
        user="capped", password="capped-password-1",
    )  # fmt: skip
    with capped as node_id:
        token = world.token(ADMIN)
        assert world.api.list(token, _path(world, node=node_id)).status_code == 200  # the one allowed
        for language in ("en-us", "zh-cn"):
            response = world.api.list(token, _path(world, node=node_id), language=language)
            assert_error(response, 500, "DBS.108000", language)
            request_id = response.headers["x-request-id"]
            eventually(logged(world, request_id), timeout=5, message=f"request {request_id} in the log")
        assert "capped-password-1" not in world.service.log_text()


def test_throttling_answers_429(start_in_process: Callable[..., InProcessWorld]) -> None:
    throttled = start_in_process(rate_limit_per_second=1, rate_limit_burst=3)  # 1 call/s, a burst of 3
    token, path = throttled.token(ADMIN), throttled.path()
    statuses = [throttled.api.list(token, path).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    for language in ("en-us", "zh-cn"):
        assert_error(throttled.api.list(token, path, language=language), 429, "APIGW.0308", language)
    throttled.clock.advance(1.1)
    assert throttled.api.list(token, path).status_code == 200


def test_no_header_or_secret_reaches_the_log(world: World) -> None:
    token = world.token(ADMIN)
    world.api.list(token, _path(world))
    log = world.service.log_text()
    assert token not in log
    assert PASSWORD not in log
    assert world.sandbox.admin.password not in log


def test_service_port_is_loopback_only(world: World) -> None:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        assert sock.connect_ex(("127.0.0.1", world.service.port)) == 0

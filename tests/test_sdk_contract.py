"""Contract tests through the official Huawei SDK (huaweicloudsdkgaussdb), AK/SK signed."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException, ServerResponseException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.region.region import Region
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkgaussdb.v3 import (
    DeleteTaurusDbNodeProcessesRequest,
    DeleteTaurusDbNodeProcessesRequestBody,
    GaussDBAsyncClient,
    GaussDBClient,
    ListTaurusDbNodeProcessesRequest,
    ShowLockWaitSessionRequest,
)

from conftest import World, open_app_sessions
from support.personas import ADMIN, DOMAIN, OUTSIDER, READONLY, Persona
from support.poll import eventually
from support.service import extra_node
from support.sessions import INNODB_CACHE_POLL, Sessions, thread_ids, wait_gone
from taurus_sessions.auth import signing
from taurus_sessions.ids import new_instance_id, new_node_id
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.sandbox.mariadb import free_port


@dataclass(frozen=True)
class Key:
    ak: str
    sk: str


def make_key(world: World, who: Persona) -> Key:
    async def work(inv: Inventory) -> Key:
        found = await inv.users.find_user(DOMAIN, who.name)
        assert found is not None
        key, sk = await inv.access_keys.create(found.id, f"contract tests ({who.name})")
        return Key(key.ak, sk.get_secret_value())

    return world.service.inventory(work)


@pytest.fixture(scope="module")
def keys(world: World) -> dict[Persona, Key]:
    return {who: make_key(world, who) for who in (ADMIN, READONLY, OUTSIDER)}


def client(world: World, key: Key, project_id: str | None = None, region: str | None = None) -> GaussDBClient:
    config = HttpConfig.get_default_config()
    config.timeout = (5, 30)
    credentials = BasicCredentials(key.ak, key.sk, project_id if region is None else None)
    builder = GaussDBClient.new_builder().with_http_config(config)
    if region is not None:
        credentials.with_iam_endpoint(world.service.url)
        builder = builder.with_region(Region(region, world.service.url))
    else:
        builder = builder.with_endpoints([world.service.url])
    return builder.with_credentials(credentials).build()


@pytest.fixture
def sdk(world: World, keys: dict[Persona, Key]) -> GaussDBClient:
    return client(world, keys[ADMIN], world.main.project_id)


def list_request(world: World, **kwargs: Any) -> ListTaurusDbNodeProcessesRequest:
    args = {"instance_id": world.main.instance_id, "node_id": world.main.primary.node_id} | kwargs
    return ListTaurusDbNodeProcessesRequest(**args)


def delete_request(world: World, ids: list[int] | None, **kwargs: Any) -> DeleteTaurusDbNodeProcessesRequest:
    args = {"instance_id": world.main.instance_id, "node_id": world.main.primary.node_id} | kwargs
    request = DeleteTaurusDbNodeProcessesRequest(**args)
    if ids is not None:
        request.body = DeleteTaurusDbNodeProcessesRequestBody(processes=ids)
    return request


# -- the three operations ---------------------------------------------------------------------
def test_page_through_list_taurus_db_node_processes(
    world: World, sdk: GaussDBClient, sessions: Sessions
) -> None:
    mine = {s.id for s in open_app_sessions(world.sandbox, sessions, 5)}
    first = sdk.list_taurus_db_node_processes(list_request(world, offset=0, limit=2))
    total = first.total_count
    assert total >= 5 and len(first.processes) == 2
    seen = []
    for offset in range(0, total, 2):
        page = sdk.list_taurus_db_node_processes(list_request(world, offset=offset, limit=2))
        assert page.total_count == total
        seen.extend(page.processes)
    ids = [p.id for p in seen]
    assert ids == sorted(ids) and mine <= set(ids)
    sample = next(p for p in seen if p.id in mine)
    assert (sample.user, sample.db, sample.command) == (world.sandbox.app.user, "shop", "Sleep")
    assert sample.host.startswith("127.0.0.1:") and sample.time >= 0
    assert sdk.list_taurus_db_node_processes(list_request(world, offset=total + 10, limit=5)).processes == []


def test_delete_taurus_db_node_processes_kills_on_the_node(
    world: World, sdk: GaussDBClient, sessions: Sessions
) -> None:
    victims = [s.id for s in open_app_sessions(world.sandbox, sessions, 3)]
    internal = sorted(thread_ids(world.sandbox.primary, "USER = 'event_scheduler'"))

    response = sdk.delete_taurus_db_node_processes(delete_request(world, [*victims, *internal, 42424242]))

    assert response.processes_killed == victims
    assert response.processes_not_found == [*internal, 42424242]
    assert wait_gone(world.sandbox.primary, set(victims)) == set()
    assert set(internal) <= thread_ids(world.sandbox.primary)


def test_the_sdks_async_client_lists_and_kills(
    world: World, keys: dict[Persona, Key], sessions: Sessions
) -> None:
    """GaussDBAsyncClient: the same calls on the SDK's thread pool, answered as futures."""
    config = HttpConfig.get_default_config()
    config.timeout = (5, 30)
    credentials = BasicCredentials(keys[ADMIN].ak, keys[ADMIN].sk, world.main.project_id)
    builder = GaussDBAsyncClient.new_builder().with_http_config(config).with_endpoints([world.service.url])
    client = builder.with_credentials(credentials).build()
    victims = [s.id for s in open_app_sessions(world.sandbox, sessions, 2)]
    listed = [
        client.list_taurus_db_node_processes_async(list_request(world, limit=100, offset=offset))
        for offset in (0, 0)
    ]
    for future in listed:
        response = future.result()
        assert response.status_code == 200 and set(victims) <= {p.id for p in response.processes}
    killed = client.delete_taurus_db_node_processes_async(delete_request(world, victims)).result()
    assert killed.processes_killed == victims
    assert wait_gone(world.sandbox.primary, set(victims)) == set()
    with pytest.raises(ClientRequestException) as refused:
        client.delete_taurus_db_node_processes_async(delete_request(world, [])).result()
    assert refused.value.error_code == "DBS.200001"


def test_show_lock_wait_session_for_a_real_lock_wait(
    world: World, sdk: GaussDBClient, sessions: Sessions
) -> None:
    holder, waiter = open_app_sessions(world.sandbox, sessions, 2)
    holder.execute("BEGIN")
    holder.execute("UPDATE orders SET amount = amount + 1 WHERE id = 3")
    waiter.run_async("UPDATE orders SET amount = amount - 1 WHERE id = 3")
    request = ShowLockWaitSessionRequest(
        instance_id=world.main.instance_id, node_id=world.main.primary.node_id, pid=waiter.id
    )

    def lock_wait_cause() -> Any:
        cause = sdk.show_lock_wait_session(request).abnormal_root_cause
        return cause if cause.abnormal_type == "LOCK_WAIT" else None

    cause = eventually(
        lock_wait_cause, timeout=10, interval=INNODB_CACHE_POLL, message=f"a lock wait of {waiter.id}"
    )

    lock = cause.lock_root_cause
    assert cause.abnormal_type == "LOCK_WAIT"
    assert (lock.locked_pid, lock.blocker_pid, lock.blocker_thread_id) == (waiter.id, holder.id, holder.id)
    assert (lock.lock_db, lock.lock_table, lock.lock_index, lock.lock_data) == (
        "shop",
        "orders",
        "PRIMARY",
        "3",
    )
    assert lock.locked_sql == "UPDATE orders SET amount = amount - 1 WHERE id = 3"
    assert lock.blocker_state == "RUNNING" and lock.blocker_rows_modified == 1
    assert lock.blocker_current_sql == [] and lock.blocker_command == "Sleep"
    not_waiting = ShowLockWaitSessionRequest(
        instance_id=world.main.instance_id, node_id=world.main.primary.node_id, pid=holder.id
    )
    assert sdk.show_lock_wait_session(not_waiting).abnormal_root_cause.abnormal_type == "NONE"


def test_region_and_iam_endpoint_instead_of_a_project_id(world: World, keys: dict[Persona, Key]) -> None:
    by_region = client(world, keys[ADMIN], region=world.main.project_name)
    response = by_region.list_taurus_db_node_processes(list_request(world, limit=1))
    assert response.total_count >= 0


# -- the catalogue through the SDK ------------------------------------------------------------
def expect_error(call: Callable[[], object], status: int, code: str, text: str) -> None:
    with pytest.raises((ClientRequestException, ServerResponseException)) as caught:
        call()
    error = caught.value
    assert error.status_code == status
    assert error.error_code == code
    assert error.error_msg.startswith(text), error.error_msg
    assert error.request_id and len(error.request_id) == 32


def _node(w: World) -> dict[str, str]:
    return {"instance_id": w.main.instance_id, "node_id": w.main.primary.node_id}


def _bad_limit(w: World, c: GaussDBClient, lang: str) -> object:
    return c.list_taurus_db_node_processes(list_request(w, limit=500, x_language=lang))


def _too_many_ids(w: World, c: GaussDBClient, lang: str) -> object:
    return c.delete_taurus_db_node_processes(delete_request(w, list(range(21)), x_language=lang))


def _no_body(w: World, c: GaussDBClient, lang: str) -> object:
    return c.delete_taurus_db_node_processes(delete_request(w, None, x_language=lang))


def _bad_instance_id(w: World, c: GaussDBClient, lang: str) -> object:
    return c.list_taurus_db_node_processes(list_request(w, instance_id="nope", x_language=lang))


def _no_such_instance(w: World, c: GaussDBClient, lang: str) -> object:
    return c.list_taurus_db_node_processes(list_request(w, instance_id=new_instance_id(), x_language=lang))


def _no_such_node(w: World, c: GaussDBClient, lang: str) -> object:
    return c.list_taurus_db_node_processes(list_request(w, node_id=new_node_id(), x_language=lang))


def _no_such_session(w: World, c: GaussDBClient, lang: str) -> object:
    return c.show_lock_wait_session(ShowLockWaitSessionRequest(**_node(w), pid=987654321, x_language=lang))


def _body_too_large(w: World, c: GaussDBClient, lang: str) -> object:
    return c.delete_taurus_db_node_processes(delete_request(w, list(range(200_000)), x_language=lang))


CATALOGUE = [
    (_bad_limit, 400, "DBS.200001", "Parameter error.", "参数错误。"),
    (_too_many_ids, 400, "DBS.200001", "Parameter error.", "参数错误。"),
    (_no_body, 400, "DBS.200006", "The request is null.", "请求为空，请输入请求参数。"),
    (
        _bad_instance_id,
        400,
        "DBS.280404",
        "Invalid DB instance ID or node ID format.",
        "实例ID或节点ID格式错误。",
    ),
    (_no_such_instance, 404, "DBS.200002", "The DB instance does not exist.", "实例不存在或已被删除。"),
    (_no_such_node, 404, "DBS.200013", "This node does not exist.", "节点不存在。"),
    (_no_such_session, 404, "DBS.280405", "The session does not exist.", "会话不存在。"),
    (_body_too_large, 413, "APIGW.0201", "Request entity too large.", "Request entity too large."),
]


@pytest.mark.parametrize("language", ["en-us", "zh-cn"])
@pytest.mark.parametrize("case", CATALOGUE, ids=[c[0].__name__.strip("_") for c in CATALOGUE])
def test_catalogue_errors_through_the_sdk(
    world: World, sdk: GaussDBClient, case: tuple[Any, ...], language: str
) -> None:
    call, status, code, en, zh = case
    expect_error(lambda: call(world, sdk, language), status, code, zh if language == "zh-cn" else en)


def test_read_only_users_ak_may_list_but_not_kill(
    world: World, keys: dict[Persona, Key], app_session: Any
) -> None:
    reader = client(world, keys[READONLY], world.main.project_id)
    assert reader.list_taurus_db_node_processes(list_request(world)).total_count >= 1
    for language, text in (("en-us", "The DB instance ID or user ID"), ("zh-cn", "实例ID和用户ID可能为空")):
        expect_error(
            partial(
                reader.delete_taurus_db_node_processes,
                delete_request(world, [app_session.id], x_language=language),
            ),
            403,
            "DBS.200010",
            text,
        )
    assert app_session.alive()


def test_ak_of_another_project(world: World, keys: dict[Persona, Key]) -> None:
    stranger = client(world, keys[OUTSIDER], world.main.project_id)
    expect_error(
        lambda: stranger.list_taurus_db_node_processes(list_request(world)), 403, "DBS.200010", "The DB"
    )


def test_unknown_ak_and_wrong_sk_look_the_same(world: World, keys: dict[Persona, Key]) -> None:
    text = "Incorrect IAM authentication information: verify aksk signature fail"
    unknown = client(world, Key("AAAAAAAAAAAAAAAAAAAA", keys[ADMIN].sk), world.main.project_id)
    wrong = client(world, Key(keys[READONLY].ak, "x" * 40), world.main.project_id)
    for sdk_client in (unknown, wrong):
        expect_error(
            partial(sdk_client.list_taurus_db_node_processes, list_request(world)), 401, "APIGW.0301", text
        )


def test_disabled_ak(world: World) -> None:
    key = make_key(world, ADMIN)
    sdk_client = client(world, key, world.main.project_id)
    assert sdk_client.list_taurus_db_node_processes(list_request(world)).total_count >= 0
    assert world.service.cli("access-key", "disable", key.ak).returncode == 0
    expect_error(
        lambda: sdk_client.list_taurus_db_node_processes(list_request(world)),
        401,
        "APIGW.0301",
        "Incorrect IAM authentication information: verify aksk signature fail",
    )
    assert world.service.cli("access-key", "enable", key.ak).returncode == 0
    assert sdk_client.list_taurus_db_node_processes(list_request(world)).total_count >= 0


def test_node_down_is_200005(world: World, sdk: GaussDBClient) -> None:
    gone = extra_node(
        world.service, world.main.instance_id, name="gone", port=free_port(),
        user="rdsAdmin", password="unused-password",
    )  # fmt: skip
    with gone as node_id:
        for language, text in (("en-us", "Server failure."), ("zh-cn", "服务器错误。")):
            expect_error(
                partial(
                    sdk.list_taurus_db_node_processes,
                    list_request(world, node_id=node_id, x_language=language),
                ),
                500,
                "DBS.200005",
                text,
            )


# -- signatures made by the SDK's own signer, sent by hand ------------------------------------
def sdk_signed(
    world: World, key: Key, method: str, path: str, body: bytes = b"", *, at: datetime | None = None,
    query: list[tuple[str, object]] | None = None, headers: dict[str, str] | None = None,
) -> tuple[str, dict[str, str]]:  # fmt: skip
    """Sign with huaweicloudsdkcore's Signer (optionally at a fixed X-Sdk-Date); return URL and headers."""
    host = world.service.url.removeprefix("http://")
    header_params = {"Content-Type": "application/json;charset=UTF-8", "X-Project-Id": world.main.project_id}
    header_params |= headers or {}
    if at is not None:
        header_params["X-Sdk-Date"] = at.strftime("%Y%m%dT%H%M%SZ")
    request = SdkRequest(
        method=method, schema="http", host=host, resource_path=path, query_params=query or [],
        header_params=header_params, body=body,
    )  # fmt: skip
    signed = Signer(BasicCredentials(key.ak, key.sk)).sign(request)
    return f"{world.service.url}{signed.uri}", dict(signed.header_params)


def test_a_request_replayed_after_15_minutes_is_refused(world: World, keys: dict[Persona, Key]) -> None:
    path = world.path()
    now = datetime.now(UTC)
    fresh_url, fresh = sdk_signed(world, keys[ADMIN], "GET", path, at=now - timedelta(minutes=14))
    assert httpx.get(fresh_url, headers=fresh).status_code == 200
    stale_url, stale = sdk_signed(world, keys[ADMIN], "GET", path, at=now - timedelta(minutes=16))
    response = httpx.get(stale_url, headers=stale)
    assert response.status_code == 401
    assert response.json()["error_code"] == "APIGW.0303"
    assert response.json()["error_msg"].startswith(
        "Incorrect app authentication information: signature expired"
    )
    future_url, future = sdk_signed(world, keys[ADMIN], "GET", path, at=now + timedelta(minutes=16))
    assert httpx.get(future_url, headers=future).json()["error_code"] == "APIGW.0303"


def test_anything_altered_after_signing_is_refused(
    world: World, keys: dict[Persona, Key], sessions: Sessions
) -> None:
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]
    body = f'{{"processes": [{victim.id}]}}'.encode()
    key = make_key(world, ADMIN)  # its own key: these failures lock it, as they should
    url, headers = sdk_signed(world, key, "DELETE", world.path(), body)

    def send(
        method: str = "DELETE", target: str = url, content: bytes = body, extra: dict[str, str] | None = None
    ) -> httpx.Response:
        return httpx.request(method, target, content=content, headers={**headers, **(extra or {})})

    altered = [
        send(content=body.replace(str(victim.id).encode(), b"1")),  # body
        send(method="GET"),  # method
        send(target=url.replace(world.main.primary.node_id, world.main.replica.node_id)),  # path
        send(target=url + "?limit=5"),  # query
        send(extra={"X-Project-Id": world.other.project_id}),  # a signed header
        send(extra={"Host": "localhost:1"}),  # the host
        send(extra={"X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"}),
    ]
    for response in altered:
        assert response.status_code == 401, response.text
        assert response.json()["error_code"] == "APIGW.0301"
    assert victim.alive()
    assert world.service.cli("access-key", "enable", key.ak).returncode == 0  # lift the lock-out
    assert send().json() == {"processes_killed": [victim.id], "processes_not_found": []}


def test_x_project_id_must_match_the_path(world: World, keys: dict[Persona, Key]) -> None:
    url, headers = sdk_signed(
        world, keys[ADMIN], "GET", world.path(), headers={"X-Project-Id": world.other.project_id}
    )
    response = httpx.get(url, headers=headers)
    assert response.status_code == 403 and response.json()["error_code"] == "DBS.200010"


def test_five_failures_lock_the_ak(world: World) -> None:
    key = make_key(world, ADMIN)
    bad = Key(key.ak, "y" * 40)
    for _ in range(5):
        url, headers = sdk_signed(world, bad, "GET", world.path())
        assert httpx.get(url, headers=headers).json()["error_msg"].endswith("verify aksk signature fail")
    url, headers = sdk_signed(world, key, "GET", world.path())
    locked = httpx.get(url, headers=headers)
    assert locked.status_code == 401
    assert locked.json() == {
        "error_code": "APIGW.0301",
        "error_msg": "Incorrect IAM authentication information: "
        "AK access failed to reach the limit,forbidden",
    }
    listed = world.service.cli("access-key", "list", "--json")
    entry = next(k for k in json.loads(listed.stdout) if k["ak"] == key.ak)
    locked_until = datetime.fromisoformat(entry["locked_until"]).replace(tzinfo=UTC)
    assert timedelta(minutes=4) < locked_until - datetime.now(UTC) <= timedelta(minutes=5)
    assert world.service.cli("access-key", "enable", key.ak).returncode == 0  # an operator may lift it
    url, headers = sdk_signed(world, key, "GET", world.path())
    assert httpx.get(url, headers=headers).status_code == 200


def test_successes_reset_the_failure_count_and_record_last_use(world: World) -> None:
    key = make_key(world, ADMIN)
    for _ in range(4):
        url, headers = sdk_signed(world, Key(key.ak, "z" * 40), "GET", world.path())
        httpx.get(url, headers=headers)
    url, headers = sdk_signed(world, key, "GET", world.path())
    assert httpx.get(url, headers=headers).status_code == 200
    for _ in range(4):  # four more failures do not lock: the count restarted
        url, headers = sdk_signed(world, Key(key.ak, "z" * 40), "GET", world.path())
        httpx.get(url, headers=headers)
    url, headers = sdk_signed(world, key, "GET", world.path())
    assert httpx.get(url, headers=headers).status_code == 200
    listed = json.loads(world.service.cli("access-key", "list", "--json").stdout)
    assert next(k for k in listed if k["ak"] == key.ak)["last_used_at"]


# -- one canonicalizer: ours agrees with the SDK's ---------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("GET", "/v3/abc/instances/x/nodes/y/processes", [("offset", 0), ("limit", 100)], b""),
        ("DELETE", "/v3/abc/instances/x/nodes/y/processes", [], b'{"processes": [1, 2]}'),
        ("GET", "/v3/projects", [("name", "cn-north-4")], b""),
        (
            "GET",
            "/v3/p/x",
            [("info", "select * from t where a = 'b c'"), ("user", "app+1~x/y"), ("a", "")],
            b"",
        ),
        ("POST", "/v3/p/a b/é", [("z", "1"), ("a", "2"), ("a", "1")], '{"k": "ü"}'.encode()),
    ],
)
def test_our_signer_produces_the_sdks_signatures(
    method: str, path: str, query: list[tuple[str, object]], body: bytes
) -> None:
    at = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
    key = Key("AK" + "0" * 18, "s" * 40)
    header_params = {
        "Content-Type": "application/json",
        "X-Language": "en-us",
        "X-Sdk-Date": at.strftime("%Y%m%dT%H%M%SZ"),
    }
    theirs = Signer(BasicCredentials(key.ak, key.sk)).sign(
        SdkRequest(
            method=method,
            schema="http",
            host="127.0.0.1:8080",
            resource_path=path,
            query_params=list(query),
            header_params=dict(header_params),
            body=body,
        )
    )
    url = "http://127.0.0.1:8080" + theirs.uri
    ours = signing.sign_request(
        method, url, {"Content-Type": "application/json", "X-Language": "en-us"}, body, key.ak, key.sk, at
    )
    assert ours["Authorization"] == theirs.header_params["Authorization"]


@pytest.fixture
def signed_env(world: World, keys: dict[Persona, Key]) -> dict[str, str]:
    return {
        "HUAWEICLOUD_SDK_AK": keys[ADMIN].ak,
        "HUAWEICLOUD_SDK_SK": keys[ADMIN].sk,
        "HUAWEICLOUD_SDK_PROJECT_ID": world.main.project_id,
        "TAURUS_ENDPOINT": world.service.url,
    }


def test_cli_client_lists_kills_and_reads_lock_waits(
    world: World, signed_env: dict[str, str], sessions: Sessions
) -> None:
    victim, other = open_app_sessions(world.sandbox, sessions, 2)
    where = ["--instance", world.main.instance_id, "--node", world.main.primary.node_id]
    listed = world.service.cli("processes", "list", *where, "--user", world.sandbox.app.user, env=signed_env)
    assert listed.returncode == 0, listed.stderr
    assert str(victim.id) in listed.stdout and "rdsAdmin" not in listed.stdout

    killed = world.service.cli("processes", "kill", str(victim.id), "987654321", *where, env=signed_env)
    assert killed.returncode == 0, killed.stderr
    assert f"killed:    {victim.id}" in killed.stdout and "not found: 987654321" in killed.stdout
    assert wait_gone(world.sandbox.primary, {victim.id}) == set()

    dry = world.service.cli("processes", "kill", str(other.id), *where, "--dry-run", env=signed_env)
    assert "would_kill" in dry.stdout and other.alive()

    waits = world.service.cli("processes", "lock-wait", *where, "--pid", str(other.id), env=signed_env)
    assert waits.returncode == 0 and "not waiting" in waits.stdout

    by_region = {k: v for k, v in signed_env.items() if k != "HUAWEICLOUD_SDK_PROJECT_ID"}
    resolved = world.service.cli(
        "processes", "--region", world.main.project_name, "list", *where, "--json", env=by_region
    )
    assert resolved.returncode == 0, resolved.stderr

    refused = world.service.cli(
        "processes", "list", *where, env={**signed_env, "HUAWEICLOUD_SDK_SK": "w" * 40}
    )
    assert refused.returncode == 1 and "APIGW.0301" in refused.stderr
    missing = world.service.cli(
        "processes", "list", *where, env={"HUAWEICLOUD_SDK_AK": "", "HUAWEICLOUD_SDK_SK": ""}
    )
    assert missing.returncode == 2

"""A node that is down, hung (SIGSTOP) or refuses connections: a 500 within the timeout, never a hang."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from conftest import World
from support.client import Api
from support.personas import ADMIN
from support.poll import eventually
from support.service import extra_node
from taurus_sessions.inventory.audit_events import AuditQuery
from taurus_sessions.sandbox.instance import SandboxInstance
from taurus_sessions.sandbox.mariadb import free_port

# The test service runs with a 1.5 s connect and 2.5 s read timeout (support/service.py).
DEADLINE = 4.0


@pytest.fixture
def lone_node(
    world: World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SandboxInstance, str]]:
    """A standalone server registered as its own node, free to be stopped or frozen."""
    lone = SandboxInstance.start(tmp_path_factory.mktemp("lone"), with_replica=False)

    node = extra_node(
        world.service, world.main.instance_id, name="lone", port=lone.primary.port,
        user=lone.admin.user, password=lone.admin.password,
    )  # fmt: skip
    with node as node_id:
        yield lone, Api.processes_path(world.main.project_id, world.main.instance_id, node_id)
    lone.stop()


def _timed(call: object) -> tuple[float, object]:
    started = time.monotonic()
    result = call() if callable(call) else None
    return time.monotonic() - started, result


def _assert_unavailable(response: object, elapsed: float) -> None:
    assert response.status_code == 500, response.text  # type: ignore[attr-defined]
    assert response.json()["error_code"] == "DBS.200005"  # type: ignore[attr-defined]
    assert elapsed < DEADLINE, f"took {elapsed:.2f}s"


def test_stopped_node_answers_500_quickly(world: World, lone_node: tuple[SandboxInstance, str]) -> None:
    lone, path = lone_node
    token = world.token(ADMIN)
    assert world.api.list(token, path).status_code == 200  # a pooled connection exists now
    lone.primary.stop()

    elapsed, response = _timed(lambda: world.api.list(token, path))
    _assert_unavailable(response, elapsed)
    zh = world.api.list(token, path, language="zh-cn")
    assert zh.json()["error_msg"] == "服务器错误。"

    elapsed, response = _timed(lambda: world.api.kill(token, path, [12345]))
    _assert_unavailable(response, elapsed)
    request_id = response.headers["x-request-id"]  # type: ignore[attr-defined]
    events, _ = world.service.inventory(lambda inv: inv.audit.query(AuditQuery(request_id=request_id)))
    assert events[0].outcome == "failed" and events[0].error_code == "DBS.200005"


def test_hung_node_answers_500_within_the_timeout_and_recovers(
    world: World, lone_node: tuple[SandboxInstance, str]
) -> None:
    lone, path = lone_node
    token = world.token(ADMIN)
    assert world.api.list(token, path).status_code == 200
    lone.primary.pause()
    try:
        # with a pooled connection: the read times out
        elapsed, response = _timed(lambda: world.api.list(token, path))
        _assert_unavailable(response, elapsed)
        time.sleep(0.6)  # past the failure cool-down: now a fresh connect hangs in the handshake
        elapsed, response = _timed(lambda: world.api.kill(token, path, [1, 2, 3]))
        _assert_unavailable(response, elapsed)

        # other nodes are not held up by the hung one
        results: list[int] = []
        hung = threading.Thread(target=lambda: results.append(world.api.list(token, path).status_code))
        hung.start()
        elapsed, healthy = _timed(lambda: world.api.list(token, world.path()))
        assert healthy.status_code == 200 and elapsed < 1.0  # type: ignore[attr-defined]
        hung.join(DEADLINE + 1)
        assert results == [500]
    finally:
        lone.primary.resume()
    # answered at once while the failure cool-down (0.5 s) lasts, then from the node again
    eventually(
        lambda: world.api.list(token, path).status_code == 200, timeout=2, message="the node to answer again"
    )


def test_node_with_nothing_listening(world: World) -> None:
    nowhere = extra_node(
        world.service, world.main.instance_id, name="nowhere", port=free_port(),
        user="rdsAdmin", password="unused-password",
    )  # fmt: skip
    with nowhere as node_id:
        path = Api.processes_path(world.main.project_id, world.main.instance_id, node_id)
        elapsed, response = _timed(lambda: world.api.list(world.token(ADMIN), path))
        _assert_unavailable(response, elapsed)
        assert "unused-password" not in world.service.log_text()


def test_wrong_node_password_is_a_500_not_a_leak(world: World) -> None:
    wrong = extra_node(
        world.service, world.main.instance_id, name="badpass", port=world.sandbox.primary.port,
        user="rdsAdmin", password="definitely-wrong-password",
    )  # fmt: skip
    with wrong as node_id:
        path = Api.processes_path(world.main.project_id, world.main.instance_id, node_id)
        response = world.api.list(world.token(ADMIN), path)
        assert response.status_code == 500 and response.json()["error_code"] == "DBS.200005"
        assert "definitely-wrong-password" not in response.text
        assert "definitely-wrong-password" not in world.service.log_text()

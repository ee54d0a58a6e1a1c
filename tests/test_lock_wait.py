"""ShowLockWaitSession on real InnoDB lock waits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import World, open_app_sessions
from support.personas import ADMIN, OUTSIDER, READONLY, Persona
from support.poll import eventually
from support.sessions import INNODB_CACHE_POLL, Session, Sessions, thread_ids


def lock_wait(world: World, pid: int | str, who: Persona = ADMIN, language: str = "en-us") -> httpx.Response:
    path = world.path().removesuffix("/processes") + "/process/lock-wait"
    return world.api.http.get(
        path, params={"pid": pid}, headers={"X-Auth-Token": world.token(who), "X-Language": language}
    )


def wait_for_lock_wait(world: World, pid: int, blocker: int | None = None) -> dict[str, Any]:
    """Poll until the node reports the wait (InnoDB's lock tables lag by up to 0.1 s)."""

    def cause() -> dict[str, Any] | None:
        body = lock_wait(world, pid).json()["abnormal_root_cause"]
        if body["abnormal_type"] == "LOCK_WAIT" and blocker in (None, body["lock_root_cause"]["blocker_pid"]):
            return dict(body["lock_root_cause"])
        return None

    return eventually(cause, timeout=10, interval=INNODB_CACHE_POLL, message=f"a lock wait of session {pid}")


@pytest.fixture
def blocked(world: World, sessions: Sessions) -> tuple[Session, Session]:
    holder, waiter = open_app_sessions(world.sandbox, sessions, 2)
    holder.execute("BEGIN")
    holder.execute("UPDATE orders SET amount = amount + 1 WHERE id = 1")
    waiter.run_async("UPDATE orders SET amount = amount + 2 WHERE id = 1")
    return holder, waiter


def test_a_waiting_session_shows_its_blocker_and_the_lock(
    world: World, blocked: tuple[Session, Session]
) -> None:
    holder, waiter = blocked
    cause = wait_for_lock_wait(world, waiter.id)

    assert cause["locked_pid"] == waiter.id
    assert cause["locked_sql"] == "UPDATE orders SET amount = amount + 2 WHERE id = 1"
    assert (cause["lock_db"], cause["lock_table"], cause["lock_index"]) == ("shop", "orders", "PRIMARY")
    assert cause["lock_mode"].startswith("X")
    assert cause["lock_data"] == "1"
    assert cause["blocker_pid"] == holder.id == cause["blocker_thread_id"]
    assert cause["blocker_state"] == "RUNNING"
    assert cause["blocker_rows_modified"] == 1 and cause["blocker_rows_locked"] >= 1
    assert cause["blocker_current_sql"] == []  # the holder is idle inside its transaction
    assert cause["blocker_command"] == "Sleep"
    assert cause["blocker_host"].startswith("127.0.0.1:")
    assert cause["wait_seconds"] >= 0 and cause["blocker_age"] >= cause["wait_seconds"]
    assert cause["blocking_chain"] == [waiter.id, holder.id]


def test_the_blocker_itself_waits_for_nothing(world: World, blocked: tuple[Session, Session]) -> None:
    holder, waiter = blocked
    wait_for_lock_wait(world, waiter.id)
    for language in ("en-us", "zh-cn"):
        assert lock_wait(world, holder.id, language=language).json() == {
            "abnormal_root_cause": {"abnormal_type": "NONE"}
        }


def test_killing_the_blocker_releases_the_waiter(world: World, blocked: tuple[Session, Session]) -> None:
    holder, waiter = blocked
    cause = wait_for_lock_wait(world, waiter.id)
    killed = world.api.kill(world.token(ADMIN), world.path(), [cause["blocker_pid"]])
    assert killed.json()["processes_killed"] == [holder.id]
    assert waiter.thread is not None
    waiter.thread.join(10)
    assert not waiter.thread.is_alive() and waiter.error is None  # its UPDATE went through
    eventually(
        lambda: lock_wait(world, waiter.id).json()["abnormal_root_cause"]["abnormal_type"] == "NONE",
        timeout=2,
        interval=INNODB_CACHE_POLL,
        message=f"session {waiter.id} to wait no more",
    )


def test_a_chain_of_waits_leads_to_the_root_blocker(world: World, sessions: Sessions) -> None:
    root, middle, tail = open_app_sessions(world.sandbox, sessions, 3)
    root.execute("BEGIN")
    root.execute("UPDATE orders SET amount = amount + 1 WHERE id = 1")
    middle.execute("BEGIN")
    middle.execute("UPDATE orders SET amount = amount + 1 WHERE id = 2")
    middle.run_async("UPDATE orders SET amount = amount + 1 WHERE id = 1")  # waits for root
    wait_for_lock_wait(world, middle.id, root.id)
    tail.run_async("UPDATE orders SET amount = amount + 1 WHERE id = 2")  # waits for middle

    cause = wait_for_lock_wait(world, tail.id, middle.id)

    assert cause["blocker_pid"] == middle.id
    assert cause["blocker_state"] == "LOCK WAIT"
    assert cause["blocker_current_sql"] == ["UPDATE orders SET amount = amount + 1 WHERE id = 1"]
    assert cause["blocking_chain"] == [tail.id, middle.id, root.id]
    assert cause["lock_data"] == "2"


def test_unknown_and_internal_pids_are_not_sessions(world: World) -> None:
    internal = min(thread_ids(world.sandbox.primary, "USER = 'event_scheduler'"))
    for pid in (987654321, internal):
        for language, text in (("en-us", "The session does not exist."), ("zh-cn", "会话不存在。")):
            response = lock_wait(world, pid, language=language)
            assert response.status_code == 404
            assert response.json() == {"error_code": "DBS.280405", "error_msg": text}


@pytest.mark.parametrize("pid", [None, 0, -3, "abc", "1.5"])
def test_pid_must_be_a_positive_integer(world: World, pid: int | str | None) -> None:
    response = (
        lock_wait(world, pid)
        if pid is not None
        else world.api.http.get(
            world.path().removesuffix("/processes") + "/process/lock-wait",
            headers={"X-Auth-Token": world.token(ADMIN)},
        )
    )
    assert response.status_code == 400 and response.json()["error_code"] == "DBS.200001"


def test_readonly_may_inspect_and_other_projects_may_not(world: World, app_session: Session) -> None:
    assert lock_wait(world, app_session.id, who=READONLY).status_code == 200
    assert lock_wait(world, app_session.id, who=OUTSIDER).status_code == 403

"""Reliability under faults, against real parts: a service SIGKILLed mid-sweep, a node blackholed,
reset or cut mid-result (an in-process TCP fault proxy), a node that dies and comes back, an
inventory that goes away or runs out of disk, a SIGTERM while a kill is in flight."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from support.client import Api, token_body
from support.crowd import Crowd
from support.faultproxy import FaultProxy
from support.poll import eventually
from support.service import ServiceProcess
from taurus_sessions.inventory.audit_events import AuditQuery
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.inventory.models import AuditEvent
from taurus_sessions.sandbox.instance import Account, SandboxInstance
from taurus_sessions.sandbox.postgres import PostgresServer, ensure_bin_dir
from taurus_sessions.sandbox.registration import create_user, ensure_token_key

PASSWORD = "correct horse battery staple"
CROWD = Account("crowd", "crowd-password-1")
# Short node timeouts, so that the longest call (and so the wait before recovery) is short too:
# 2 x 0.5 s to connect + 1 s per statement x (3 + 2 KILL batches) + 2 x 2 s inventory = 10 s.
FAST = {
    "TAURUS_NODE_CONNECT_TIMEOUT": "0.5",
    "TAURUS_NODE_READ_TIMEOUT": "1",
    "TAURUS_NODE_FAILURE_COOLDOWN_SECONDS": "0.3",
    "TAURUS_KILL_MAX_VICTIMS": "1000",
    "TAURUS_INVENTORY_TIMEOUT": "2",
}
LONGEST_CALL = 2 * 0.5 + 1 * (3 + 2) + 2 * 2
ANSWER_BOUND = 0.5 + 0.5 + 1.0 + 1.0  # a slot, a connect, one statement, and slack for a busy machine


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInstance]:
    """A node of this module's own: whatever is killed or crashed here touches no other test."""
    lone = SandboxInstance.start(tmp_path_factory.mktemp("reliable-node"), with_replica=False)
    lone.primary.sql(f"CREATE USER '{CROWD.user}'@'%' IDENTIFIED BY '{CROWD.password}';")
    yield lone
    lone.stop()


@pytest.fixture
def crowd() -> Iterator[Crowd]:
    people = Crowd()
    yield people
    people.close_all()


@dataclass
class Deployment:
    service: ServiceProcess
    api: Api
    project_id: str
    instance_id: str
    node_id: str
    token: str = ""

    @property
    def path(self) -> str:
        return Api.processes_path(self.project_id, self.instance_id, self.node_id)

    def sign_in(self) -> None:
        body = token_body("alice", PASSWORD, "acme", project_id=self.project_id)
        response = self.api.http.post("/v3/auth/tokens", json=body)
        assert response.status_code == 201, response.text
        self.token = response.headers["X-Subject-Token"]

    def call(self, method: str, suffix: str = "", body: Any = None, timeout: float = 60) -> httpx.Response:
        return self.api.http.request(
            method, self.path + suffix, json=body, headers={"X-Auth-Token": self.token}, timeout=timeout
        )

    def sweep(self, user: str = CROWD.user, timeout: float = 60) -> httpx.Response:
        return self.call("POST", "/kill-by-filter", {"filter": {"user": user}}, timeout)

    def records(self, **query: Any) -> list[AuditEvent]:
        events, _ = self.service.inventory(lambda inv: inv.audit.query(AuditQuery(**query)))
        return list(events)

    def close(self) -> None:
        self.api.close()
        self.service.stop()


def deploy(
    node: SandboxInstance,
    folder: Path,
    port: int | None = None,
    database_url: str | None = None,
    **settings: str,
) -> Deployment:
    """A service with one instance of one node (reached on ``port``: the node, or a proxy before it)."""
    service = ServiceProcess(folder, database_url, **{**FAST, **settings})

    async def register(inventory: Inventory) -> tuple[str, str, str]:
        await ensure_token_key(inventory)
        project = await inventory.instances.create_project("cn-reliable-1", "acme")
        instance = await inventory.instances.create_instance(project.id, "reliable")
        registered = await inventory.instances.add_node(
            instance.id,
            name="reliable-primary",
            role="master",
            host="127.0.0.1",
            port=port or node.primary.port,
            admin_user=node.admin.user,
            admin_password=SecretStr(node.admin.password),
        )
        await create_user(inventory, "acme", "alice", PASSWORD, project.id, "admin")
        return project.id, instance.id, registered.id

    project_id, instance_id, node_id = service.inventory(register)
    service.start()
    deployment = Deployment(service, Api(service.url), project_id, instance_id, node_id)
    deployment.sign_in()
    return deployment


def alive_ids(node: SandboxInstance, ids: list[int]) -> set[int]:
    listed = ",".join(map(str, ids))
    rows = node.primary.sql(
        f"SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND <> 'Killed' AND ID IN ({listed})"
    )
    return {int(row[0]) for row in rows}


def timed(call: Callable[[], httpx.Response]) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = call()
    return time.monotonic() - started, response


def assert_unavailable(elapsed: float, response: httpx.Response, bound: float = ANSWER_BOUND) -> None:
    assert response.status_code == 500 and response.json()["error_code"] == "DBS.200005", response.text
    assert elapsed < bound, f"answered after {elapsed:.2f}s"


def assert_truthful(node: SandboxInstance, results: list[dict[str, Any]]) -> dict[str, int]:
    """No id is reported killed that the node still has; an id never sent is still there."""
    ids = [int(r["id"]) for r in results]
    alive = alive_ids(node, ids) if ids else set()
    counts: dict[str, int] = {}
    for result in results:
        counts[result["outcome"]] = counts.get(result["outcome"], 0) + 1
        if result["outcome"] == "killed":
            assert int(result["id"]) not in alive, f"{result['id']} reported killed, still on the node"
        if result["outcome"] in ("not_sent", "alive"):
            assert int(result["id"]) in alive, f"{result['id']} reported {result['outcome']}, gone"
    return counts


# -- 1. write-ahead audit: the service dies mid-sweep --------------------------------------------------
def in_background(call: Callable[[], httpx.Response]) -> list[httpx.Response | BaseException]:
    """Start an API call in a thread; the list receives its answer (or the error) when it comes."""
    outcome: list[httpx.Response | BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # the service may die under the call: that is the test
            outcome.append(exc)

    threading.Thread(target=run, daemon=True).start()
    return outcome


def _sigkill_mid_sweep(
    deployment: Deployment,
    node: SandboxInstance,
    crowd: Crowd,
    proxy: FaultProxy,
    pending: Callable[[], bool],
) -> list[int]:
    victims = crowd.open(node.primary, CROWD.user, CROWD.password, 600)
    # the node's answers come late, so that the sweep is still under way when the process dies
    proxy.latency(0.15, direction="downstream")
    in_background(lambda: deployment.sweep(timeout=30))
    eventually(pending, 20, "the sweep never wrote its pending record")
    time.sleep(0.1)
    assert deployment.service.process is not None
    deployment.service.process.send_signal(signal.SIGKILL)
    deployment.service.process.wait(10)
    proxy.heal()
    return victims


def _check_trail(deployment: Deployment, node: SandboxInstance, victims: list[int]) -> None:
    # before recovery: one record, pending, holding every intended victim with what it was
    (record,) = deployment.records(action="killByFilter")
    assert record.outcome == "pending"
    assert sorted(int(r["id"]) for r in record.results) == sorted(victims)
    assert all(r["outcome"] == "pending" and r["user"] == CROWD.user and r["host"] for r in record.results)
    gone_before = len(victims) - len(alive_ids(node, victims))
    # a restart, and the record is settled from the node once a call could no longer be under way
    started = time.monotonic()
    deployment.service.start()
    settled = eventually(
        lambda: [e for e in deployment.records(action="killByFilter") if e.outcome == "interrupted"],
        LONGEST_CALL + 20,
        "the interrupted sweep was never settled",
    )
    (record,) = settled
    counts = assert_truthful(node, record.results)
    assert counts.get("killed", 0) + counts.get("alive", 0) == len(victims), counts
    assert counts.get("killed", 0) == len(victims) - len(alive_ids(node, victims))
    assert record.settled_at is not None and record.settled_by
    print(
        f"\nSIGKILL mid-sweep: {len(victims)} intended victims in the pending record, {gone_before} gone"
        f" when the process died; settled after {time.monotonic() - started:.1f}s: {counts}"
    )


def test_a_service_killed_mid_sweep_leaves_every_intended_victim_in_the_trail(
    node: SandboxInstance, crowd: Crowd, tmp_path: Path
) -> None:
    with FaultProxy("127.0.0.1", node.primary.port) as proxy:
        deployment = deploy(node, tmp_path / "service", port=proxy.port)
        database = deployment.service.folder / "inventory.db"

        def pending() -> bool:
            with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
                rows = db.execute("SELECT COUNT(*) FROM audit_events WHERE outcome = 'pending'").fetchone()
            return bool(rows[0])

        try:
            victims = _sigkill_mid_sweep(deployment, node, crowd, proxy, pending)
            _check_trail(deployment, node, victims)
        finally:
            deployment.close()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer(ensure_bin_dir())
    server.start()
    yield server
    server.stop()


def test_the_same_with_a_postgresql_inventory(
    node: SandboxInstance, crowd: Crowd, postgres: PostgresServer, tmp_path: Path
) -> None:
    with FaultProxy("127.0.0.1", node.primary.port) as proxy:
        url = postgres.create_database("sigkill_inventory")
        deployment = deploy(node, tmp_path / "service", port=proxy.port, database_url=url)

        def pending() -> bool:
            out = postgres.sql(
                "\\c sigkill_inventory\nSELECT COUNT(*) FROM audit_events WHERE outcome = 'pending';"
            )
            return int(out.split()[-1]) > 0

        try:
            victims = _sigkill_mid_sweep(deployment, node, crowd, proxy, pending)
            _check_trail(deployment, node, victims)
        finally:
            deployment.close()


# -- 2. faults between the service and its node ---------------------------------------------------------
@pytest.fixture
def proxied(node: SandboxInstance, tmp_path: Path) -> Iterator[tuple[Deployment, FaultProxy]]:
    with FaultProxy("127.0.0.1", node.primary.port) as proxy:
        deployment = deploy(node, tmp_path / "service", port=proxy.port)
        try:
            yield deployment, proxy
        finally:
            deployment.close()


def _apply(proxy: FaultProxy, fault: str) -> None:
    if fault == "blackhole":
        proxy.blackhole()
    elif fault == "reset":
        proxy.reset_peer()
    else:  # cut the next answer after its first bytes (a result set halfway)
        proxy.cut_after(64, once=True)


CALLS: dict[str, Callable[[Deployment, list[int]], httpx.Response]] = {
    "list": lambda d, ids: d.call("GET"),
    "delete": lambda d, ids: d.call("DELETE", body={"processes": ids[:20]}),
    "kill by filter": lambda d, ids: d.sweep(),
}


@pytest.mark.parametrize("fault", ["blackhole", "reset", "cut"])
@pytest.mark.parametrize("name", list(CALLS))
def test_a_node_fault_answers_the_catalogue_error_in_time_and_the_node_is_used_again(
    proxied: tuple[Deployment, FaultProxy], node: SandboxInstance, crowd: Crowd, fault: str, name: str
) -> None:
    deployment, proxy = proxied
    ids = crowd.open(node.primary, CROWD.user, CROWD.password, 30)
    assert deployment.call("GET").status_code == 200  # a pooled connection exists
    _apply(proxy, fault)
    elapsed, response = timed(lambda: CALLS[name](deployment, ids))
    assert_unavailable(elapsed, response)
    if name != "list":  # the trail says what is known, and nothing that is not true
        (record,) = deployment.records(request_id=response.headers["x-request-id"])
        assert record.outcome == "failed" and record.error_code == "DBS.200005"
        assert_truthful(node, record.results)
    # the node comes back: used again without restarting the service (after the short cool-down)
    proxy.heal()
    time.sleep(0.4)
    assert eventually(lambda: deployment.call("GET").status_code == 200, 5, "the node was not used again")
    print(f"\n{fault} during {name}: DBS.200005 after {elapsed:.2f}s")


def test_a_sweep_cut_halfway_reports_per_id_what_is_known(
    proxied: tuple[Deployment, FaultProxy], node: SandboxInstance, crowd: Crowd
) -> None:
    deployment, proxy = proxied
    victims = crowd.open(node.primary, CROWD.user, CROWD.password, 700)
    # the read of a sweep is as long as its dry run's; cut a little after it, among the KILL answers
    before = proxy.stats.bytes_downstream
    dry = deployment.call("POST", "/kill-by-filter", {"filter": {"user": CROWD.user}, "dry_run": True})
    assert dry.status_code == 200 and dry.json()["summary"]["would_kill"] == 700
    read_bytes = proxy.stats.bytes_downstream - before
    proxy.cut_after(read_bytes + 2000, once=True)
    elapsed, response = timed(lambda: deployment.sweep())
    assert_unavailable(elapsed, response)
    (record,) = deployment.records(request_id=response.headers["x-request-id"])
    counts = assert_truthful(node, record.results)
    assert sorted(int(r["id"]) for r in record.results) == sorted(victims)
    assert counts.get("killed", 0) > 0 and counts.get("not_sent", 0) == 200, counts
    assert set(counts) <= {"killed", "unknown", "not_sent"}
    print(f"\nsweep cut halfway: DBS.200005 after {elapsed:.2f}s; per id: {counts}")


def test_a_node_restarted_mid_sweep(node: SandboxInstance, crowd: Crowd, tmp_path: Path) -> None:
    with FaultProxy("127.0.0.1", node.primary.port) as proxy:
        deployment = deploy(node, tmp_path / "service", port=proxy.port)
        try:
            crowd.open(node.primary, CROWD.user, CROWD.password, 600)
            proxy.latency(0.3, direction="downstream")  # the sweep is slow enough to be under way
            answer = in_background(lambda: deployment.sweep())
            time.sleep(0.5)
            node.primary.crash()
            crowd.close_all()
            eventually(lambda: answer, ANSWER_BOUND + 2, "no answer from a sweep whose node died")
            (response,) = answer
            assert isinstance(response, httpx.Response)
            assert response.status_code == 500 and response.json()["error_code"] == "DBS.200005"
            proxy.heal()
            node.primary.start_again()
            # the same node, the same port, a new server: used again, nothing restarted here
            assert eventually(lambda: deployment.call("GET").status_code == 200, 10, "not used again")
            (record,) = deployment.records(request_id=response.headers["x-request-id"])
            assert record.outcome == "failed"
            assert all(r["outcome"] in {"killed", "unknown", "not_sent"} for r in record.results)
        finally:
            deployment.close()


def test_sigterm_lets_the_kill_in_flight_finish_and_answer(
    proxied: tuple[Deployment, FaultProxy], node: SandboxInstance, crowd: Crowd
) -> None:
    deployment, proxy = proxied
    victims = crowd.open(node.primary, CROWD.user, CROWD.password, 50)
    assert deployment.call("GET").status_code == 200  # a pooled connection: no handshake under latency
    proxy.latency(0.25, direction="downstream")
    answer = in_background(lambda: deployment.sweep())
    time.sleep(0.2)
    process = deployment.service.process
    assert process is not None
    process.send_signal(signal.SIGTERM)
    (response,) = eventually(lambda: answer, 15, "the call in flight was not answered")
    assert isinstance(response, httpx.Response) and response.status_code == 200, response
    assert response.json()["summary"]["killed"] == 50
    # then the process ends, after an orderly shutdown (uvicorn re-raises the SIGTERM it caught)
    assert process.wait(15) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in deployment.service.log_text()
    assert alive_ids(node, victims) == set()


# -- the inventory goes away --------------------------------------------------------------------------------
def test_a_postgresql_inventory_that_stops_and_starts_again(
    node: SandboxInstance, crowd: Crowd, postgres: PostgresServer, tmp_path: Path
) -> None:
    deployment = deploy(
        node, tmp_path / "service", database_url=postgres.url, TAURUS_INVENTORY_CACHE_SECONDS="0"
    )
    try:
        (victim,) = crowd.open(node.primary, CROWD.user, CROWD.password, 1)
        assert deployment.api.http.get("/readyz").status_code == 200
        postgres.halt()
        try:
            for call in (
                lambda: deployment.call("GET"),
                lambda: deployment.call("DELETE", body={"processes": [victim]}),
            ):
                elapsed, response = timed(call)
                assert response.status_code == 500, response.text
                assert response.json()["error_code"] in {"DBS.280501", "DBS.280500"}
                assert elapsed < 2 * 2 + 1, f"answered after {elapsed:.2f}s"
            ready = deployment.api.http.get("/readyz")
            assert ready.status_code == 503 and ready.json() == {"status": "unavailable"}
            assert deployment.api.http.get("/healthz").json() == {"status": "ok"}
            assert alive_ids(node, [victim]) == {victim}  # no KILL without its record
            assert deployment.service.process is not None and deployment.service.process.poll() is None
        finally:
            postgres.resume()
        assert eventually(
            lambda: deployment.call("GET").status_code == 200, 15, "not back after the inventory"
        )
        assert deployment.api.http.get("/readyz").status_code == 200
        killed = deployment.call("DELETE", body={"processes": [victim]})
        assert killed.status_code == 200 and killed.json()["processes_killed"] == [victim]
    finally:
        deployment.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB file system of its own (tmpfs): the inventory runs out of space while the rest of
    the machine does not."""
    mount = tmp_path / "small-disk"
    mount.mkdir(mode=0o700)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(mount)], check=False
    )
    if done.returncode != 0:
        pytest.skip("mounting a small file system needs root (CAP_SYS_ADMIN)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_refuses_kills_and_keeps_lists(
    node: SandboxInstance, crowd: Crowd, tmp_path: Path, small_disk: Path
) -> None:
    url = f"sqlite+aiosqlite:///{small_disk / 'inventory.db'}"
    deployment = deploy(node, tmp_path / "service", database_url=url)
    try:
        (victim,) = crowd.open(node.primary, CROWD.user, CROWD.password, 1)
        filler = small_disk / "filler"
        with filler.open("wb") as out, contextlib.suppress(OSError):
            while True:  # every last block
                out.write(b"\0" * 65536)
                out.flush()
        listed = deployment.call("GET")
        assert listed.status_code == 200 and victim in {p["id"] for p in listed.json()["processes"]}
        refused = deployment.call("DELETE", body={"processes": [victim]})
        assert refused.status_code == 500 and refused.json()["error_code"] == "DBS.280500", refused.text
        assert "nothing was killed" in refused.json()["error_msg"]
        assert alive_ids(node, [victim]) == {victim}
        filler.unlink()
        killed = deployment.call("DELETE", body={"processes": [victim]})
        assert killed.status_code == 200 and killed.json()["processes_killed"] == [victim]
    finally:
        deployment.close()


def test_ready_only_while_the_inventory_answers_with_a_current_schema(
    node: SandboxInstance, tmp_path: Path
) -> None:
    deployment = deploy(node, tmp_path / "service")
    try:
        assert deployment.api.http.get("/healthz").json() == {"status": "ok"}
        assert deployment.api.http.get("/readyz").json() == {"status": "ok"}
        database = deployment.service.folder / "inventory.db"
        with contextlib.closing(sqlite3.connect(database)) as db:
            current = db.execute("SELECT version_num FROM alembic_version").fetchone()[0]
            db.execute("UPDATE alembic_version SET version_num = '0001'")  # an older schema
            db.commit()
            stale = deployment.api.http.get("/readyz")
            assert stale.status_code == 503 and stale.json() == {"status": "unavailable"}
            assert deployment.api.http.get("/healthz").status_code == 200
            db.execute("UPDATE alembic_version SET version_num = ?", (current,))
            db.commit()
        assert deployment.api.http.get("/readyz").status_code == 200
    finally:
        deployment.close()

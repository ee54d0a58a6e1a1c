"""Attacks on a service with its protections at their defaults: floods, guessing, forged addresses,
rebinding, readable files, revoked tokens. Each test breaks something real (a flood of real HTTP
requests, real files with real modes, real sessions on a real node) and checks the protection."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import World
from support.client import Api, token_body
from support.personas import ADMIN
from support.poll import eventually
from support.service import BIN, ServiceProcess
from support.sessions import Sessions
from taurus_sessions.ids import new_instance_id, new_project_id
from taurus_sessions.inventory.audit_events import AuditQuery
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.sandbox.instance import APP_DATABASE
from taurus_sessions.sandbox.registration import Registration, create_user, register_instance

PASSWORD = "correct horse battery staple"
DOMAIN = "acme"

# The defaults of every protection (the test harness turns some off for the other tests).
DEFAULT_THROTTLES = {
    "TAURUS_RATE_LIMIT_PER_SECOND": "100",
    "TAURUS_SOURCE_RATE_LIMIT_PER_SECOND": "200",
    "TAURUS_AUTH_FAILURES_PER_SECOND": "1",
    "TAURUS_LOGIN_PER_SECOND": "0.5",
    "TAURUS_LOGIN_ACCOUNT_FAILURES_PER_SECOND": "0.1",
}


@dataclass
class Guarded:
    """A service at its defaults, behind a trusted proxy (this test), so each request may come
    from an address of the test's choosing through X-Forwarded-For."""

    service: ServiceProcess
    api: Api
    main: Registration

    @property
    def path(self) -> str:
        return Api.processes_path(self.main.project_id, self.main.instance_id, self.main.primary.node_id)

    def token(self, user: str = "alice", source: str = "10.9.9.9") -> str:
        response = self.login(user, PASSWORD, source)
        assert response.status_code == 201, response.text
        return response.headers["X-Subject-Token"]

    def login(self, user: str, password: str, source: str) -> httpx.Response:
        body = token_body(user, password, DOMAIN, project_id=self.main.project_id)
        return self.api.http.post("/v3/auth/tokens", json=body, headers={"X-Forwarded-For": source})

    def records(self, **query: Any) -> tuple[list[Any], int]:
        events, total = self.service.inventory(lambda inv: inv.audit.query(AuditQuery(**query)))
        return list(events), total


async def _populate(inventory: Inventory, world: World) -> Registration:
    main = await register_instance(inventory, world.sandbox, project_name="cn-east-3", domain=DOMAIN)
    await create_user(inventory, DOMAIN, "alice", PASSWORD, main.project_id, "admin")
    await create_user(inventory, DOMAIN, "rita", PASSWORD, main.project_id, "readonly")
    return main


def _guarded(world: World, folder: Path, **overrides: str) -> Guarded:
    service = ServiceProcess(
        folder, TAURUS_TRUSTED_PROXIES='["127.0.0.1/32"]', **{**DEFAULT_THROTTLES, **overrides}
    )
    main = service.inventory(lambda inv: _populate(inv, world))
    service.start()
    return Guarded(service, Api(service.url), main)


@pytest.fixture
def guarded(world: World, tmp_path: Path) -> Iterator[Guarded]:
    instance = _guarded(world, tmp_path / "guarded")
    yield instance
    instance.api.close()
    instance.service.stop()


def _anonymous_delete(api: Api, path: str, source: str) -> httpx.Response:
    return api.http.request("DELETE", path, json={"processes": [1]}, headers={"X-Forwarded-For": source})


# -- 1. anonymous callers do not write the audit trail row by row ---------------------------------
def test_an_anonymous_flood_adds_one_counted_record_and_is_throttled(guarded: Guarded) -> None:
    made_up = Api.processes_path(guarded.main.project_id, new_instance_id(), "x" * 36)
    _, before = guarded.records()
    statuses = [_anonymous_delete(guarded.api, made_up, "203.0.113.7").status_code for _ in range(300)]
    throttled = statuses.count(429)
    # the source's allowance of failed authentications (20 at once) is spent, then 429 before any work
    assert statuses[:20] == [401] * 20 and throttled >= 270, statuses
    eventually(lambda: [e.occurrences for e in guarded.records()[0] if e.source_ip == "203.0.113.7"] == [300])
    events, after = guarded.records()
    assert after - before == 1, f"{after - before} records for one flood"
    (record,) = [e for e in events if e.source_ip == "203.0.113.7"]
    assert (record.actor_kind, record.outcome, record.action) == ("anonymous", "refused", "unauthenticated")
    # only validated ids are kept: the real project, not the made-up node or instance
    assert (record.project_id, record.instance_id, record.node_id) == (guarded.main.project_id, None, None)
    assert record.requested["error_codes"] == {"APIGW.0301": statuses.count(401), "APIGW.0308": throttled}
    print(f"\nanonymous flood: 300 sent, {after - before} audit record(s), {throttled} answered 429")


def test_made_up_project_ids_are_not_kept_and_cannot_multiply_records(world: World, tmp_path: Path) -> None:
    loose = _guarded(world, tmp_path / "loose", TAURUS_AUTH_FAILURES_PER_SECOND="0")
    try:
        _, before = loose.records()
        for _ in range(50):  # fifty different well-formed project ids, none of them real
            path = Api.processes_path(new_project_id(), new_instance_id(), "a" * 32 + "no07")
            assert _anonymous_delete(loose.api, path, "198.51.100.4").status_code == 401
        bad_format = _anonymous_delete(
            loose.api, "/v3/not-a-project!/instances/x/nodes/y/processes", "198.51.100.4"
        )
        assert bad_format.status_code in (401, 404)
        eventually(lambda: sum(e.occurrences for e in loose.records(source_ip="198.51.100.4")[0]) >= 50)
        events, after = loose.records(source_ip="198.51.100.4")
        assert after == 1 and events[0].project_id is None
        assert loose.records()[1] - before == 1
    finally:
        loose.api.close()
        loose.service.stop()


def test_spreadsheet_formulas_are_neutralized_in_csv_exports(
    world: World, sessions: Sessions, tmp_path: Path
) -> None:
    app = world.sandbox.app
    evil = sessions.open(world.sandbox.primary, app.user, app.password, APP_DATABASE)
    evil.run_async("SELECT SLEEP(300) + 0 AS x, '=HYPERLINK(\"http://example.com\")'")
    time.sleep(0.3)
    flt = {"filter": {"info": "HYPERLINK"}}
    response = world.api.http.post(
        world.path() + "/kill-by-filter", json=flt, headers={"X-Auth-Token": world.token(ADMIN)}
    )
    assert response.status_code == 200, response.text
    out = tmp_path / "trail.csv"
    exported = world.service.cli(
        "audit", "export", "--format", "csv", "-o", str(out), "--node", world.main.primary.node_id
    )
    assert exported.returncode == 0, exported.stderr
    cells = [cell for line in out.read_text().splitlines() for cell in line.split(",")]
    assert not [c for c in cells if re.match(r'^"?[=+\-@\t\r]', c)], "a cell a spreadsheet would run"
    from taurus_sessions.csv_export import csv_cell

    assert csv_cell("=1+1") == "'=1+1" and csv_cell("@SUM(A1)") == "'@SUM(A1)" and csv_cell("\tx") == "'\tx"
    assert csv_cell("-2") == "'-2" and csv_cell(-2) == -2 and csv_cell("plain") == "plain"


# -- 2. guessing passwords, starving sign-ins, locking out access keys ----------------------------
def test_password_guessing_is_throttled_before_any_hash(guarded: Guarded) -> None:
    statuses = []
    for _ in range(100):
        statuses.append(guarded.login("alice", "wrong password", "192.0.2.66").status_code)
    first_429 = statuses.index(429) + 1
    assert statuses[: first_429 - 1] == [401] * (first_429 - 1) and first_429 <= 11, statuses
    assert statuses.count(429) >= 85
    print(f"\nlogin guessing: first 429 after {first_429 - 1} wrong passwords (100 tried)")


def test_guessing_from_many_addresses_cannot_lock_a_user_out_of_her_own_place(guarded: Guarded) -> None:
    assert guarded.login("alice", PASSWORD, "10.0.0.9").status_code == 201  # her usual place
    # a stranger spreads guesses over many addresses: the account's allowance of failures runs out
    guesses = [guarded.login("alice", f"guess {i}", f"198.18.{i}.1").status_code for i in range(12)]
    assert 429 in guesses and guesses[:5] == [401] * 5, guesses
    # … which slows the stranger, not alice where she signed in before
    assert guarded.login("alice", PASSWORD, "10.0.0.9").status_code == 201
    # and only for a while: the allowance refills (one failure per 10 s)
    assert guarded.login("alice", PASSWORD, "10.0.0.10").status_code == 429
    time.sleep(10.5)
    assert guarded.login("alice", PASSWORD, "10.0.0.10").status_code == 201


def test_a_pile_of_junk_sign_ins_cannot_make_a_real_one_wait(guarded: Guarded) -> None:
    """Junk logins from many addresses for many accounts pass every bucket; only the bound on the
    hashing queue keeps them from delaying a real sign-in behind them."""

    def junk(i: int) -> int:
        with httpx.Client(base_url=guarded.service.url, timeout=60) as client:
            body = token_body(f"nobody{i}", "x" * 12, DOMAIN, project_id=guarded.main.project_id)
            return client.post(
                "/v3/auth/tokens", json=body, headers={"X-Forwarded-For": f"100.64.{i}.1"}
            ).status_code

    with ThreadPoolExecutor(60) as pool:
        pending = [pool.submit(junk, i) for i in range(60)]
        time.sleep(0.2)
        started = time.monotonic()
        real = guarded.login("alice", PASSWORD, "10.0.0.9")
        waited = time.monotonic() - started
        statuses = [f.result() for f in pending]
    assert statuses.count(429) > 0 and set(statuses) <= {401, 429}
    assert real.status_code in (201, 429)
    assert waited < 3.0, f"a real sign-in waited {waited:.1f}s behind junk"


def test_bad_signatures_lock_an_access_key_only_for_the_address_that_sent_them(guarded: Guarded) -> None:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: F401 (the SDK is installed)

    async def key(inv: Inventory) -> tuple[str, str]:
        user = await inv.users.find_user(DOMAIN, "alice")
        assert user is not None
        created, sk = await inv.access_keys.create(user.id)
        return created.ak, sk.get_secret_value()

    ak, sk = guarded.service.inventory(key)

    def signed_list(secret: str, source: str) -> httpx.Response:
        from taurus_sessions.auth.signing import sign_request

        url = guarded.service.url + guarded.path
        headers = sign_request("GET", url, {"X-Project-Id": guarded.main.project_id}, b"", ak, secret)
        return guarded.api.http.get(guarded.path, headers={**headers, "X-Forwarded-For": source})

    for _ in range(5):
        assert signed_list("w" * 40, "203.0.113.99").status_code == 401
    locked = signed_list(sk, "203.0.113.99")
    assert locked.status_code == 401 and locked.json()["error_msg"].endswith("reach the limit,forbidden")
    assert signed_list(sk, "10.0.0.7").status_code == 200  # the owner, elsewhere, is not locked out


# -- 3. private files --------------------------------------------------------------------------------
def _cli(data: Path, *args: str, umask: int = 0o022, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAURUS_")}
    env |= {"TAURUS_DATA_DIR": str(data), "TAURUS_PORT": "0"}
    return subprocess.run(
        [str(BIN), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=lambda: os.umask(umask),
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_makes_every_file_private_whatever_the_umask(tmp_path: Path) -> None:
    data = tmp_path / "share" / "taurus"
    assert _cli(data, "init").returncode == 0
    assert (
        _mode(data) == 0o700 and _mode(data / "master.key") == 0o600 and _mode(data / "inventory.db") == 0o600
    )
    # the SQLite journal files take the inventory's mode
    created = _cli(data, "project", "create", "p1", "--domain", "d")
    assert created.returncode == 0, created.stderr
    wal = [p for p in data.iterdir() if p.name.startswith("inventory.db-")]
    for path in wal:
        assert _mode(path) == 0o600, (path, oct(_mode(path)))
    assert {p.name for p in data.iterdir()} <= {
        "master.key",
        "inventory.db",
        "inventory.db-wal",
        "inventory.db-shm",
    }


@pytest.mark.parametrize(
    ("target", "loosen", "fix"),
    [("", 0o755, "chmod 700"), ("master.key", 0o644, "chmod 600"), ("inventory.db", 0o640, "chmod 600")],
)
def test_serve_refuses_files_other_users_can_read(tmp_path: Path, target: str, loosen: int, fix: str) -> None:
    data = tmp_path / "data"
    assert _cli(data, "init").returncode == 0
    exposed = data / target if target else data
    exposed.chmod(loosen)
    refused = _cli(data, "serve", timeout=30)
    assert refused.returncode != 0
    assert str(exposed) in refused.stderr and f"{fix} {exposed}" in refused.stderr, refused.stderr


# -- 4. the client address ------------------------------------------------------------------------------
def test_forwarded_for_is_believed_only_from_trusted_proxies(world: World, guarded: Guarded) -> None:
    def recorded_source(api: Api, token: str, path: str, forwarded: str) -> str | None:
        response = api.http.request(
            "DELETE",
            path,
            json={"processes": [1]},
            headers={"X-Auth-Token": token, "X-Forwarded-For": forwarded},
        )
        assert response.status_code == 200, response.text
        service = world.service if api is world.api else guarded.service
        events, _ = service.inventory(
            lambda inv: inv.audit.query(AuditQuery(request_id=response.headers["x-request-id"]))
        )
        return events[0].source_ip

    # no trusted proxy configured: a local client cannot pose as another address
    assert recorded_source(world.api, world.token(ADMIN), world.path(), "1.2.3.4") == "127.0.0.1"
    token = guarded.token()
    # behind a trusted proxy: the rightmost hop the proxy did not write itself
    assert recorded_source(guarded.api, token, guarded.path, "6.6.6.6, 5.6.7.8") == "5.6.7.8"
    assert recorded_source(guarded.api, token, guarded.path, "5.6.7.8, 127.0.0.1") == "5.6.7.8"
    # a hop that is not an IP address is not believed at all
    assert recorded_source(guarded.api, token, guarded.path, "1.2.3.4, evil<script>") == "127.0.0.1"


# -- 8. headers, sign-out, password change, key rotation ---------------------------------------------------
def test_security_headers_on_the_console_and_the_api(world: World) -> None:
    for path in ("/console/", "/openapi.json", world.path()):
        response = world.api.http.get(path, headers={"X-Auth-Token": world.token(ADMIN)})
        assert response.status_code == 200
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_signing_out_revokes_the_token_on_the_server(guarded: Guarded) -> None:
    token, other = guarded.token(), guarded.token()
    assert guarded.api.list(token, guarded.path).status_code == 200
    revoked = guarded.api.http.delete(
        "/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}
    )
    assert revoked.status_code == 204
    gone = guarded.api.list(token, guarded.path)
    assert gone.status_code == 401 and gone.json()["error_code"] == "APIGW.0307"
    assert guarded.api.list(other, guarded.path).status_code == 200  # only that token
    # a user may not sign out someone else's token
    rita = guarded.token("rita")
    foreign = guarded.api.http.delete(
        "/v3/auth/tokens", headers={"X-Auth-Token": rita, "X-Subject-Token": other}
    )
    assert foreign.status_code == 403 and guarded.api.list(other, guarded.path).status_code == 200
    # after a restart too (the revocation is in the inventory, not only in memory)
    guarded.service.restart()
    assert guarded.api.list(token, guarded.path).status_code == 401


def test_a_password_change_ends_the_users_tokens(guarded: Guarded) -> None:
    token = guarded.token("rita")
    changed = guarded.service.cli(
        "user",
        "password",
        "rita",
        "--domain",
        DOMAIN,
        "--password-env",
        "NEW",
        env={"NEW": "a brand new password"},
    )
    assert changed.returncode == 0, changed.stderr
    refused = guarded.api.list(token, guarded.path)
    assert refused.status_code == 401 and refused.json()["error_code"] == "APIGW.0307"
    fresh = guarded.login("rita", "a brand new password", "10.1.1.1")
    assert fresh.status_code == 201
    assert guarded.api.list(fresh.headers["X-Subject-Token"], guarded.path).status_code == 200


def test_rotating_keys_with_keep_one_ends_every_older_token(guarded: Guarded) -> None:
    token = guarded.token()
    rotated = guarded.service.cli("keys", "rotate", "--keep", "1")
    assert rotated.returncode == 0, rotated.stderr
    eventually(lambda: guarded.api.list(token, guarded.path).status_code == 401)
    assert guarded.api.list(guarded.token(), guarded.path).status_code == 200


# -- 12. the Host allow-list -------------------------------------------------------------------------------
def test_a_page_rebound_to_loopback_cannot_drive_the_api(world: World) -> None:
    token = world.token(ADMIN)
    rebound = world.api.http.get(
        world.path(), headers={"X-Auth-Token": token, "Host": "attacker.example:8080"}
    )
    assert rebound.status_code == 400 and rebound.json()["error_code"] == "DBS.200001"
    assert "Host" in rebound.json()["error_msg"]
    for host in (f"127.0.0.1:{world.service.port}", f"localhost:{world.service.port}", "localhost"):
        assert (
            world.api.http.get(world.path(), headers={"X-Auth-Token": token, "Host": host}).status_code == 200
        )


def test_settings_read_a_dotenv_file_only_when_named(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TAURUS_LOG_LEVEL=DEBUG\n")
    probe = "from taurus_sessions.settings import Settings; print(Settings.load().log_level)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAURUS_")}

    def run(extra: dict[str, str]) -> str:
        return subprocess.run(
            [str(BIN.with_name("python")), "-c", probe],
            cwd=tmp_path,
            env={**env, **extra},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert run({}) == "INFO"
    assert run({"TAURUS_ENV_FILE": str(tmp_path / ".env")}) == "DEBUG"

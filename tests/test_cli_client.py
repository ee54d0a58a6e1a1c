"""The audit API, and the CLI client's extension commands (kill by filter, guard, tasks, audit, profiles)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from conftest import World, open_app_sessions
from support.personas import ADMIN, AUDITOR, DOMAIN, OUTSIDER, READONLY, Persona
from support.poll import eventually
from support.sessions import Sessions, wait_for_state, wait_gone
from taurus_sessions.cli.api_client import ClientConfigError, load_profile
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.sandbox.instance import Account


@pytest.fixture(scope="module")
def env(world: World) -> dict[str, str]:
    async def work(inv: Inventory) -> tuple[str, str]:
        user = await inv.users.find_user(DOMAIN, ADMIN.name)
        assert user is not None
        key, sk = await inv.access_keys.create(user.id, "cli tests")
        return key.ak, sk.get_secret_value()

    ak, sk = world.service.inventory(work)
    return {
        "HUAWEICLOUD_SDK_AK": ak,
        "HUAWEICLOUD_SDK_SK": sk,
        "HUAWEICLOUD_SDK_PROJECT_ID": world.main.project_id,
        "TAURUS_ENDPOINT": world.service.url,
    }


def where(world: World) -> list[str]:
    return ["--instance", world.main.instance_id, "--node", world.main.primary.node_id]


# -- the audit API ------------------------------------------------------------------------------
def test_audit_events_api_filters_pages_and_guards(world: World, sessions: Sessions) -> None:
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]
    killed = world.api.kill(world.token(ADMIN), world.path(), [victim.id])
    refused = world.api.kill(world.token(READONLY), world.path(), [victim.id])
    world.api.kill(world.token(ADMIN), world.path(), [123456789])  # a third record to page through
    url = f"/v3/{world.main.project_id}/audit-events"

    def get(who: Persona, **params: Any) -> dict[str, Any]:
        response = world.api.http.get(url, params=params, headers={"X-Auth-Token": world.token(who)})
        assert response.status_code == 200, response.text
        return dict(response.json())

    mine = get(AUDITOR, request_id=killed.headers["x-request-id"])
    assert mine["total_count"] == 1
    (event,) = mine["events"]
    assert event["outcome"] == "ok" and event["results"][0]["id"] == victim.id
    refusals = get(ADMIN, outcome="refused", actor=READONLY.display_name, node_id=world.main.primary.node_id)
    assert refused.headers["x-request-id"] in {e["request_id"] for e in refusals["events"]}
    page = get(ADMIN, limit=2, offset=1)
    assert len(page["events"]) == 2 and page["total_count"] >= 3
    newest_first = [e["id"] for e in get(ADMIN, limit=10)["events"]]
    assert newest_first == sorted(newest_first, reverse=True)
    assert get(ADMIN, since="2999-01-01T00:00:00")["events"] == []

    for who, status in ((READONLY, 403), (OUTSIDER, 403)):
        response = world.api.http.get(url, headers={"X-Auth-Token": world.token(who)})
        assert response.status_code == status and response.json()["error_code"] == "DBS.200010"
    bad = world.api.http.get(url, params={"outcome": "great"}, headers={"X-Auth-Token": world.token(ADMIN)})
    assert bad.status_code == 400 and bad.json()["error_code"] == "DBS.200001"
    other = world.api.http.get(
        f"/v3/{world.other.project_id}/audit-events", headers={"X-Auth-Token": world.token(OUTSIDER)}
    )
    assert victim.id not in {r["id"] for e in other.json()["events"] for r in e["results"]}


# -- CLI client ---------------------------------------------------------------------------------
def test_cli_kill_by_filter_and_guard(
    world: World, env: dict[str, str], sessions: Sessions, reporter: Account
) -> None:
    reps = [sessions.open(world.sandbox.primary, reporter.user, reporter.password, None) for _ in range(2)]
    cli = world.service.cli

    dry = cli("processes", "kill-by-filter", *where(world), "--user", reporter.user, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "would_kill" in dry.stdout and "matched 2" in dry.stderr
    assert all(s.alive() for s in reps)

    guarded = cli(
        "processes", "kill", str(reps[0].id), *where(world), "--expect-user", "somebody", "--json", env=env
    )
    assert json.loads(guarded.stdout)["results"][0]["outcome"] == "changed"
    assert reps[0].alive()

    swept = cli("processes", "kill-by-filter", *where(world), "--user", reporter.user, "--json", env=env)
    assert {r["id"] for r in json.loads(swept.stdout)["results"]} == {s.id for s in reps}
    assert wait_gone(world.sandbox.primary, {s.id for s in reps}) == set()

    empty = cli("processes", "kill-by-filter", *where(world), env=env)
    assert empty.returncode == 1 and "DBS.200001" in empty.stderr


def test_cli_tasks(world: World, env: dict[str, str], sessions: Sessions, reporter: Account) -> None:
    cli = world.service.cli
    created = cli(
        "task",
        "create",
        *where(world),
        "--user",
        reporter.user,
        "--interval",
        "1",
        "--until-stopped",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    task_id = created.stdout.strip()
    try:
        rep = sessions.open(world.sandbox.primary, reporter.user, reporter.password, None)
        assert wait_gone(world.sandbox.primary, {rep.id}, timeout=8) == set()
        # Every client group takes the same connection options, here a region instead of a project id.
        by_region = {k: v for k, v in env.items() if k != "HUAWEICLOUD_SDK_PROJECT_ID"}
        region = ("--region", world.main.project_name, "--iam-endpoint", world.service.url)
        listed = cli("task", *region, "list", "--state", "running", env=by_region)
        assert task_id in listed.stdout and "until stopped" in listed.stdout, listed.stderr

        def recent_victims() -> set[int]:  # the pass records its victims once their KILLs are done
            shown = cli("task", "show", task_id, "--json", env=env)
            return {int(v["id"]) for v in json.loads(shown.stdout)["recent_victims"]}

        assert rep.id in eventually(recent_victims, timeout=5, message="the task's victims")
    finally:
        stopped = cli("task", "stop", task_id, env=env)
    assert stopped.returncode == 0 and stopped.stdout.strip().endswith("stopped")


def test_cli_audit_through_the_api(
    world: World, env: dict[str, str], sessions: Sessions, tmp_path: Path
) -> None:
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]
    killed = world.api.kill(world.token(ADMIN), world.path(), [victim.id])
    listed = world.service.cli("audit", "list", "--api", "--outcome", "ok", "--format", "jsonl", env=env)
    assert listed.returncode == 0, listed.stderr
    assert killed.headers["x-request-id"] in {
        json.loads(line)["request_id"] for line in listed.stdout.splitlines()
    }
    out = tmp_path / "trail.jsonl"
    exported = world.service.cli(
        "audit", "export", "--api", "-o", str(out), "--actor", ADMIN.display_name, env=env
    )
    assert exported.returncode == 0, exported.stderr
    assert all(json.loads(line)["actor_name"] == ADMIN.display_name for line in out.read_text().splitlines())


def test_cli_realtime_session_collection(
    world: World, env: dict[str, str], sessions: Sessions, tmp_path: Path
) -> None:
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]
    victim.run_async("SELECT SLEEP(60) AS cli_realtime")
    wait_for_state(world.sandbox.primary, victim.id, "Query")
    cli = world.service.cli
    realtime = ("diagnosis", "realtime")
    collected = cli(
        *realtime, "collect", *where(world), "--filter", "active", "--sql-key", "CLI_REALTIME",
        "--sort-key", "state_duration", "--desc", "--wait", env=env,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stderr
    request_id = collected.stdout.strip()
    assert cli(*realtime, "status", request_id, *where(world), env=env).stdout.strip() == "finished"
    out = tmp_path / "sessions.csv"
    saved = cli(*realtime, "download", request_id, *where(world), "--output", str(out), env=env)
    assert saved.returncode == 0, saved.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [int(row["id"]) for row in rows] == [victim.id] and rows[0]["info"].endswith("cli_realtime")
    printed = cli(*realtime, "download", request_id, *where(world), env=env)
    assert printed.stdout == out.read_text() and printed.stdout.startswith("id,user,host,db,command,")

    started = cli(*realtime, "collect", *where(world), env=env)  # without --wait: the id at once
    assert started.returncode == 0 and len(started.stdout.strip()) == 36
    unknown = str(uuid.uuid4())
    assert cli(*realtime, "status", unknown, *where(world), env=env).stdout.strip() == "unrecognized"
    missing = cli(*realtime, "download", unknown, *where(world), env=env)
    assert missing.returncode == 1 and "DBS.280412" in missing.stderr
    wrong = cli(*realtime, "collect", *where(world), "--filter", "everything", env=env)
    assert wrong.returncode == 2 and "everything" in wrong.stderr


# -- profiles -----------------------------------------------------------------------------------
def test_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_PROJECT_ID", "TAURUS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    secret = tmp_path / "sk"
    secret.write_text("S" * 40 + "\n")
    secret.chmod(0o600)
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        f'[default]\nendpoint = "http://127.0.0.1:1/"\nak = "AK1"\nsk_file = "{secret}"\nproject_id = "p1"\n'
        '[inline]\nendpoint = "http://h"\nak = "AK2"\nsk = "inline-secret"\nregion = "cn-north-4"\n'
    )
    profiles.chmod(0o600)
    default = load_profile(None, profiles_file=profiles)
    assert (default.endpoint, default.ak, default.project_id) == ("http://127.0.0.1:1", "AK1", "p1")
    assert default.sk.get_secret_value() == "S" * 40 and "S" * 40 not in repr(default)
    inline = load_profile("inline", profiles_file=profiles, endpoint="http://override")
    assert (inline.endpoint, inline.region, inline.sk.get_secret_value()) == (
        "http://override",
        "cn-north-4",
        "inline-secret",
    )
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", "FROMENV")
    assert load_profile(None, profiles_file=profiles).ak == "FROMENV"

    profiles.chmod(0o644)
    with pytest.raises(ClientConfigError, match="chmod 600"):
        load_profile("inline", profiles_file=profiles)
    # an SK in a file of its own is held to the same rule as one written in the profile
    profiles.chmod(0o600)
    secret.chmod(0o644)
    with pytest.raises(ClientConfigError, match=f"chmod 600 {secret}"):
        load_profile(None, profiles_file=profiles)
    with pytest.raises(ClientConfigError, match="no profile"):
        load_profile("missing", profiles_file=profiles)

"""Every kill call leaves an audit record before the answer: successful, refused and failed ones."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from conftest import World, open_app_sessions
from support.personas import ADMIN, OUTSIDER, READONLY
from support.sessions import Session, Sessions, thread_ids
from taurus_sessions.inventory.audit_events import AuditQuery
from taurus_sessions.inventory.models import AuditEvent
from taurus_sessions.sandbox.instance import APP_DATABASE


def record_of(world: World, request_id: str) -> AuditEvent:
    events, total = world.service.inventory(lambda inv: inv.audit.query(AuditQuery(request_id=request_id)))
    assert total == 1, f"expected one audit record for {request_id}, found {total}"
    return events[0]


def test_successful_kill_is_recorded_with_what_each_thread_was(
    world: World, sessions: Sessions, metric_session: Session
) -> None:
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]
    internal = sorted(thread_ids(world.sandbox.primary, "USER = 'rdsMetric'"))[0]

    response = world.api.kill(world.token(ADMIN), world.path(), [victim.id, internal, 777777777])

    event = record_of(world, response.headers["x-request-id"])
    assert event.action == "deleteProcesses"
    assert event.outcome == "ok" and event.http_status == 200 and event.error_code is None
    assert event.actor_kind == "user" and event.actor_name == ADMIN.display_name
    assert event.source_ip == "127.0.0.1"
    assert (event.project_id, event.instance_id, event.node_id) == (
        world.main.project_id,
        world.main.instance_id,
        world.main.primary.node_id,
    )
    assert event.mode == "connection"
    assert event.requested == {"processes": [victim.id, internal, 777777777]}
    killed, hidden, missing = event.results
    assert killed["id"] == victim.id and killed["outcome"] == "killed"
    assert (killed["user"], killed["db"], killed["command"]) == (
        world.sandbox.app.user,
        APP_DATABASE,
        "Sleep",
    )
    assert killed["host"].startswith("127.0.0.1:")
    assert hidden == {"id": internal, "outcome": "internal"}  # recorded truthfully, nothing about it revealed
    assert missing == {"id": 777777777, "outcome": "not_found"}
    assert event.duration_ms is not None and event.duration_ms > 0


def test_refused_kills_are_recorded(world: World, sessions: Sessions) -> None:
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]

    # (a caller who never authenticates is counted per address and minute: tests/test_security.py)
    readonly = world.api.kill(world.token(READONLY), world.path(), [victim.id])
    bad_body = world.api.kill(world.token(ADMIN), world.path(), body=b'{"processes": "all"}')
    empty = world.api.kill(world.token(ADMIN), world.path(), body=b"")
    wrong_project = world.api.kill(world.token(OUTSIDER), world.path(), [victim.id])

    expected = [
        (readonly, "user", READONLY.display_name, 403, "DBS.200010"),
        (bad_body, "user", ADMIN.display_name, 400, "DBS.200001"),
        (empty, "user", ADMIN.display_name, 400, "DBS.200006"),
        (wrong_project, "user", OUTSIDER.display_name, 403, "DBS.200010"),
    ]
    for response, kind, actor, status, code in expected:
        assert response.status_code == status
        event = record_of(world, response.headers["x-request-id"])
        assert event.outcome == "refused"
        assert (event.actor_kind, event.actor_name, event.http_status, event.error_code) == (
            kind,
            actor,
            status,
            code,
        )
        assert event.results == []
    assert record_of(world, readonly.headers["x-request-id"]).requested == {"processes": [victim.id]}
    assert victim.alive()


def test_cli_lists_filters_and_exports_the_trail(world: World, sessions: Sessions, tmp_path: Path) -> None:
    victim = open_app_sessions(world.sandbox, sessions, 1)[0]
    ok = world.api.kill(world.token(ADMIN), world.path(), [victim.id])
    refused = world.api.kill(world.token(READONLY), world.path(), [victim.id])
    assert ok.status_code == 200 and refused.status_code == 403

    listed = world.service.cli(
        "audit",
        "list",
        "--project",
        world.main.project_id,
        "--actor",
        READONLY.display_name,
        "--format",
        "jsonl",
    )
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert rows and all(r["actor_name"] == READONLY.display_name for r in rows)
    assert refused.headers["x-request-id"] in {r["request_id"] for r in rows}

    table = world.service.cli(
        "audit", "list", "--node", world.main.primary.node_id, "--outcome", "ok", "--limit", "5"
    )
    assert table.returncode == 0 and "deleteProcesses" in table.stdout and "refused" not in table.stdout

    out = tmp_path / "trail.csv"
    exported = world.service.cli("audit", "export", "--format", "csv", "-o", str(out), "--outcome", "ok")
    assert exported.returncode == 0, exported.stderr
    records = list(csv.DictReader(io.StringIO(out.read_text())))
    mine = [r for r in records if r["request_id"] == ok.headers["x-request-id"]]
    assert len(mine) == 1
    assert json.loads(mine[0]["results"])[0]["id"] == victim.id

    since = world.service.cli("audit", "list", "--since", "2999-01-01T00:00:00", "--format", "json")
    assert since.returncode == 0 and json.loads(since.stdout) == []
    bad = world.service.cli("audit", "list", "--since", "yesterday")
    assert bad.returncode != 0 and "ISO" in bad.stderr

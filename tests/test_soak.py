"""The soak for one minute: the mixed load against two real nodes while one is blackholed and the
other crashed and started again; every invariant of the run must hold. And the checker itself,
on made-up runs: a lie of the trail or an error outside a fault must not go unnoticed."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOAK_MINUTES = 1
BOUND_SECONDS = 170  # set-up, one minute of load, the checks, tear-down; well under 3 minutes


def _bench(module: str) -> Any:
    # The benchmark lives next to the package, not in it: import it from the repository.
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(module)


@pytest.fixture(scope="module")
def soak_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("soak-out")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--minutes", str(SOAK_MINUTES), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BOUND_SECONDS,
        check=False,
    )
    elapsed = time.monotonic() - started
    print(f"\n{done.stdout}\nsoak of {SOAK_MINUTES} min took {elapsed:.0f} s")
    written = list(out.glob("soak-*.json"))
    assert len(written) == 1, f"no report (exit {done.returncode}):\n{done.stderr[-3000:]}"
    path = written[0]
    document: dict[str, Any] = json.loads(path.read_text())
    document["exit_status"] = done.returncode
    document["stderr_tail"] = done.stderr[-3000:]
    return document


@pytest.mark.soak
@pytest.mark.timeout(BOUND_SECONDS + 10)
def test_every_invariant_holds_through_a_blackhole_and_a_restart(soak_run: dict[str, Any]) -> None:
    failed = [i for i in soak_run["invariants"] if not i["ok"]]
    assert not failed, json.dumps(failed, indent=1)
    assert soak_run["ok"] and soak_run["exit_status"] == 0, soak_run["stderr_tail"]
    kinds = sorted((f["kind"], f["node"]) for f in soak_run["faults"])
    assert kinds == [("blackhole", "replica"), ("restart", "primary")]
    assert all(f["end_s"] is not None for f in soak_run["faults"])


@pytest.mark.soak
def test_the_figures_say_what_was_checked(soak_run: dict[str, Any]) -> None:
    requests = soak_run["requests"]
    assert requests["errors_5xx"]["other"] == 0
    assert requests["errors_5xx"]["node_errors_while_faulted"] > 0  # the faults were felt
    for op in ("delete", "kill_by_filter", "list_filtered", "console_list", "audit_page", "permissions"):
        assert requests["by_operation"][op]["statuses"].get("200", 0) > 0, op
    audit = soak_run["audit"]
    assert audit["records_by_outcome"].get("pending", 0) == 0
    assert audit["kill_calls_answered"] == sum(audit["kill_calls"].values())
    assert audit["task_pass_records_with_kills"] > 0
    assert soak_run["task"]["state"] == "stopped" and soak_run["task"]["victims_killed"] > 0
    sessions = soak_run["sessions"]
    assert sessions["seen_gone"] > 100
    assert {"storm", "sweep", "task", "bystander"} <= set(sessions["by_purpose"])
    resources = soak_run["resources"]
    for figure in ("rss_mib", "fds"):
        assert {"start", "end", "max", "growth"} <= set(resources[figure])
    assert soak_run["load_seconds"] >= SOAK_MINUTES * 60


# -- the checker on made-up runs ---------------------------------------------------------------------
NODE_ID = "n1"
T0 = 1_000_000.0


def _inputs(**changes: Any) -> Any:
    verify = _bench("bench.soak.verify")
    schedule = _bench("bench.soak.schedule")
    client = _bench("bench.soak.client")
    ledger = _bench("bench.soak.ledger")
    faults = schedule.FaultLog(grace=5.0)
    faults.begin("primary", "blackhole", T0 + 100).end = T0 + 110
    delete = client.Call(
        "delete", "primary", "DELETE", T0 + 50, T0 + 50.1, 200, None, "r1", body={"processes_killed": [7]}
    )
    session = ledger.Session(NODE_ID, "storm", "soak_storm", 7, 5000, 0, T0 + 49, None)
    session.state, session.alive_seen_at, session.gone_seen_at = ledger.GONE, T0 + 49.5, T0 + 50.2
    record = {
        "id": 1,
        "at": _iso(T0 + 50),
        "duration_ms": 20.0,
        "request_id": "r1",
        "action": "deleteProcesses",
        "node_id": NODE_ID,
        "outcome": "ok",
        "http_status": 200,
        "error_code": None,
        "results": [{"id": 7, "outcome": "killed", "user": "soak_storm", "host": "127.0.0.1:5000"}],
    }
    values: dict[str, Any] = {
        "calls": [delete],
        "faults": faults,
        "sessions": [session],
        "node_names": {NODE_ID: "primary"},
        "records": [record],
        "task_id": None,
        "task": None,
        "task_node": "primary",
        "final_threads": {NODE_ID: set()},
        "pending_after_wait": 0,
        "resources": {},
        "faults_planned": 1,
    }
    values.update(changes)
    return verify.Checks(verify.Inputs(**values))


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def test_the_checker_accepts_a_consistent_run() -> None:
    checks = _inputs()
    for invariant in (
        checks.one_record_per_kill_call(),
        checks.answers_match_the_trail(),
        checks.audited_kills_are_gone(),
        checks.every_disappearance_audited(),
        checks.no_5xx_outside_faults(),
    ):
        assert invariant.ok, invariant


def test_a_disappearance_no_record_explains_is_caught() -> None:
    checks = _inputs(records=[])
    assert not checks.every_disappearance_audited().ok
    assert not checks.one_record_per_kill_call().ok


def test_a_session_seen_alive_after_its_reported_kill_is_caught() -> None:
    checks = _inputs()
    (session,) = checks.i.sessions
    session.alive_seen_at = T0 + 60
    assert not checks.audited_kills_are_gone().ok


def test_a_kill_reported_twice_is_caught() -> None:
    checks = _inputs()
    again = dict(checks.i.records[0], id=2, request_id="r2")
    assert not _inputs(records=[checks.i.records[0], again]).every_disappearance_audited().ok


def test_node_errors_are_allowed_only_on_the_faulted_node_within_the_grace() -> None:
    client = _bench("bench.soak.client")

    def error(node: str, at: float) -> Any:
        return client.Call("list_filtered", node, "GET", at, at + 0.01, 500, "DBS.200005", "x")

    assert _inputs(calls=[error("primary", T0 + 105), error("primary", T0 + 114)]).no_5xx_outside_faults().ok
    assert not _inputs(calls=[error("primary", T0 + 116)]).no_5xx_outside_faults().ok
    assert not _inputs(calls=[error("replica", T0 + 105)]).no_5xx_outside_faults().ok


def test_thread_ids_that_come_back_after_a_restart_name_different_sessions() -> None:
    ledger = _bench("bench.soak.ledger")
    checks = _inputs()
    checks.i.faults.begin("primary", "restart", T0 + 200).end = T0 + 205
    (before,) = checks.i.sessions
    after = ledger.Session(NODE_ID, "storm", "soak_storm", 7, 5000, 1, T0 + 299, None)
    after.state, after.alive_seen_at = ledger.GONE, T0 + 299.5
    later = dict(checks.i.records[0], id=2, request_id="r2", at=_iso(T0 + 300))
    rerun = _inputs(sessions=[before, after], records=[checks.i.records[0], later], faults=checks.i.faults)
    assert rerun.audited_kills_are_gone().ok
    assert rerun.every_disappearance_audited().ok

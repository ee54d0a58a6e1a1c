"""`taurus-sessions demo` as a user runs it: the printed curl commands work, SIGTERM cleans up."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pymysql
import pytest

from support.demo import Demo, running_demo
from support.poll import poll


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("demo")
    with running_demo(folder) as running:
        mode = stat.S_IMODE((folder / "demo.json").stat().st_mode)
        assert mode == 0o600, oct(mode)
        yield running


def test_manifest_has_everything_a_client_needs(demo: Demo) -> None:
    m = demo.manifest
    assert str(m["endpoint"]).startswith("http://127.0.0.1:")
    assert re.fullmatch(r"[0-9a-f]{32}", str(m["project_id"]))
    assert str(m["instance_id"]).endswith("in07") and len(str(m["instance_id"])) == 36
    nodes = m["nodes"]
    assert isinstance(nodes, list)
    assert sorted(n["role"] for n in nodes) == ["master", "readreplica"]
    assert all(str(n["node_id"]).endswith("no07") for n in nodes)
    for key in ("project_name", "domain", "user", "app_account", "root_account"):
        assert m[key], key


def test_printed_curl_commands_work(demo: Demo) -> None:
    commands = [
        line.strip() for line in demo.printed_lines() if line.strip().startswith(("export TOKEN", "curl "))
    ]
    assert len(commands) == 3
    token_cmd, list_cmd, kill_cmd = commands
    victim = int(re.search(r'"processes": \[(\d+)\]', kill_cmd).group(1))  # type: ignore[union-attr]

    steps = ["set -e", token_cmd, 'test -n "$TOKEN"', "echo LIST", list_cmd, "echo; echo KILL", kill_cmd]
    script = "\n".join([*steps, "echo; echo AFTER", list_cmd])
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 0, result.stderr
    before, killed, after = (
        json.loads(part.strip()) for part in re.split(r"^(?:LIST|KILL|AFTER)$", result.stdout, flags=re.M)[1:]
    )
    assert victim in {p["id"] for p in before["processes"]}
    assert killed == {"processes_killed": [victim], "processes_not_found": []}
    assert victim not in {p["id"] for p in after["processes"]}
    assert after["total_count"] == before["total_count"] - 1
    users = {p["user"] for p in before["processes"]}
    assert users == {demo.manifest["app_account"]["user"]}


REPOSITORY = Path(__file__).resolve().parent.parent


def test_printed_access_key_command_works(demo: Demo) -> None:
    """The printed CLI client call, signed with the demo's access key as the SDKs sign."""
    lines = [line.strip() for line in demo.printed_lines()]
    start = lines.index(next(line for line in lines if line.startswith("export HUAWEICLOUD_SDK_AK=")))
    export, command = lines[start], lines[start + 1]
    assert command.startswith(".venv/bin/taurus-sessions processes --endpoint")
    assert demo.manifest["access_key"]["ak"] in export
    # As printed, from the repository root, with nothing of ours on PATH or in the environment.
    ours = ("TAURUS_", "HUAWEICLOUD_", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    result = subprocess.run(
        ["bash", "-c", f"{export}\n{command} --json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPOSITORY,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert listed["total_count"] >= 1
    assert {p["user"] for p in listed["processes"]} == {demo.manifest["app_account"]["user"]}


def test_instance_is_taurus_like(demo: Demo) -> None:
    root = demo.manifest["root_account"]
    primary, replica = sorted(demo.manifest["nodes"], key=lambda n: n["role"])

    def rows(node: dict[str, Any], sql: str) -> list[tuple[object, ...]]:
        conn = pymysql.connect(
            host="127.0.0.1", port=int(node["port"]), user=root["user"], password=root["password"]
        )
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        finally:
            conn.close()

    primary_threads = rows(primary, "SELECT USER, COMMAND FROM information_schema.PROCESSLIST")
    assert ("rdsRepl", "Binlog Dump") in primary_threads
    assert ("event_scheduler", "Daemon") in primary_threads
    assert any(user == "rdsMetric" for user, _ in primary_threads)
    replica_threads = rows(replica, "SELECT USER, COMMAND FROM information_schema.PROCESSLIST")
    assert ("system user", "Slave_IO") in replica_threads and ("system user", "Slave_SQL") in replica_threads
    assert rows(replica, "SELECT @@read_only") == [(1,)]
    accounts = {u for (u,) in rows(primary, "SELECT User FROM mysql.user")}
    assert {"rdsAdmin", "rdsRepl", "rdsBackup", "rdsMetric"} <= accounts


def test_sigterm_stops_the_servers_and_removes_the_folder(demo: Demo) -> None:
    folder_line = next(line for line in demo.printed_lines() if line.startswith("starting a MariaDB"))
    folder = Path(folder_line.split(" in ", 1)[1].split(" ...", 1)[0])
    assert folder.exists()
    children = [p.pid for p in psutil.Process(demo.process.pid).children(recursive=True)]
    assert children, "the demo should run MariaDB servers"

    demo.process.send_signal(signal.SIGTERM)
    assert demo.process.wait(60) == 0

    assert not folder.exists()
    poll(lambda: not any(psutil.pid_exists(pid) for pid in children), timeout=10, interval=0.1)  # or zombies
    assert not [
        pid for pid in children if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
    ]

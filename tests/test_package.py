"""The package as an operator installs it: the wheel built from the repository, installed with pip
into a new virtual environment outside the repository, and run from there against a real node.
Nothing here runs the repository's code in that environment: its commands are called by their path,
from a folder outside the repository, with no PYTHONPATH."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.client import token_body
from support.poll import eventually
from support.sessions import Sessions
from taurus_sessions.sandbox.instance import APP_DATABASE, SandboxInstance
from taurus_sessions.sandbox.mariadb import free_port
from taurus_sessions.settings import DEFAULT_SYSTEM_ACCOUNTS

pytestmark = pytest.mark.package

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "src" / "taurus_sessions"
PASSWORD = "package-test-password-1"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that would point Python at other code (or the
    service at other settings): no PYTHON* variable, no active virtual environment, no TAURUS_*."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTHON", "TAURUS_")) and name != "VIRTUAL_ENV"
    }
    env.update(extra)
    return env


def run(
    command: list[str], cwd: Path, env: Mapping[str, str], stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command,
        cwd=cwd,
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(command)} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


@dataclass(frozen=True)
class Installed:
    root: Path  # a temporary folder outside the repository: the working directory of every command
    wheel: Path
    venv: Path
    build_seconds: float
    install_seconds: float

    def command(self, name: str) -> str:
        return str(self.venv / "bin" / name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("package")
    assert not root.resolve().is_relative_to(REPO)
    # setuptools writes its build/ and egg-info folders into the source tree unless told otherwise; a
    # stale build/lib would even carry deleted modules into later wheels. DIST_EXTRA_CONFIG is an
    # extra setup.cfg that setuptools reads: both go to this test's folder.
    scratch = root / "setuptools"
    scratch.mkdir()
    extra_config = scratch / "setup.cfg"
    extra_config.write_text(f"[build]\nbuild_base = {scratch / 'build'}\n[egg_info]\negg_base = {scratch}\n")
    dist = root / "dist"

    started = time.monotonic()
    run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
        cwd=root,
        env=clean_env(DIST_EXTRA_CONFIG=str(extra_config)),
        timeout=300,
    )
    build_seconds = time.monotonic() - started
    (wheel,) = dist.glob("taurus_sessions-*-py3-none-any.whl")

    # The fastest clean install measured: a venv without its own pip (no ensurepip), this pip
    # installing into it (--python), no byte-compiling at install time, pip's cache reused.
    venv = root / "venv"
    started = time.monotonic()
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root, env=clean_env())
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--quiet",
            "--no-compile",
            "-c",
            str(REPO / "constraints.txt"),
            str(wheel),
        ],
        cwd=root,
        env=clean_env(),
        timeout=600,
    )
    install_seconds = time.monotonic() - started
    return Installed(root, wheel, venv, build_seconds, install_seconds)


def package_files() -> set[str]:
    """Every file of src/taurus_sessions, as the wheel names it."""
    return {
        path.relative_to(PACKAGE.parent).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_wheel_holds_every_file_of_the_package(
    installed: Installed, capsys: pytest.CaptureFixture[str]
) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    in_package = {name for name in names if name.startswith("taurus_sessions/")}

    assert in_package == package_files()
    # what the service reads from its own package at run time, by name
    for needed in (
        "taurus_sessions/py.typed",
        "taurus_sessions/console/static/index.html",
        "taurus_sessions/console/static/js/i18n/en.js",
        "taurus_sessions/console/static/js/i18n/zh.js",
        "taurus_sessions/inventory/migrations/env.py",
        "taurus_sessions/inventory/migrations/versions/0001_core_inventory.py",
    ):
        assert needed in names, needed
    with capsys.disabled():
        print(
            f"\nwheel {installed.wheel.name}: {installed.wheel.stat().st_size / 1024:.0f} KiB, "
            f"built in {installed.build_seconds:.1f} s; installed with its dependencies into a new "
            f"venv in {installed.install_seconds:.1f} s"
        )


def test_the_new_environment_runs_the_installed_package(installed: Installed) -> None:
    probe = (
        "import sys, importlib.metadata, taurus_sessions;"
        "print(taurus_sessions.__file__);"
        "print(importlib.metadata.version('taurus-sessions'));"
        "print('\\n'.join(sys.path))"
    )
    result = run([installed.command("python"), "-c", probe], cwd=installed.root, env=clean_env())
    module, version, *path = result.stdout.splitlines()

    site_packages = (
        installed.venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    )
    assert Path(module) == site_packages / "taurus_sessions" / "__init__.py"
    assert version == installed.wheel.name.split("-")[1]
    assert not [entry for entry in path if entry and Path(entry).resolve().is_relative_to(REPO)]
    # a venv of the base interpreter, not one nested in the repository's .venv
    config = dict(
        line.split(" = ", 1)
        for line in (installed.venv / "pyvenv.cfg").read_text().splitlines()
        if " = " in line
    )
    assert not Path(config["home"]).resolve().is_relative_to(REPO)
    assert config["include-system-site-packages"] == "false"


class InstalledService:
    """The installed `taurus-sessions serve` on a free port of 127.0.0.1, with its own data folder."""

    def __init__(self, installed: Installed) -> None:
        self.installed = installed
        self.data_dir = installed.root / "data"
        self.port = free_port()
        self.log = installed.root / "serve.log"
        # HOME too: nothing is read from the invoking user's profile (CLI profiles, XDG folders)
        home = installed.root / "home"
        home.mkdir(exist_ok=True)
        self.env = clean_env(TAURUS_DATA_DIR=str(self.data_dir), HOME=str(home))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, stdin: str | None = None, **env: str) -> str:
        command = [self.installed.command("taurus-sessions"), *args]
        return run(command, cwd=self.installed.root, env={**self.env, **env}, stdin=stdin).stdout

    def start(self) -> None:
        command = [self.installed.command("taurus-sessions"), "serve", "--host", "127.0.0.1"]
        with self.log.open("ab") as out:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)],
                cwd=self.installed.root,
                env=self.env,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        process = self.process

        def listening() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"serve exited at start:\n{self.log.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False

        eventually(listening, timeout=60, message="the installed service to listen")

    def stop(self) -> int | None:
        """SIGTERM, as systemd stops it; the exit status (None if it was never started)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


@pytest.fixture
def service(installed: Installed) -> Iterator[InstalledService]:
    running = InstalledService(installed)
    yield running
    running.stop()


def test_installed_service_serves_a_real_node(
    service: InstalledService, sandbox: SandboxInstance, sessions: Sessions
) -> None:
    first = service.cli("init")
    assert "created master key" in first and "created the first token-signing key" in first
    service.cli("project", "create", "cn-north-4", "--domain", "acme")
    instance_id = service.cli("instance", "create", "orders", "--project", "cn-north-4").strip()
    node_id = service.cli(
        "node", "add", "--instance", instance_id, "--role", "master", "--host", "127.0.0.1",
        "--port", str(sandbox.primary.port), "--admin-user", sandbox.admin.user,
        "--password-env", "NODE_PASSWORD",
        NODE_PASSWORD=sandbox.admin.password,
    ).strip()  # fmt: skip
    service.cli("user", "create", "alice", "--domain", "acme", "--password-stdin", stdin=PASSWORD + "\n")
    service.cli("role", "grant", "alice", "--project", "cn-north-4", "--role", "operator")
    # as the systemd unit's ExecStartPre does before every start: nothing new the second time
    again = service.cli("init")
    assert "created" not in again
    application = sessions.open(sandbox.primary, sandbox.app.user, sandbox.app.password, APP_DATABASE)

    service.start()
    with httpx.Client(base_url=service.url, timeout=30) as http:
        login = http.post(
            "/v3/auth/tokens", json=token_body("alice", PASSWORD, "acme", project_name="cn-north-4")
        )
        assert login.status_code == 201, login.text
        project_id = login.json()["token"]["project"]["id"]
        token = login.headers["X-Subject-Token"]

        listed = http.get(
            f"/v3/{project_id}/instances/{instance_id}/nodes/{node_id}/processes",
            params={"offset": 0, "limit": 100},
            headers={"X-Auth-Token": token},
        )
        assert listed.status_code == 200, listed.text
        page = listed.json()
        by_id = {process["id"]: process for process in page["processes"]}
        assert page["total_count"] == len(page["processes"])
        mine = by_id[application.id]
        assert (mine["user"], mine["db"], mine["command"]) == (sandbox.app.user, APP_DATABASE, "Sleep")
        assert not {process["user"] for process in page["processes"]} & set(DEFAULT_SYSTEM_ACCOUNTS)

        console = http.get("/console/")
        assert console.status_code == 200
        assert console.headers["content-type"].startswith("text/html")
        assert console.content == (PACKAGE / "console" / "static" / "index.html").read_bytes()
        strings = http.get("/console/static/js/i18n/zh.js")
        assert strings.status_code == 200
        assert "javascript" in strings.headers["content-type"]
        assert strings.content == (PACKAGE / "console" / "static" / "js" / "i18n" / "zh.js").read_bytes()

    status = service.stop()
    assert status in (0, -signal.SIGTERM), status
    log = service.log.read_text()
    assert '"level":"ERROR"' not in log and "Traceback" not in log, log[-3000:]

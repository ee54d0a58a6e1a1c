"""Real MariaDB servers in a temporary folder, for the demo, the tests and the benchmark.

Each server listens on 127.0.0.1 only, on a free port, with its data, socket and log in its own
folder, and is stopped (and, by the owner of the folder, removed) afterwards. The binaries come from
Debian's ``mariadb-server``; when they are absent, ``apt-get`` installs them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SBIN = ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin")


class SandboxError(RuntimeError):
    pass


@dataclass(frozen=True)
class Binaries:
    server: Path
    install_db: Path
    client: Path


def _find(*names: str) -> Path | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
        for folder in SBIN:
            candidate = Path(folder) / name
            if candidate.exists():
                return candidate
    return None


def find_binaries() -> Binaries | None:
    server = _find("mariadbd", "mysqld")
    install_db = _find("mariadb-install-db", "mysql_install_db")
    client = _find("mariadb", "mysql")
    if server and install_db and client:
        return Binaries(server, install_db, client)
    return None


def apt_install(packages: list[str]) -> None:
    """Install Debian packages without letting their scripts start system services."""
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    policy = Path("/usr/sbin/policy-rc.d")
    added = False
    if os.geteuid() == 0 and not policy.exists():
        # Keep the package from starting a system-wide server on port 3306.
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        added = True
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
            check=True,
            env=env,
        )
    finally:
        if added:
            policy.unlink(missing_ok=True)


def ensure_binaries() -> Binaries:
    binaries = find_binaries()
    if binaries is None:
        apt_install(["mariadb-server", "mariadb-client"])
        binaries = find_binaries()
    if binaries is None:
        raise SandboxError("MariaDB binaries not found even after apt-get install mariadb-server")
    return binaries


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_template(binaries: Binaries, folder: Path) -> Path:
    """An initialised data folder that new servers copy (faster than installing each one)."""
    datadir = folder / "template-data"
    if datadir.exists():
        return datadir
    folder.mkdir(parents=True, exist_ok=True)
    tmpdir = folder / "install-tmp"  # see MariaDBServer.start: never the shared /tmp
    tmpdir.mkdir(exist_ok=True)
    command = [
        str(binaries.install_db),
        "--no-defaults",
        f"--datadir={datadir}",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        "--innodb-log-file-size=16M",
        f"--tmpdir={tmpdir}",
    ]
    if os.geteuid() == 0:
        command.append("--user=root")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SandboxError(f"mariadb-install-db failed: {result.stderr[-2000:]}")
    return datadir


# performance_schema on, recording metadata locks only (DAS's ListMetadataLocks reads them): every
# other instrument off, the consumers and per-thread summaries that would cost memory per session
# sized to nothing. With thousands of sessions open this costs a node about 10 MB more than
# performance_schema off (the defaults cost over 300 MB). The sizes of the thread and metadata-lock
# tables stay automatic: a session without a thread row could not be matched to its locks.
PERFORMANCE_SCHEMA = (
    "--performance-schema=ON",
    "--performance-schema-instrument=%=OFF",
    "--performance-schema-instrument=wait/lock/metadata/sql/mdl=ON",
    "--performance-schema-consumer-statements-digest=OFF",
    "--performance-schema-digests-size=0",
    "--performance-schema-max-digest-length=0",
    "--performance-schema-max-sql-text-length=0",
    "--performance-schema-session-connect-attrs-size=0",
    "--performance-schema-max-statement-stack=1",
    *(
        f"--performance-schema-events-{kind}-{history}-size=0"
        for kind in ("statements", "stages", "waits", "transactions")
        for history in ("history", "history-long")
    ),
    *(
        f"--performance-schema-max-{kind}-classes=0"
        for kind in ("statement", "memory", "stage", "mutex", "rwlock", "cond", "file", "socket")
    ),
    *(f"--performance-schema-{kind}-size=0" for kind in ("accounts", "hosts", "users")),
    *(
        f"--performance-schema-max-{kind}=0"
        for kind in (
            "table-instances",
            "table-handles",
            "index-stat",
            "table-lock-stat",
            "program-instances",
            "prepared-statements-instances",
        )
    ),
)


@dataclass
class MariaDBServer:
    """One mariadbd process. ``root`` over the socket has no password (sandbox only)."""

    binaries: Binaries
    folder: Path
    server_id: int
    port: int = 0
    options: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.folder / "mysqld.sock"

    @property
    def datadir(self) -> Path:
        return self.folder / "data"

    @property
    def pid_file(self) -> Path:
        """Where the server writes its pid (a CPU source: ``pidfile:<this path>``)."""
        return self.folder / "mysqld.pid"

    @property
    def log_path(self) -> Path:
        return self.folder / "error.log"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise SandboxError("server not started")
        return self.process.pid

    def start(self, template: Path, timeout: float = 60.0) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self.datadir.exists():
            shutil.copytree(template, self.datadir)
        if not self.port:
            self.port = free_port()
        # Its own tmpdir: a starting server deletes every #sql* file in its tmpdir, which would pull
        # temporary tables from under other servers sharing /tmp.
        tmpdir = self.folder / "tmp"
        tmpdir.mkdir(exist_ok=True)
        command = [
            str(self.binaries.server),
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.socket_path}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={self.pid_file}",
            f"--log-error={self.log_path}",
            f"--tmpdir={tmpdir}",
            f"--server-id={self.server_id}",
            "--skip-name-resolve",
            "--log-bin=binlog",
            "--binlog-format=ROW",
            "--log-slave-updates=ON",
            "--innodb-log-file-size=16M",
            "--innodb-buffer-pool-size=32M",
            *PERFORMANCE_SCHEMA,
            "--max-connections=2000",
            "--thread-cache-size=64",
            "--skip-symbolic-links",
            "--secure-file-priv=",
            *self.options,
        ]
        if os.geteuid() == 0:
            command.append("--user=root")
        # Its own process group, so a Ctrl-C in the terminal reaches the demo, which stops it in order.
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise SandboxError(f"mariadbd exited at start; see {self.log_path}:\n{self._log_tail()}")
            if self.socket_path.exists():
                try:
                    self.sql("SELECT 1")
                    return
                except SandboxError:
                    pass
            time.sleep(0.1)
        raise SandboxError(f"mariadbd did not become ready in {timeout:g}s; see {self.log_path}")

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def sql(self, statement: str, timeout: float = 30.0) -> list[list[str]]:
        """Run SQL as root over the socket; rows as lists of strings (NULL as 'NULL')."""
        command = [
            str(self.binaries.client),
            "--no-defaults",
            f"--socket={self.socket_path}",
            "--user=root",
            "--batch",
            "--skip-column-names",
            "--raw",
        ]
        try:
            result = subprocess.run(
                command, input=statement, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"SQL timed out after {timeout:g}s") from exc
        if result.returncode != 0:
            raise SandboxError(f"SQL failed: {result.stderr.strip()[:500]}")
        return [line.split("\t") for line in result.stdout.splitlines()]

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections hang, as with a stuck node."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def crash(self) -> None:
        """SIGKILL, as a node that dies (InnoDB recovers at the next start)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def start_again(self, timeout: float = 60.0) -> None:
        """Start on the same data folder and port after a stop or a crash."""
        self.start(self.datadir, timeout)

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGCONT)  # a paused server cannot shut down
            self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

"""A real PostgreSQL server in a temporary folder, for testing a shared inventory (several replicas).

Listens on 127.0.0.1 on a free port with its socket in its own folder; stopped and removed by
``stop``. The binaries come from Debian's ``postgresql``; apt-get installs it when absent.
PostgreSQL refuses to run as root, so when we are root it runs as the ``postgres`` account.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from taurus_sessions.sandbox.mariadb import SandboxError, apt_install, free_port

SERVICE_ROLE = "taurus"
DATABASE = "taurus"


def find_bin_dir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def ensure_bin_dir() -> Path:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        apt_install(["postgresql"])
        bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SandboxError("PostgreSQL binaries not found even after apt-get install postgresql")
    return bin_dir


@dataclass
class PostgresServer:
    bin_dir: Path
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="taurus-pg-")))
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_hex(12))

    def __repr__(self) -> str:
        return f"PostgresServer(port={self.port}, folder={self.folder})"

    @property
    def url(self) -> str:
        """SQLAlchemy async URL of the service's database."""
        return self.url_of(DATABASE)

    def url_of(self, database: str) -> str:
        return f"postgresql+asyncpg://{SERVICE_ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Another empty database for the service's role (one inventory per test); its URL."""
        self.sql(f"CREATE DATABASE {name} OWNER {SERVICE_ROLE};\n")
        return self.url_of(name)

    def _as_owner(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *command: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [*self._as_owner(), *command],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise SandboxError(f"{Path(command[0]).name} failed: {result.stderr.strip()[-1500:]}")
        return result.stdout

    def start(self) -> None:
        if not self.port:
            self.port = free_port()
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        data = self.folder / "data"
        self._run(
            str(self.bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        self.resume()
        self.sql(
            f"CREATE ROLE {SERVICE_ROLE} LOGIN PASSWORD '{self.password}';\n"
            f"CREATE DATABASE {DATABASE} OWNER {SERVICE_ROLE};\n"
        )

    def resume(self) -> None:
        """Start the server on its data folder and port (again, after ``halt``)."""
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.folder / "data"),
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off",
            "start",
        )

    def halt(self) -> None:
        """Stop the server, keeping its data (the tests of an inventory that goes away)."""
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop"
        )

    def sql(self, statements: str) -> str:
        return self._run(
            str(self.bin_dir / "psql"),
            "-h",
            str(self.folder),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-qAt",
            "-d",
            "postgres",
            stdin=statements,
        )

    def stop(self) -> None:
        data = self.folder / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [
                    *self._as_owner(),
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                ],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.folder, ignore_errors=True)

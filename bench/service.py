"""The service as a real process, as an operator runs it: ``taurus-sessions serve`` on the default
stack (uvicorn, SQLite inventory, token auth) with only throttling turned off."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psutil

from bench.procs import PYTHON, stop
from taurus_sessions.file_modes import make_private_dir
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.inventory.secrets import create_master_key_file
from taurus_sessions.sandbox.mariadb import free_port
from taurus_sessions.settings import Settings

BIN = Path(PYTHON).with_name("taurus-sessions")

# The only departure from the defaults: a benchmark that hits the rate limit measures the limit.
# Every throttle off: the load comes from one address, faster than any stranger may call.
SERVICE_ENV = {
    "TAURUS_RATE_LIMIT_PER_SECOND": "0",
    "TAURUS_SOURCE_RATE_LIMIT_PER_SECOND": "0",
    "TAURUS_AUTH_FAILURES_PER_SECOND": "0",
    "TAURUS_LOGIN_PER_SECOND": "0",
    # One minute of auto SQL limiting's rules lasts one second, so the rule S11 sets fires within
    # seconds (checks stay every second, the default). Nothing else reads it; no rule exists before.
    "TAURUS_LIMITING_MINUTE_SECONDS": "1",
}


class ServiceError(RuntimeError):
    pass


class Service:
    def __init__(
        self,
        folder: Path,
        extra_env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        database_url: str | None = None,
    ) -> None:
        self.folder = folder
        self.extra_env = dict(extra_env or {})
        self.args = args  # after ``serve``, e.g. ("--workers", "2")
        self.database_url = database_url or f"sqlite+aiosqlite:///{folder / 'inventory.db'}"
        self.port = free_port()
        self.log_path = folder / "service.log"
        self.process: subprocess.Popen[bytes] | None = None
        make_private_dir(folder)  # the service refuses a data folder other users can read
        create_master_key_file(folder / "master.key")

    @property
    def env(self) -> dict[str, str]:
        # Start from a clean slate: a TAURUS_* variable in the caller's shell must not tune the service.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAURUS_")}
        env.update(
            {
                "TAURUS_DATA_DIR": str(self.folder),
                "TAURUS_DATABASE_URL": self.database_url,
                "TAURUS_HOST": "127.0.0.1",
                "TAURUS_PORT": str(self.port),
                **SERVICE_ENV,
                **self.extra_env,
            }
        )
        return env

    def settings(self) -> Settings:
        return Settings(
            data_dir=self.folder,
            database_url=self.database_url,
            master_keys=None,
            master_key_file=self.folder / "master.key",
        )

    @asynccontextmanager
    async def inventory(self) -> AsyncIterator[Inventory]:
        """The service's inventory, opened as the operator's CLI would (the service may be running)."""
        inventory = await Inventory.open(self.settings())
        try:
            yield inventory
        finally:
            await inventory.close()

    @property
    def pid(self) -> int:
        if self.process is None:
            raise ServiceError("service not started")
        return self.process.pid

    def start(self, timeout: float = 30.0) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [str(BIN), "serve", *self.args],
                env=self.env,
                cwd=self.folder,  # no stray .env file from the caller's directory
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(f"service exited at start:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise ServiceError("service did not start listening in time")

    async def astart(self) -> None:
        await asyncio.to_thread(self.start)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def cpu_seconds(self) -> float:
        """CPU time of the service and every process it started (its workers), user and system."""
        root = psutil.Process(self.pid)
        total = 0.0
        for process in (root, *root.children(recursive=True)):
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

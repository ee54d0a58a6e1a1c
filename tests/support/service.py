"""The service as a real process: `taurus-sessions serve` on a free port, with its own data folder."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import SecretStr

from support.poll import eventually
from taurus_sessions.file_modes import make_private_dir
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.inventory.secrets import create_master_key_file
from taurus_sessions.sandbox.mariadb import free_port
from taurus_sessions.settings import Settings

T = TypeVar("T")

BIN = Path(sys.executable).with_name("taurus-sessions")

# What every test service runs with, in a process or in the test's own (support/inprocess.py): node
# timeouts short enough to test, no inventory caching, no throttling, token keys re-read every second.
TEST_SETTINGS = {
    "TAURUS_INVENTORY_CACHE_SECONDS": "0",
    "TAURUS_NODE_CONNECT_TIMEOUT": "1.5",
    "TAURUS_NODE_READ_TIMEOUT": "2.5",
    "TAURUS_NODE_FAILURE_COOLDOWN_SECONDS": "0.5",
    "TAURUS_RATE_LIMIT_PER_SECOND": "0",
    # The throttles that protect against strangers get tests of their own.
    "TAURUS_SOURCE_RATE_LIMIT_PER_SECOND": "0",
    "TAURUS_AUTH_FAILURES_PER_SECOND": "0",
    "TAURUS_LOGIN_PER_SECOND": "0",
    "TAURUS_LOGIN_ACCOUNT_FAILURES_PER_SECOND": "0",
    "TAURUS_TOKEN_KEY_REFRESH_SECONDS": "1",
    "TAURUS_LOG_LEVEL": "INFO",
}


class ServiceProcess:
    def __init__(self, folder: Path, database_url: str | None = None, **overrides: str) -> None:
        self.folder = folder
        self.database_url = database_url or f"sqlite+aiosqlite:///{folder / 'inventory.db'}"
        self.port = free_port()
        self.env = {
            **os.environ,
            "TAURUS_DATA_DIR": str(folder),
            "TAURUS_HOST": "127.0.0.1",
            "TAURUS_PORT": str(self.port),
            **TEST_SETTINGS,
        }
        self.env["TAURUS_DATABASE_URL"] = self.database_url
        self.env.pop("TAURUS_MASTER_KEYS", None)
        self.env.update(overrides)
        self.log_path = folder / "service.log"
        self.process: subprocess.Popen[bytes] | None = None
        make_private_dir(folder)  # the service refuses a data folder other users can read
        create_master_key_file(folder / "master.key")

    @property
    def url(self) -> str:
        scheme = "https" if self.env.get("TAURUS_SSL_CERTFILE") else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def settings(self) -> Settings:
        return Settings(
            data_dir=self.folder,
            database_url=self.database_url,
            master_keys=None,
            master_key_file=self.folder / "master.key",
        )

    def inventory(self, work: Callable[[Inventory], Awaitable[T]]) -> T:
        """Run one unit of work against the service's inventory (as the operator would)."""

        async def run() -> T:
            inventory = await Inventory.open(self.settings())
            try:
                return await work(inventory)
            finally:
                await inventory.close()

        return asyncio.run(run())

    def cli(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=120,
            check=False,
        )

    def start(self, timeout: float = 30.0) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [str(BIN), "serve"], env=self.env, stdout=log, stderr=log, start_new_session=True
            )
        process = self.process

        def listening() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"service exited at start:\n{self.log_path.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False

        eventually(listening, timeout=timeout, message="the service to listen")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def extra_node(
    service: ServiceProcess, instance_id: str, *, name: str, port: int, user: str, password: str
) -> Iterator[str]:
    """A node registered for one test (another account, a dead port…), removed afterwards."""

    async def register(inventory: Inventory) -> str:
        node = await inventory.instances.add_node(
            instance_id,
            name=name,
            role="readreplica",
            host="127.0.0.1",
            port=port,
            admin_user=user,
            admin_password=SecretStr(password),
        )
        return node.id

    node_id = service.inventory(register)
    try:
        yield node_id
    finally:
        service.inventory(lambda inventory: inventory.instances.remove_node(node_id))

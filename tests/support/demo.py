"""`taurus-sessions demo` as a user runs it: a process, its manifest, its nodes, application sessions."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

from support.poll import eventually
from support.sessions import Session

BIN = Path(sys.executable).with_name("taurus-sessions")
READY = "Ctrl-C stops the demo"


@dataclass
class Demo:
    manifest: dict[str, Any]
    process: subprocess.Popen[bytes]
    output: Path  # what the demo printed (the "try it" commands among it)

    @property
    def endpoint(self) -> str:
        return str(self.manifest["endpoint"])

    @property
    def console_url(self) -> str:
        return self.endpoint + "/console/"

    def node(self, role: str = "master") -> dict[str, Any]:
        return next(n for n in self.manifest["nodes"] if n["role"] == role)

    def root_rows(
        self, sql: str, params: tuple[object, ...] = (), role: str = "master"
    ) -> list[tuple[Any, ...]]:
        """A statement on the node through the root account (what the node really has)."""
        root = self.manifest["root_account"]
        conn = pymysql.connect(
            host="127.0.0.1", port=int(self.node(role)["port"]), user=root["user"], password=root["password"]
        )
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
        finally:
            conn.close()

    def printed_lines(self) -> list[str]:
        return self.output.read_text().splitlines()

    def session(self, role: str = "master") -> Session:
        """An application session (the demo's ordinary account), as an application would hold it."""
        app = self.manifest["app_account"]
        port = int(self.node(role)["port"])
        return Session(
            port,
            app["user"],
            app["password"],
            app["database"],
            lambda tid: self.root_rows(f"KILL {tid:d}", role=role),
        )

    def thread_exists(self, thread_id: int) -> bool:
        rows = self.root_rows(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s", (thread_id,)
        )
        return int(rows[0][0]) == 1


@contextlib.contextmanager
def running_demo(
    folder: Path, timeout: float = 180, settings: Mapping[str, str] | None = None
) -> Iterator[Demo]:
    """Start the demo on a free port, wait for it, stop it with SIGTERM (it removes what it made).

    The shell's TAURUS_* variables are left out; ``settings`` are the ones the demo gets instead
    (e.g. a short limiting minute), as a person would set them in front of ``scripts/demo``.
    """
    manifest_path = folder / "demo.json"
    output_path = folder / "demo.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAURUS_")}
    env.update(settings or {})
    with output_path.open("w") as output:
        process = subprocess.Popen(
            [str(BIN), "demo", "--port", "0", "--manifest", str(manifest_path)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:

            def ready() -> bool:
                if process.poll() is not None:
                    raise AssertionError("the demo exited early:\n" + output_path.read_text()[-4000:])
                return READY in output_path.read_text()

            eventually(
                ready,
                timeout=timeout,
                interval=0.2,
                message=lambda: "the demo to get ready:\n" + output_path.read_text()[-4000:],
            )
            yield Demo(json.loads(manifest_path.read_text()), process, output_path)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)

"""``serve --workers N``: N service processes on one listening socket, so one machine's cores all serve.

The parent binds the socket, brings the inventory to its current schema once (so the workers do not
race to migrate it), prepares the folder where the workers' metrics meet (Prometheus'
multiprocess mode: ``/metrics`` answers the sum over processes) and starts the workers. They share
nothing else in memory: tokens, access-key lock-outs, revocations, the audit trail, kill tasks and
SQL limiting already coordinate through the inventory; the throttles' budgets are shared out (each
worker enforces 1/N of every rate, so the total never exceeds the setting). A worker that dies is
started again; SIGTERM or SIGINT stops them all (each finishes its requests in flight) and the parent.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from taurus_sessions import logs
from taurus_sessions.file_modes import make_private_dir
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.metrics import MULTIPROCESS_ENV, forget_process
from taurus_sessions.settings import Settings

log = logging.getLogger(__name__)

BACKLOG = 2048
STOP_SECONDS = 15.0  # a worker's graceful shutdown (in-flight requests) before it is killed
CRASH_LOOP = 3  # workers dying this many times within CRASH_WINDOW end the service
CRASH_WINDOW = 30.0


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def _worker(conf: Settings, host: str, port: int, sock: socket.socket) -> None:
    """A worker's life: a service on the shared socket (run in a fresh interpreter)."""
    import uvloop

    from taurus_sessions.server import Server

    logs.configure(conf.log_level, conf.log_format)
    uvloop.run(Server(conf, host, port).run(sockets=[sock]))


async def _prepare_inventory(conf: Settings) -> None:
    inventory = await Inventory.open(conf)  # migrates to head and writes the built-in roles
    await inventory.close()


def _metrics_dir(conf: Settings) -> Path:
    """A fresh folder for this run's metrics files, private to the service's user."""
    folder = conf.data_dir / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    make_private_dir(folder)
    return folder


class Supervisor:
    def __init__(self, conf: Settings, host: str, port: int) -> None:
        self.conf = conf
        self.host = host
        self.port = port
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[BaseProcess] = []
        self._stopping = False
        self._deaths: list[float] = []

    def run(self) -> int:
        asyncio.run(_prepare_inventory(self.conf))
        os.environ[MULTIPROCESS_ENV] = str(_metrics_dir(self.conf))  # inherited by the workers
        sock = bind(self.host, self.port)
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._workers = [self._start(sock) for _ in range(self.conf.workers)]
            log.info(
                "serving",
                extra={"host": self.host, "port": sock.getsockname()[1], "workers": self.conf.workers},
            )
            return self._watch(sock)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._stop_all()
            sock.close()

    def _start(self, sock: socket.socket) -> BaseProcess:
        process = self._context.Process(
            target=_worker, args=(self.conf, self.host, self.port, sock), name="taurus-sessions-worker"
        )
        process.start()
        return process

    def _watch(self, sock: socket.socket) -> int:
        while not self._stopping:
            time.sleep(0.2)
            for index, process in enumerate(self._workers):
                if process.is_alive() or self._stopping:
                    continue
                forget_process(process.pid)
                now = time.monotonic()
                self._deaths = [t for t in self._deaths if now - t < CRASH_WINDOW] + [now]
                log.error("a worker ended (exit code %s)", process.exitcode)
                if len(self._deaths) >= CRASH_LOOP:
                    log.error("workers keep ending; stopping the service")
                    return 1
                self._workers[index] = self._start(sock)
        return 0

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _stop_all(self) -> None:
        for process in self._workers:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for process in self._workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
            forget_process(process.pid)


def serve_workers(conf: Settings, host: str, port: int) -> int:
    """Run ``conf.workers`` workers on host:port until stopped; the exit code."""
    return Supervisor(conf, host, port).run()

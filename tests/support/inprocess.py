"""The in-process tier: the real app (``create_app`` over ``build_runtime``) inside the test's own
process, on the same real nodes, with a clock the test moves.

Requests go through httpx's ASGI transport straight into the app, on an event loop this module
drives, so a test reads as it would against the service process (``Api`` calls, blocking PyMySQL
sessions). What the service times itself (token key refresh, throttling, kill task intervals and
durations) runs on a fake clock: the test moves it on, and gives the kill task runner its rounds,
instead of sleeping. Time on the nodes stays real.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
from starlette.types import ASGIApp

from support.client import Api
from support.service import TEST_SETTINGS
from support.world import Deployment, populate
from taurus_sessions.api.app import create_app
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.inventory.secrets import create_master_key_file
from taurus_sessions.runtime import Runtime, build_runtime
from taurus_sessions.sandbox.instance import SandboxInstance
from taurus_sessions.sandbox.registration import Registration
from taurus_sessions.settings import Settings

T = TypeVar("T")


class FakeClock:
    """The service's wall clock and monotonic clock; both stand still until ``advance``."""

    def __init__(self) -> None:
        # The real time (signatures and the nodes compare with it), on a whole second: moved on by
        # whole and half seconds, it turns into datetimes without any rounding.
        self._wall = float(int(time.time()))
        self._monotonic = time.monotonic()

    def time(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, "time does not go back"
        self._wall += seconds
        self._monotonic += seconds


class _AppTransport(httpx.BaseTransport):
    """Hands each request of a synchronous httpx client to the ASGI app, on the loop the app runs on."""

    def __init__(self, app: ASGIApp, loop: asyncio.Runner) -> None:
        self._asgi = httpx.ASGITransport(app)
        self._loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._loop.run(self._send(request))

    async def _send(self, request: httpx.Request) -> httpx.Response:
        response = await self._asgi.handle_async_request(request)
        body = b"".join([chunk async for chunk in response.aiter_raw()])
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(body),
            extensions=response.extensions,
        )


def in_process_settings(folder: Path, **overrides: Any) -> Settings:
    """The settings the service process of the tests runs with (support/service.py), for ``folder``."""
    fields: dict[str, Any] = {
        name.removeprefix("TAURUS_").lower(): value for name, value in TEST_SETTINGS.items()
    }
    fields |= overrides
    return Settings(data_dir=folder, database_url=None, master_keys=None, **fields)


def create_inventory(folder: Path, sandbox: SandboxInstance) -> tuple[Registration, Registration]:
    """A populated inventory (with its master key) in ``folder``, to be copied for each service."""
    folder.mkdir(parents=True, exist_ok=True)
    create_master_key_file(folder / "master.key")

    async def build() -> tuple[Registration, Registration]:
        inventory = await Inventory.open(in_process_settings(folder))
        try:
            return await populate(inventory, sandbox)
        finally:
            await inventory.close()

    return asyncio.run(build())


class InProcessWorld(Deployment):
    """The app over an inventory in ``folder`` made by ``create_inventory``; ``close`` when done."""

    def __init__(
        self,
        sandbox: SandboxInstance,
        folder: Path,
        main: Registration,
        other: Registration,
        **settings: Any,
    ) -> None:
        self.folder = folder
        self.clock = FakeClock()
        self.settings = in_process_settings(folder, **settings)
        self._loop = asyncio.Runner()
        try:
            self.runtime = self._loop.run(self._build())
        except BaseException:
            self._loop.close()
            raise
        # No background jobs: the test runs the kill task runner's rounds itself (run_kill_tasks).
        self.app = create_app(self.runtime, background=())
        super().__init__(sandbox, Api("http://127.0.0.1", _AppTransport(self.app, self._loop)), main, other)

    async def _build(self) -> Runtime:
        inventory = await Inventory.open(self.settings)
        return await build_runtime(
            self.settings, inventory, clock=self.clock.time, monotonic=self.clock.monotonic
        )

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the app's event loop."""
        return self._loop.run(work)

    def inventory(self, work: Callable[[Inventory], Awaitable[T]]) -> T:
        """One unit of work on the app's own inventory."""

        async def run() -> T:
            return await work(self.runtime.inventory)

        return self.run(run())

    def run_kill_tasks(self) -> None:
        """One round of the kill task runner at the clock's time; returns when its passes have run."""

        async def round_() -> None:
            await asyncio.gather(*await self.runtime.task_runner.tick())

        self.run(round_())

    def let_time_pass(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` as the service would live them: a kill task round at
        every poll interval on the way."""
        left = seconds
        while left > 0:
            step = min(self.settings.task_poll_seconds, left)
            self.clock.advance(step)
            left -= step
            self.run_kill_tasks()

    def close(self) -> None:
        try:
            self.api.close()
            self.run(self.runtime.close())
        finally:
            self._loop.close()

"""Run the API with uvicorn inside the caller's event loop (``serve`` and the demo both use this)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

import uvicorn

from taurus_sessions.api.app import DEFAULT_JOBS, BackgroundJob, create_app
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.runtime import build_runtime
from taurus_sessions.settings import Settings


class Server:
    def __init__(self, settings: Settings, host: str, port: int) -> None:
        # The Host allow-list defaults to the address actually listened on.
        self.settings = settings.model_copy(update={"host": host})
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None

    async def run(
        self,
        *,
        on_ready: Callable[[int], Awaitable[None]] | None = None,
        background: tuple[BackgroundJob, ...] = DEFAULT_JOBS,
        install_signal_handlers: bool = True,
        sockets: list[socket.socket] | None = None,
    ) -> None:
        """Serve until stopped; on ``sockets`` already listening when given (the workers of
        ``workers.py`` share one), else on a socket of its own."""
        inventory = await Inventory.open(self.settings)
        runtime = await build_runtime(self.settings, inventory)
        app = create_app(runtime, background)
        config = uvicorn.Config(
            app,
            host=self.host,
            port=self.port,
            log_config=None,
            access_log=False,
            server_header=False,
            # The client address comes from RequestContextMiddleware, which believes
            # X-Forwarded-For only from TAURUS_TRUSTED_PROXIES; uvicorn would trust loopback.
            proxy_headers=False,
            http="httptools",
            lifespan="on",
            timeout_graceful_shutdown=5,
            ssl_certfile=self.settings.ssl_certfile,
            ssl_keyfile=self.settings.ssl_keyfile,
        )
        server = uvicorn.Server(config)
        self._server = server
        if not install_signal_handlers:
            # uvicorn re-raises a caught SIGTERM after shutdown with the default handler, which would
            # end the process before the caller's clean-up; such callers handle signals themselves.
            server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        watcher = asyncio.create_task(self._announce(server, on_ready)) if on_ready else None
        try:
            await server.serve(sockets=sockets)
        finally:
            if watcher is not None:
                watcher.cancel()

    async def _announce(self, server: uvicorn.Server, on_ready: Callable[[int], Awaitable[None]]) -> None:
        # uvicorn exposes only a flag for "listening", no event to await.
        while not server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        sockets = [sock for srv in server.servers for sock in srv.sockets]
        port = sockets[0].getsockname()[1] if sockets else self.port
        await on_ready(int(port))

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True

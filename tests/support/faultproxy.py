"""An in-process TCP fault proxy, in the vocabulary of Shopify's toxiproxy ("faults as named toxics").

It sits between a client and a server, forwards both directions byte for byte and, on demand,
injects faults into the connections already open and into new ones alike:

============  ======================  ======================================================
fault         toxiproxy name          effect
============  ======================  ======================================================
latency       latency                 each chunk is held for a delay (plus or minus jitter)
blackhole     timeout (timeout=0)     nothing is forwarded, sockets stay open
reset_peer    reset_peer              every connection is closed with a TCP RST
cut_after     limit_data / slicer     after N more bytes in a direction, a RST mid-stream
refuse        (proxy disabled)        the listener is closed: connects are refused
============  ======================  ======================================================

"upstream" is client to server, "downstream" server to client, as in toxiproxy.

The proxy runs its own event loop in a daemon thread, so that synchronous tests and blocking
clients (PyMySQL) can drive it. Every public method hands its work to that loop and waits for
it: a fault is in force by the time the call returns, and the proxy's state is only ever touched
by the loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, TypeVar

Direction = Literal["both", "upstream", "downstream"]
Way = Literal["upstream", "downstream"]
FaultName = Literal["latency", "blackhole", "reset_peer", "cut_after", "refuse"]
Outcome = Literal["eof", "reset"]

WAYS: tuple[Way, ...] = ("upstream", "downstream")
FAULTS: tuple[FaultName, ...] = ("latency", "blackhole", "reset_peer", "cut_after", "refuse")
CHUNK = 64 * 1024
# Chunks read ahead of the writer, per direction: enough that a delayed stream keeps flowing
# (latency is added once, not once per chunk), few enough that a writer held back by a
# blackhole soon stops reading and TCP pushes back on the sender.
READ_AHEAD = 16
# Bounds every hand-over to the proxy's loop, so a wedged proxy fails a test instead of hanging it.
CALL_TIMEOUT = 10.0

T = TypeVar("T")


@dataclass(frozen=True)
class ProxyStats:
    connections_accepted: int
    connections_open: int
    bytes_upstream: int
    bytes_downstream: int


@dataclass(frozen=True)
class _Latency:
    seconds: float
    jitter: float

    def draw(self) -> float:
        return max(0.0, self.seconds + random.uniform(-self.jitter, self.jitter))


@dataclass(frozen=True)
class _Cut:
    nbytes: int
    once: bool


@dataclass
class _Faults:
    """The faults in force."""

    latency: dict[Way, _Latency] = field(default_factory=dict)
    cut: dict[Way, _Cut] = field(default_factory=dict)
    reset_peer: bool = False
    refuse: bool = False
    # Set while data may flow. A blackhole clears it; writers wait on it, so whatever was held
    # moves on, in order, the moment the blackhole is removed.
    flowing: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.flowing.set()

    def active(self) -> frozenset[FaultName]:
        on: dict[FaultName, bool] = {
            "latency": bool(self.latency),
            "blackhole": not self.flowing.is_set(),
            "reset_peer": self.reset_peer,
            "cut_after": bool(self.cut),
            "refuse": self.refuse,
        }
        return frozenset(name for name, is_on in on.items() if is_on)


@dataclass
class _Counters:
    accepted: int = 0
    forwarded: dict[Way, int] = field(default_factory=lambda: dict.fromkeys(WAYS, 0))


def _ways(direction: Direction) -> tuple[Way, ...]:
    if direction == "both":
        return WAYS
    if direction in WAYS:
        return (direction,)
    raise ValueError(f"direction must be 'both', 'upstream' or 'downstream', not {direction!r}")


def _send_rst(writer: asyncio.StreamWriter) -> None:
    """Close at once with a RST: SO_LINGER 0 makes close() drop the connection instead of a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _closed(writer: asyncio.StreamWriter) -> None:
    # The socket is only closed (and the RST or FIN sent) once the transport has run its
    # connection_lost; waiting for it means a reset is on the wire when a fault call returns.
    with contextlib.suppress(OSError):
        await writer.wait_closed()


class _Link:
    """One proxied connection: the client's socket and the proxy's own socket to the server."""

    def __init__(
        self,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        server: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        faults: _Faults,
        counters: _Counters,
    ) -> None:
        self._readers: dict[Way, asyncio.StreamReader] = {"upstream": client[0], "downstream": server[0]}
        self._writers: dict[Way, asyncio.StreamWriter] = {"upstream": server[1], "downstream": client[1]}
        self._faults = faults
        self._counters = counters
        self._pumps: list[asyncio.Task[Outcome]] = []
        self.forwarded: dict[Way, int] = dict.fromkeys(WAYS, 0)
        # Where a cut_after budget starts: a cut armed on an open link counts from that moment.
        self.cut_from: dict[Way, int] = dict.fromkeys(WAYS, 0)

    async def run(self) -> None:
        self._pumps = [asyncio.create_task(self._pump(way)) for way in WAYS]
        reset = True
        try:
            done, _ = await asyncio.wait(self._pumps, return_when=asyncio.FIRST_COMPLETED)
            # One direction ending ends the connection: MySQL never half-closes, and a pump that
            # stopped on a reset or a cut wants the whole connection gone.
            reset = any(task.cancelled() or task.result() == "reset" for task in done)
        finally:
            await self.close(reset)

    async def close(self, reset: bool) -> None:
        for writer in self._writers.values():
            if reset:
                _send_rst(writer)
            else:
                writer.close()
        for task in self._pumps:
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        for writer in self._writers.values():
            await _closed(writer)

    async def _pump(self, way: Way) -> Outcome:
        # Reading and writing are separate tasks so that a delayed chunk does not delay the
        # reading of the next one: latency is then one delay per chunk, not a throughput cap.
        queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue(READ_AHEAD)
        reader = asyncio.create_task(self._read(way, queue))
        try:
            return await self._write(way, queue)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read(self, way: Way, queue: asyncio.Queue[tuple[float, bytes | None]]) -> None:
        """Queue each chunk with its arrival time; b"" is the end of the stream, None a reset."""
        while True:
            try:
                data: bytes | None = await self._readers[way].read(CHUNK)
            except OSError:
                data = None
            await queue.put((time.monotonic(), data))
            if not data:
                return

    async def _write(self, way: Way, queue: asyncio.Queue[tuple[float, bytes | None]]) -> Outcome:
        while True:
            arrived, data = await queue.get()
            await self._delay(way, arrived)
            # After the delay: a blackhole switched on meanwhile holds this chunk too. The end of
            # the stream waits as well, so a blackholed peer's close goes unnoticed until healed.
            await self._faults.flowing.wait()
            if data is None:
                return "reset"
            if not data:
                return "eof"
            data, cut = self._cut(way, data)
            if not await self._send(way, data):
                return "reset"
            if cut:
                return "reset"

    async def _delay(self, way: Way, arrived: float) -> None:
        latency = self._faults.latency.get(way)
        if latency is not None:
            await asyncio.sleep(max(0.0, arrived + latency.draw() - time.monotonic()))

    def _cut(self, way: Way, data: bytes) -> tuple[bytes, bool]:
        """The part of `data` still within a cut_after budget, and whether the budget ends here."""
        rule = self._faults.cut.get(way)
        if rule is None:
            return data, False
        left = self.cut_from[way] + rule.nbytes - self.forwarded[way]
        if len(data) < left:
            return data, False
        if rule.once:
            del self._faults.cut[way]
        return data[: max(left, 0)], True

    async def _send(self, way: Way, data: bytes) -> bool:
        writer = self._writers[way]
        try:
            writer.write(data)
            await writer.drain()
        except OSError:
            return False
        self.forwarded[way] += len(data)
        self._counters.forwarded[way] += len(data)
        return True


class FaultProxy:
    """A TCP proxy on 127.0.0.1 (a free port, `.port`) in front of one server, with switchable faults.

    Use as a context manager, or call `start()` and `stop()`; a restart listens on the same port.
    Faults stay in force until `heal()`.
    """

    def __init__(self, upstream_host: str, upstream_port: int, *, connect_timeout: float = 5.0) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.host = "127.0.0.1"
        self._connect_timeout = connect_timeout
        self._port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._faults = _Faults()
        self._counters = _Counters()
        self._links: set[_Link] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the proxy has not been started")
        return self._port

    # --- life cycle -----------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        if self._loop is not None:
            raise RuntimeError("the proxy is already running")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        try:
            self._run(self._start())
        except BaseException:
            self.stop()  # no loop thread left behind when the port cannot be bound
            raise
        return self

    def stop(self) -> None:
        """Reset every connection, close the listener and end the loop's thread. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self._run(self._shutdown())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(CALL_TIMEOUT)
            loop.close()
            self._loop = self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # --- faults ---------------------------------------------------------------------------------

    def latency(self, seconds: float, jitter: float = 0.0, direction: Direction = "both") -> None:
        """Hold each chunk `seconds` (plus or minus up to `jitter`) before forwarding it."""
        if seconds < 0 or jitter < 0:
            raise ValueError("latency and jitter cannot be negative")
        rule, ways = _Latency(seconds, jitter), _ways(direction)
        self._apply(lambda: self._faults.latency.update(dict.fromkeys(ways, rule)))

    def blackhole(self) -> None:
        """Forward nothing in either direction, keep every socket open; new connections hang too."""
        self._apply(self._faults.flowing.clear)

    def reset_peer(self) -> None:
        """Reset every open connection with a RST, and every new one as soon as it is accepted."""
        self._run(self._reset_peer())

    def cut_after(self, nbytes: int, direction: Direction = "downstream", *, once: bool = False) -> None:
        """On each connection, forward `nbytes` more bytes in `direction`, then reset it.

        The count starts now on open connections and at the first byte on new ones. With
        `once`, the cut removes itself after cutting one connection: armed just before a
        query, it cuts that query's result and leaves the reconnect alone.
        """
        if nbytes < 0:
            raise ValueError("nbytes cannot be negative")
        rule, ways = _Cut(nbytes, once), _ways(direction)
        self._apply(lambda: self._arm_cut(ways, rule))

    def refuse(self) -> None:
        """Close the listener: connects are refused. Connections already open are left alone."""
        self._apply(self._close_listener)

    def heal(self, *faults: FaultName) -> None:
        """Remove the given faults, or every fault; reopens the listener on the same port if closed."""
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        self._run(self._heal(set(faults or FAULTS)))

    def active(self) -> frozenset[FaultName]:
        return self._read(self._faults.active)

    @property
    def stats(self) -> ProxyStats:
        """Counters since start: connections accepted (reset ones too) and open, bytes forwarded."""
        return self._read(
            lambda: ProxyStats(
                connections_accepted=self._counters.accepted,
                connections_open=len(self._links),
                bytes_upstream=self._counters.forwarded["upstream"],
                bytes_downstream=self._counters.forwarded["downstream"],
            )
        )

    # --- on the loop ----------------------------------------------------------------------------

    async def _start(self) -> None:
        # A fresh fault set per run: its Event belongs to the loop it is first used on.
        self._faults = _Faults()
        await self._listen()

    async def _listen(self) -> None:
        # Port 0 the first time; afterwards the same port, so that clients configured with it
        # (a registered node, a connection pool) reach the proxy again after heal().
        self._server = await asyncio.start_server(self._accept, self.host, self._port)
        self._port = int(self._server.sockets[0].getsockname()[1])

    def _close_listener(self) -> None:
        self._faults.refuse = True
        if self._server is not None:
            # Server.close() closes the listening socket at once; not awaiting wait_closed(),
            # which on newer Pythons also waits for every accepted connection to end.
            self._server.close()
            self._server = None

    async def _shutdown(self) -> None:
        self._close_listener()
        await asyncio.gather(*(link.close(reset=True) for link in list(self._links)))
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _reset_peer(self) -> None:
        self._faults.reset_peer = True
        await asyncio.gather(*(link.close(reset=True) for link in list(self._links)))

    def _arm_cut(self, ways: tuple[Way, ...], rule: _Cut) -> None:
        for way in ways:
            self._faults.cut[way] = rule
            for link in self._links:
                link.cut_from[way] = link.forwarded[way]

    async def _heal(self, faults: set[FaultName]) -> None:
        if "latency" in faults:
            self._faults.latency.clear()
        if "blackhole" in faults:
            self._faults.flowing.set()
        if "reset_peer" in faults:
            self._faults.reset_peer = False
        if "cut_after" in faults:
            self._faults.cut.clear()
        if "refuse" in faults and self._faults.refuse:
            self._faults.refuse = False
            await self._listen()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)  # so that stop() can end a handler still connecting upstream
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            _send_rst(writer)  # stopped mid-connect: leave no socket behind
            raise
        finally:
            self._handlers.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._counters.accepted += 1
        if self._faults.reset_peer:
            _send_rst(writer)
            await _closed(writer)
            return
        try:
            server = await asyncio.wait_for(
                asyncio.open_connection(self.upstream_host, self.upstream_port), self._connect_timeout
            )
        except (OSError, TimeoutError):
            # The server is unreachable: the client sees its connection reset, as through toxiproxy.
            _send_rst(writer)
            await _closed(writer)
            return
        link = _Link((reader, writer), server, self._faults, self._counters)
        if self._faults.reset_peer:  # switched on while this connection was being set up
            await link.close(reset=True)
            return
        self._links.add(link)
        try:
            await link.run()
        finally:
            self._links.discard(link)

    # --- hand-over to the loop ------------------------------------------------------------------

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            work.close()
            raise RuntimeError("the proxy is not running")
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(CALL_TIMEOUT)

    def _call(self, work: Callable[[], T]) -> T:
        async def on_loop() -> T:
            return work()

        return self._run(on_loop())

    def _apply(self, change: Callable[[], object]) -> None:
        self._call(change)

    def _read(self, look: Callable[[], T]) -> T:
        # Readable after stop() too: with the loop's thread gone nothing else touches the state.
        return look() if self._loop is None else self._call(look)

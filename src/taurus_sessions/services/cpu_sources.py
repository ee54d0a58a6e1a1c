"""A node's CPU usage, which SQL cannot see: read from where the node's configuration says.

Two sources (auto SQL limiting's ``cpu_usage`` condition needs one; without one it is unknown):

- ``pidfile:/path/to/mysqld.pid``: the server runs on this host; its process (the pid the file holds
  now, so a restart is followed) is measured with psutil. Usage is the process's CPU time over wall
  time, as a percentage of the CPUs the process may run on (its affinity): 100 means every such CPU
  busy with it, like a cloud instance's CPU usage over its vCPUs.
- ``http(s)://host:9100/metrics``: a Prometheus node-exporter on the node's machine. Usage is the
  busy share of ``node_cpu_seconds_total`` over all CPUs: everything but ``idle``, ``iowait`` and
  ``steal`` (time waiting for disks or taken by the hypervisor is not work of this machine).

Both are rates, so a reading needs two samples: the first check after start (or after the pid or
the exporter changed) reads unknown, the next ones the usage since the previous check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

PIDFILE = "pidfile:"
MAX_SOURCE_CHARS = 512
MAX_EXPORTER_BYTES = 8 * 1024 * 1024
NOT_WORK = frozenset({"idle", "iowait", "steal"})


def parse_cpu_source(text: str) -> str:
    """The source in its stored form, or ValueError saying what is wrong with it."""
    source = text.strip()
    if not source or len(source) > MAX_SOURCE_CHARS:
        raise ValueError(f"a CPU source is 1 to {MAX_SOURCE_CHARS} characters")
    if source.startswith(PIDFILE):
        path = source[len(PIDFILE) :]
        if not Path(path).is_absolute():
            raise ValueError("pidfile: needs an absolute path, e.g. pidfile:/run/mysqld/mysqld.pid")
        return PIDFILE + path
    try:
        url = httpx.URL(source)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("a CPU source is pidfile:<path> or a node-exporter's http(s)://host:port/metrics")
    if url.userinfo:
        # Credentials would be stored in clear and shown by `node list`; put the exporter behind
        # loopback or a proxy that needs none.
        raise ValueError("a node-exporter URL may not hold a user name or password")
    return str(url)


def source_kind(source: str | None) -> str:
    """How the API names a source: none, process or node_exporter."""
    if source is None:
        return "none"
    return "process" if source.startswith(PIDFILE) else "node_exporter"


@dataclass(frozen=True, slots=True)
class CpuReading:
    usage: float | None  # percent, 0 to 100; None: unknown
    note: str | None = None  # why it is unknown


@dataclass(frozen=True, slots=True)
class _Sample:
    identity: str  # the pid or exporter the counters belong to
    busy: float  # seconds of CPU work
    total: float  # seconds of CPU available over the same time


class CpuMeter:
    """Readings per node, each the usage since that node's previous reading."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, timeout: float = 2.0) -> None:
        self._clock = clock
        self._timeout = timeout
        self._previous: dict[str, _Sample] = {}
        self._http: httpx.AsyncClient | None = None

    async def read(self, node_id: str, source: str | None) -> CpuReading:
        if source is None:
            self._previous.pop(node_id, None)
            return CpuReading(None, "the node has no CPU source")
        try:
            sample = await (self._process(source) if source.startswith(PIDFILE) else self._exporter(source))
        except CpuSourceUnreadable as exc:
            self._previous.pop(node_id, None)
            return CpuReading(None, str(exc))
        previous = self._previous.get(node_id)
        self._previous[node_id] = sample
        if previous is None or previous.identity != sample.identity or sample.total <= previous.total:
            return CpuReading(None, "the first CPU sample; the usage is known from the next check")
        usage = 100.0 * (sample.busy - previous.busy) / (sample.total - previous.total)
        return CpuReading(min(100.0, max(0.0, usage)))

    def forget(self, keep: set[str]) -> None:
        """Drop the samples of nodes no longer measured."""
        for node_id in set(self._previous) - keep:
            del self._previous[node_id]

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _process(self, source: str) -> _Sample:
        path = Path(source[len(PIDFILE) :])
        try:
            text = await asyncio.to_thread(path.read_text, encoding="ascii")
            pid = int(text.split()[0])
            process = psutil.Process(pid)
            with process.oneshot():
                times = process.cpu_times()
                cores = len(process.cpu_affinity() or []) or psutil.cpu_count() or 1
                started = process.create_time()
        except (OSError, ValueError, IndexError) as exc:
            raise CpuSourceUnreadable(f"the pid file cannot be read: {type(exc).__name__}") from None
        except psutil.Error as exc:
            raise CpuSourceUnreadable(f"the process cannot be measured: {type(exc).__name__}") from None
        return _Sample(f"{pid}@{started}", times.user + times.system, self._clock() * cores)

    async def _exporter(self, url: str) -> _Sample:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
        try:
            async with self._http.stream("GET", url) as response:
                if response.status_code != 200:
                    raise CpuSourceUnreadable(f"the node-exporter answered HTTP {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_EXPORTER_BYTES:
                        raise CpuSourceUnreadable("the node-exporter's answer is too large")
        except httpx.HTTPError as exc:
            raise CpuSourceUnreadable(f"the node-exporter cannot be read: {type(exc).__name__}") from None
        return _cpu_counters(url, body.decode("utf-8", "replace"))


def _cpu_counters(url: str, text: str) -> _Sample:
    busy = total = 0.0
    try:
        for family in text_string_to_metric_families(text):
            if family.name != "node_cpu_seconds":  # the parser drops the counter's _total suffix
                continue
            for sample in family.samples:
                total += sample.value
                if sample.labels.get("mode") not in NOT_WORK:
                    busy += sample.value
    except ValueError as exc:
        raise CpuSourceUnreadable(f"the node-exporter's answer does not parse: {exc}") from None
    if total <= 0:
        raise CpuSourceUnreadable("the node-exporter shows no node_cpu_seconds_total")
    return _Sample(url, busy, total)


class CpuSourceUnreadable(Exception):
    """The source gave no sample now (the message says why, without any secret)."""

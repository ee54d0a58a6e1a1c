"""A small time-to-live cache for hot-path inventory lookups (node targets, roles, users).

Changes made through the CLI by another process show up after ``ttl`` seconds; 0 disables caching.

A value is never served older than ``ttl``. So that a request does not wait for the inventory when
an entry's time is up, entries used lately are loaded again *before* they expire (``refresh_due``,
called by the service's cache refresher several times per lifetime): a caller who comes back after
a pause finds the entry fresh. Concurrent misses of one key share one load.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from taurus_sessions import metrics

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Entries used within this many seconds are kept fresh by ``refresh_due``; others simply expire.
KEEP_WARM_SECONDS = 60.0
# At most this many entries of one cache are loaded per ``refresh_due`` (the most recently used
# first), so a burst of one-off lookups (hundreds of nodes listed once) cannot turn into a stream
# of inventory reads.
WARM_LIMIT = 32


@dataclass(slots=True)
class _Entry(Generic[V]):
    expires: float
    value: V
    load: Callable[[], Awaitable[V]]
    used: float  # when a caller last looked it up


class TtlCache(Generic[K, V]):
    def __init__(
        self,
        ttl: float,
        clock: Callable[[], float],
        maxsize: int = 4096,
        *,
        keep_warm: float = KEEP_WARM_SECONDS,
        warm_limit: int = WARM_LIMIT,
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._maxsize = maxsize
        self._keep_warm = keep_warm
        self._warm_limit = warm_limit
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._loading: dict[K, asyncio.Future[V]] = {}
        self._generation = 0  # bumped by ``invalidate``: a load begun before it is not kept

    @property
    def ttl(self) -> float:
        return self._ttl

    async def get(self, key: K, load: Callable[[], Awaitable[V]], name: str = "other") -> V:
        """The cached value, or ``load()``'s (kept for ``ttl``); ``name`` labels the lookup in the
        cache metrics."""
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry.expires > now:
            entry.used = now
            metrics.cache_lookup(name, True)
            return entry.value
        metrics.cache_lookup(name, False)
        if self._ttl <= 0:
            return await load()
        pending = self._loading.get(key)
        if pending is None:
            pending = self._start(key, load, now)
        # Shielded: a caller that goes away (a client disconnecting) does not cancel the load the
        # other callers of this key are waiting for.
        return await asyncio.shield(pending)

    def _start(self, key: K, load: Callable[[], Awaitable[V]], used: float) -> asyncio.Future[V]:
        pending = asyncio.ensure_future(self._load(key, load, used))
        pending.add_done_callback(_retrieve)
        self._loading[key] = pending
        return pending

    async def _load(self, key: K, load: Callable[[], Awaitable[V]], used: float) -> V:
        started, generation = self._clock(), self._generation
        try:
            value = await load()
        finally:
            if self._loading.get(key) is asyncio.current_task():
                del self._loading[key]
        # The value reflects the inventory as it was when the load began: its lifetime counts from then.
        if generation == self._generation:
            self._entries[key] = _Entry(started + self._ttl, value, load, used)
            self._entries.move_to_end(key)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)
        return value

    def refresh_due(self, margin: float | None = None) -> list[asyncio.Future[V]]:
        """Begin loading again the entries used within the keep-warm window that expire within
        ``margin`` seconds (half the lifetime by default); the loads begun."""
        if self._ttl <= 0 or not self._entries:
            return []
        now = self._clock()
        horizon = now + (self._ttl / 2 if margin is None else margin)
        due = [
            (key, entry)
            for key, entry in self._entries.items()
            if entry.expires <= horizon and entry.used >= now - self._keep_warm and key not in self._loading
        ]
        due.sort(key=lambda item: item[1].used, reverse=True)
        return [self._start(key, entry.load, entry.used) for key, entry in due[: self._warm_limit]]

    def invalidate(self, key: K | None = None) -> None:
        self._generation += 1
        if key is None:
            self._entries.clear()
            self._loading.clear()
        else:
            self._entries.pop(key, None)
            self._loading.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


def _retrieve(done: asyncio.Future[Any]) -> None:
    # A load whose callers all went away still ends somewhere: its failure is theirs, not a warning.
    if not done.cancelled():
        done.exception()


class CacheRefresher:
    """Keeps the caches' recently used entries fresh ahead of their expiry (a background job of the
    service runs ``run_forever``), and runs other periodic reloads the request path would
    otherwise pay for (``also``: e.g. the token keys)."""

    def __init__(
        self, caches: list[TtlCache[Any, Any]], also: list[Callable[[], Awaitable[None]]] | None = None
    ) -> None:
        self.caches = caches
        self.also = list(also or [])

    @property
    def interval(self) -> float:
        """A quarter of the shortest lifetime: an entry is loaded again when half its life is left."""
        lifetimes = [cache.ttl for cache in self.caches if cache.ttl > 0]
        return max(0.05, min(lifetimes) / 4) if lifetimes else 1.0

    async def refresh(self) -> None:
        loads: list[asyncio.Future[Any]] = []
        for cache in self.caches:
            loads += cache.refresh_due()
        for extra in self.also:
            loads.append(asyncio.ensure_future(extra()))
        if loads:
            await asyncio.gather(*loads, return_exceptions=True)

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.refresh()
            except Exception:  # a bug here must not end the refreshing for the life of the process
                log.exception("refreshing the caches failed")

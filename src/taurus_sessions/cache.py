"""A small time-to-live cache for hot-path inventory lookups (node targets, roles, users).

Changes made through the CLI by another process show up after ``ttl`` seconds; 0 disables caching.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from taurus_sessions import metrics

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float, clock: Callable[[], float], maxsize: int = 4096) -> None:
        self._ttl = ttl
        self._clock = clock
        self._maxsize = maxsize
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    async def get(self, key: K, load: Callable[[], Awaitable[V]], name: str = "other") -> V:
        """The cached value, or ``load()``'s (kept for ``ttl``); ``name`` labels the lookup in the
        cache metrics."""
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            metrics.cache_lookup(name, True)
            return entry[1]
        metrics.cache_lookup(name, False)
        value = await load()
        if self._ttl > 0:
            self._entries[key] = (now + self._ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)
        return value

    def invalidate(self, key: K | None = None) -> None:
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)

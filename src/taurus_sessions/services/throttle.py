"""Per-caller request throttling (APIGW.0308): a token bucket per user or access key, per process."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from taurus_sessions.errors import Throttled


class Throttle:
    def __init__(
        self, per_second: float, burst: int, clock: Callable[[], float], max_keys: int = 100_000
    ) -> None:
        self._rate = per_second
        self._burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, stamp)

    @property
    def enabled(self) -> bool:
        return self._rate > 0

    def check(self, key: str) -> None:
        if self._rate <= 0:
            return
        now = self._clock()
        tokens, stamp = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - stamp) * self._rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise Throttled()
        self._buckets[key] = (tokens - 1.0, now)
        self._buckets.move_to_end(key)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)

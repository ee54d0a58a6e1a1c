"""Throttles (APIGW.0308): token buckets keyed by caller, source address or account, each checked
before the work it protects. The cheapest check runs first, so a stranger's flood costs a
dictionary lookup — not a signature check, an argon2 hash or an audit write (Keystone's and nginx's
``limit_req`` idea: key by address, leaky bucket, 429).

Buckets live in each process's memory. The workers of one service (``serve --workers N``) share
every budget out: each holds 1/N of the rate and of the burst (``Buckets.shared``), so the total
never exceeds the setting, whichever worker a request lands on — a client whose requests all land
on one worker (one keep-alive connection) gets 1/N of it. Replicas on separate machines each apply
the whole setting.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable

from taurus_sessions import metrics
from taurus_sessions.errors import Throttled

MAX_KEYS = 100_000  # buckets kept per throttle; the least recently touched go first


class Buckets:
    """One token bucket per key: ``burst`` tokens at most, refilled at ``per_second``."""

    @classmethod
    def shared(cls, per_second: float, burst: int, clock: Callable[[], float], processes: int) -> Buckets:
        """This process's share of a budget that ``processes`` workers enforce together."""
        return cls(per_second / processes, max(1, math.ceil(burst / processes)), clock)

    def __init__(self, per_second: float, burst: int, clock: Callable[[], float], max_keys: int = MAX_KEYS):
        self._rate = per_second
        self._burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._levels: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    @property
    def enabled(self) -> bool:
        return self._rate > 0

    def _level(self, key: Hashable, now: float) -> float:
        tokens, at = self._levels.get(key, (self._burst, now))
        return min(self._burst, tokens + (now - at) * self._rate)

    def _set(self, key: Hashable, tokens: float, now: float) -> None:
        self._levels[key] = (tokens, now)
        self._levels.move_to_end(key)
        if len(self._levels) > self._max_keys:
            self._levels.popitem(last=False)

    def take(self, key: Hashable) -> bool:
        """Take a token if there is one; False means the caller must be refused."""
        if not self.enabled:
            return True
        now = self._clock()
        tokens = self._level(key, now)
        if tokens < 1.0:
            return False
        self._set(key, tokens - 1.0, now)
        return True

    def empty(self, key: Hashable) -> bool:
        """No token left (nothing is taken: failures are counted separately, by ``spend``)."""
        return self.enabled and self._level(key, self._clock()) < 1.0

    def spend(self, key: Hashable) -> None:
        """Count one failure against the key (the level never goes below zero)."""
        if self.enabled:
            now = self._clock()
            self._set(key, max(0.0, self._level(key, now) - 1.0), now)


class CallerThrottle:
    """Requests per authenticated caller (a user or an access key)."""

    def __init__(self, buckets: Buckets) -> None:
        self._buckets = buckets

    def check(self, caller_key: str) -> None:
        if not self._buckets.take(caller_key):
            metrics.throttled("caller")
            raise Throttled()


class FailureThrottle:
    """Failed authentications per source address: once a source has spent its allowance, its
    requests are refused before any authentication work is done for them."""

    def __init__(self, buckets: Buckets) -> None:
        self._buckets = buckets

    def check(self, source: str | None) -> None:
        if self._buckets.empty(source or "-"):
            metrics.throttled("auth_failures")
            raise Throttled()

    def failed(self, source: str | None) -> None:
        self._buckets.spend(source or "-")


class LoginThrottle:
    """The token endpoint's throttle, checked before any password is hashed: every attempt per source
    address, and wrong passwords per account — except from an address that has signed in to that
    account before, so a stranger guessing a user's password slows the stranger down, not the user
    at her usual place (throttle, not lockout)."""

    def __init__(
        self,
        per_source: Buckets,
        account_failures: Buckets,
        clock: Callable[[], float],
        remember_seconds: float = 24 * 3600,
        max_known: int = MAX_KEYS,
    ) -> None:
        self._per_source = per_source
        self._account_failures = account_failures
        self._clock = clock
        self._remember = remember_seconds
        self._max_known = max_known
        self._known: OrderedDict[tuple[str, str], float] = OrderedDict()  # (account, source) -> until

    def _is_known(self, account: str, source: str) -> bool:
        until = self._known.get((account, source))
        return until is not None and until > self._clock()

    def admit(self, source: str | None, account: str) -> bool:
        """Whether this attempt may be checked at all."""
        where = source or "-"
        if not self._per_source.take(where):
            return False
        return self._is_known(account, where) or not self._account_failures.empty(account)

    def failed(self, source: str | None, account: str) -> None:
        if not self._is_known(account, source or "-"):
            self._account_failures.spend(account)

    def succeeded(self, source: str | None, account: str) -> None:
        self._known[(account, source or "-")] = self._clock() + self._remember
        self._known.move_to_end((account, source or "-"))
        if len(self._known) > self._max_known:
            self._known.popitem(last=False)

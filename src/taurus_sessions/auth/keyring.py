"""Keeps the token provider's keys in step with the inventory, so replicas see a rotation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from taurus_sessions.auth.tokens import TokenProvider
from taurus_sessions.inventory.users import UserStore

# After a token fails to open, reload keys at most this often: a rotation by another replica is
# picked up at once, yet a stream of forged tokens cannot turn into a stream of inventory reads.
_MIN_RELOAD_INTERVAL = 1.0


class TokenKeyring:
    def __init__(
        self, provider: TokenProvider, users: UserStore, refresh_seconds: float, clock: Callable[[], float]
    ) -> None:
        self.provider = provider
        self._users = users
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._loaded_at = clock()
        self._lock = asyncio.Lock()

    @classmethod
    async def load(
        cls, users: UserStore, ttl_seconds: int, refresh_seconds: float, clock: Callable[[], float]
    ) -> TokenKeyring:
        provider = TokenProvider(await users.token_keys(), ttl_seconds, clock)
        return cls(provider, users, refresh_seconds, clock)

    async def refresh_if_stale(self) -> None:
        if self._clock() - self._loaded_at >= self._refresh_seconds:
            await self._reload()

    async def refresh_ahead(self) -> None:
        """Reload a little before the keys are due (the service's cache refresher calls this), so
        that ``refresh_if_stale`` finds nothing to do on a request's path."""
        if self._clock() - self._loaded_at >= self._refresh_seconds * 0.75:
            await self._reload()

    async def reload_after_failure(self) -> bool:
        """Reload if the last load is old enough; True when keys were reloaded."""
        if self._clock() - self._loaded_at < _MIN_RELOAD_INTERVAL:
            return False
        await self._reload()
        return True

    async def _reload(self) -> None:
        async with self._lock:
            keys = await self._users.token_keys()
            if keys:
                self.provider.replace_keys(keys)
            self._loaded_at = self._clock()

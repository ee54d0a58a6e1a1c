"""Signed-out tokens. Each process keeps the digests of revoked, unexpired tokens in memory: its own
revocations at once, the other processes' through ``refresh``, which a background job calls every
few seconds — so the check a request pays is a set lookup, never an inventory read."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from taurus_sessions.inventory.revoked_tokens import RevokedTokenStore

# Revocations are read back with this much overlap, so that clocks a little apart between
# processes cannot make one miss another's revocation.
OVERLAP = timedelta(minutes=1)
DIGEST_CACHE_SIZE = 4096


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class TokenRevocations:
    def __init__(self, store: RevokedTokenStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock
        self._revoked: dict[str, datetime] = {}  # digest -> expiry
        self._digests: dict[str, str] = {}  # token -> digest (a client sends one token on every call)
        self._read_until: datetime | None = None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def is_revoked(self, token: str) -> bool:
        digest = self._digests.get(token)
        if digest is None:
            digest = token_digest(token)
            if len(self._digests) >= DIGEST_CACHE_SIZE:
                self._digests.clear()  # tokens are long-lived: a rare restart of the memo is fine
            self._digests[token] = digest
        return digest in self._revoked

    async def revoke(self, token: str, user_id: str, expires_at: datetime) -> None:
        digest = token_digest(token)
        await self._store.add(digest, user_id, expires_at, self._now())
        self._revoked[digest] = expires_at

    async def refresh(self) -> None:
        now = self._now()
        since = self._read_until - OVERLAP if self._read_until else datetime.fromtimestamp(0, UTC)
        for digest, expires_at in await self._store.revoked_since(since, now):
            self._revoked[digest] = expires_at
        self._read_until = now
        self._revoked = {digest: until for digest, until in self._revoked.items() if until > now}

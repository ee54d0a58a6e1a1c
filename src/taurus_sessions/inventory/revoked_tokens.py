"""Tokens signed out before they expire, by digest (the token itself is never stored)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taurus_sessions.inventory.models import RevokedToken


class RevokedTokenStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, digest: str, user_id: str, expires_at: datetime, revoked_at: datetime) -> None:
        async with self._sessions.begin() as session:
            if await session.get(RevokedToken, digest) is None:
                session.add(
                    RevokedToken(
                        token_digest=digest, user_id=user_id, expires_at=expires_at, revoked_at=revoked_at
                    )
                )

    async def revoked_since(self, since: datetime, now: datetime) -> list[tuple[str, datetime]]:
        """Digests revoked since ``since`` that have not expired yet, with their expiry."""
        query = select(RevokedToken.token_digest, RevokedToken.expires_at).where(
            RevokedToken.revoked_at >= since, RevokedToken.expires_at > now
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [(digest, expires_at) for digest, expires_at in rows]

    async def purge(self, now: datetime) -> None:
        """Forget revocations of tokens that have expired anyway."""
        async with self._sessions.begin() as session:
            await session.execute(delete(RevokedToken).where(RevokedToken.expires_at <= now))

"""Access keys (AK/SK): create (the SK is returned once and stored only encrypted), list, disable,
delete, and the bookkeeping of signature checks (last use, failures in a row, lock-out)."""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy import case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taurus_sessions.inventory.instances import NotFound
from taurus_sessions.inventory.models import AccessKey, User
from taurus_sessions.inventory.secrets import SecretBox

_AK_ALPHABET = string.ascii_uppercase + string.digits
_SK_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class KeyForCheck:
    """What a signature check needs, with the SK opened (masked in repr)."""

    ak: str
    user_id: str
    sk: SecretStr
    enabled: bool
    locked_until: datetime | None
    failed_attempts: int


class AccessKeyStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box

    async def create(self, user_id: str, description: str = "") -> tuple[AccessKey, SecretStr]:
        # Huawei's shape: a 20-character AK of capitals and digits, a 40-character SK.
        ak = "".join(secrets.choice(_AK_ALPHABET) for _ in range(20))
        sk = SecretStr("".join(secrets.choice(_SK_ALPHABET) for _ in range(40)))
        key = AccessKey(
            ak=ak, user_id=user_id, sk_enc=self._box.seal(sk.get_secret_value()), description=description
        )
        key.enabled, key.failed_attempts = True, 0
        async with self._sessions.begin() as session:
            if await session.get(User, user_id) is None:
                raise NotFound(f"no user {user_id}")
            session.add(key)
        return key, sk

    async def list(self, user_id: str | None = None) -> Sequence[AccessKey]:
        query = select(AccessKey).order_by(AccessKey.created_at)
        if user_id is not None:
            query = query.where(AccessKey.user_id == user_id)
        async with self._sessions() as session:
            return (await session.scalars(query)).all()

    async def set_enabled(self, ak: str, enabled: bool) -> None:
        async with self._sessions.begin() as session:
            key = await session.get(AccessKey, ak)
            if key is None:
                raise NotFound(f"no access key {ak}")
            key.enabled = enabled
            if enabled:
                key.failed_attempts, key.locked_until = 0, None

    async def delete(self, ak: str) -> None:
        async with self._sessions.begin() as session:
            result = await session.execute(delete(AccessKey).where(AccessKey.ak == ak))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"no access key {ak}")

    async def for_check(self, ak: str) -> KeyForCheck | None:
        async with self._sessions() as session:
            key = await session.get(AccessKey, ak)
        if key is None:
            return None
        return KeyForCheck(
            key.ak,
            key.user_id,
            self._box.open(key.sk_enc),
            key.enabled,
            key.locked_until,
            key.failed_attempts,
        )

    async def record_failure(self, ak: str, now: datetime, limit: int, lock_for: timedelta) -> None:
        """One more failure in a row; the ``limit``-th locks the key. Atomic across replicas."""
        reaching = AccessKey.failed_attempts + 1 >= limit
        async with self._sessions.begin() as session:
            await session.execute(
                update(AccessKey)
                .where(AccessKey.ak == ak)
                .values(
                    failed_attempts=case((reaching, 0), else_=AccessKey.failed_attempts + 1),
                    locked_until=case((reaching, now + lock_for), else_=AccessKey.locked_until),
                )
            )

    async def record_success(self, ak: str, now: datetime, reset_failures: bool) -> None:
        values: dict[str, object] = {"last_used_at": now}
        if reset_failures:
            values["failed_attempts"] = 0
        async with self._sessions.begin() as session:
            await session.execute(update(AccessKey).where(AccessKey.ak == ak).values(**values))

    async def failures(self, ak: str) -> int:
        async with self._sessions() as session:
            key = await session.get(AccessKey, ak)
        return key.failed_attempts if key is not None else 0

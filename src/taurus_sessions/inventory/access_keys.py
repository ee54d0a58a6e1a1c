"""Access keys (AK/SK): create (the SK is returned once and stored only encrypted), list, disable,
delete, and the bookkeeping of signature checks (last use; failures in a row and the lock-out,
counted per key and source address)."""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import SecretStr
from sqlalchemy import Table, case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taurus_sessions.inventory.instances import NotFound
from taurus_sessions.inventory.models import AccessKey, AccessKeyFailures, User
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


@dataclass(frozen=True, slots=True)
class LockState:
    """Failed signatures in a row from one address, and until when that address is locked out."""

    failed_attempts: int = 0
    locked_until: datetime | None = None


class AccessKeyStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox, dialect: str) -> None:
        self._sessions = sessions
        self._box = box
        self._dialect = dialect  # "sqlite" or "postgresql": the upsert is spelt per database

    async def create(self, user_id: str, description: str = "") -> tuple[AccessKey, SecretStr]:
        # Huawei's shape: a 20-character AK of capitals and digits, a 40-character SK.
        ak = "".join(secrets.choice(_AK_ALPHABET) for _ in range(20))
        sk = SecretStr("".join(secrets.choice(_SK_ALPHABET) for _ in range(40)))
        key = AccessKey(
            ak=ak, user_id=user_id, sk_enc=self._box.seal(sk.get_secret_value()), description=description
        )
        key.enabled = True
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
            if enabled:  # enabling lifts every lock-out of the key
                await session.execute(delete(AccessKeyFailures).where(AccessKeyFailures.ak == ak))

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
        return KeyForCheck(key.ak, key.user_id, self._box.open(key.sk_enc), key.enabled)

    async def lock_state(self, ak: str, source_ip: str) -> LockState:
        async with self._sessions() as session:
            row = await session.get(AccessKeyFailures, (ak, source_ip))
        return LockState(row.failed_attempts, row.locked_until) if row is not None else LockState()

    async def record_failure(
        self, ak: str, source_ip: str, now: datetime, limit: int, lock_for: timedelta
    ) -> None:
        """One more failure in a row from this address; the ``limit``-th locks the key for this
        address only. One atomic statement, so replicas sharing the inventory count together."""
        table = cast(Table, AccessKeyFailures.__table__)
        locks_now = limit <= 1
        first = {
            "ak": ak,
            "source_ip": source_ip,
            "updated_at": now,
            "failed_attempts": 0 if locks_now else 1,
            "locked_until": now + lock_for if locks_now else None,
        }
        reaching = table.c.failed_attempts + 1 >= limit
        statement = self._upsert(table).values(**first)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.ak, table.c.source_ip],
            set_={
                "failed_attempts": case((reaching, 0), else_=table.c.failed_attempts + 1),
                "locked_until": case((reaching, now + lock_for), else_=table.c.locked_until),
                "updated_at": now,
            },
        )
        async with self._sessions.begin() as session:
            await session.execute(statement)

    def _upsert(self, table: Table) -> Any:
        return sqlite_insert(table) if self._dialect == "sqlite" else postgresql_insert(table)

    async def record_success(self, ak: str, source_ip: str, now: datetime, reset_failures: bool) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(AccessKey).where(AccessKey.ak == ak).values(last_used_at=now))
            if reset_failures:
                await session.execute(
                    delete(AccessKeyFailures).where(
                        AccessKeyFailures.ak == ak, AccessKeyFailures.source_ip == source_ip
                    )
                )

    async def locked_until(self, ak: str, now: datetime) -> datetime | None:
        """The latest lock-out of any address still in force (for the operator's listing)."""
        query = select(func.max(AccessKeyFailures.locked_until)).where(
            AccessKeyFailures.ak == ak, AccessKeyFailures.locked_until > now
        )
        async with self._sessions() as session:
            until: datetime | None = await session.scalar(query)
        return until

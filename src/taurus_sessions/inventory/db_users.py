"""Database accounts registered for DAS's operations: scoped to one project and instance, the
password sealed under the master key and opened only to connect as the account."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taurus_sessions.inventory.instances import Conflict, NotFound
from taurus_sessions.inventory.models import DbUser, Instance, utcnow
from taurus_sessions.inventory.secrets import SecretBox


@dataclass(frozen=True, slots=True)
class DbUserPage:
    total: int
    users: Sequence[DbUser]


@dataclass(frozen=True, slots=True)
class DbUserFilter:
    db_user_id: str | None = None
    username: str | None = None


class DbUserStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box

    async def register(self, project_id: str, instance_id: str, username: str, password: SecretStr) -> DbUser:
        user = DbUser(
            id=str(uuid.uuid4()),
            project_id=project_id,
            instance_id=instance_id,
            username=username,
            password_enc=self._box.seal(password.get_secret_value()),
        )
        try:
            async with self._sessions.begin() as session:
                instance = await session.get(Instance, instance_id)
                if instance is None or instance.project_id != project_id:
                    raise NotFound(f"no instance {instance_id} in project {project_id}")
                if await self._find(session, instance_id, username) is not None:
                    raise Conflict(f"{username!r} is registered for this instance already")
                session.add(user)
        except IntegrityError as exc:  # the same name registered by a concurrent call
            raise Conflict(f"{username!r} is registered for this instance already") from exc
        return user

    @staticmethod
    async def _find(session: AsyncSession, instance_id: str, username: str) -> DbUser | None:
        query = select(DbUser).where(DbUser.instance_id == instance_id, DbUser.username == username)
        found: DbUser | None = await session.scalar(query)
        return found

    async def get(self, project_id: str, instance_id: str, db_user_id: str) -> DbUser | None:
        """The registration only if it belongs to this project and instance."""
        async with self._sessions() as session:
            user = await session.get(DbUser, db_user_id)
        if user is None or user.project_id != project_id or user.instance_id != instance_id:
            return None
        return user

    def password(self, user: DbUser) -> SecretStr:
        return self._box.open(user.password_enc)

    async def list(
        self, project_id: str, instance_id: str, offset: int, limit: int, flt: DbUserFilter
    ) -> DbUserPage:
        where = [DbUser.project_id == project_id, DbUser.instance_id == instance_id]
        if flt.db_user_id is not None:
            where.append(DbUser.id == flt.db_user_id)
        if flt.username is not None:
            where.append(DbUser.username == flt.username)
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(DbUser).where(*where))
            page = select(DbUser).where(*where).order_by(DbUser.created_at, DbUser.id)
            users = (await session.scalars(page.offset(offset).limit(limit))).all()
        return DbUserPage(int(total or 0), users)

    async def update(
        self, project_id: str, instance_id: str, db_user_id: str, username: str, password: SecretStr
    ) -> DbUser:
        try:
            async with self._sessions.begin() as session:
                user = await session.get(DbUser, db_user_id)
                if user is None or user.project_id != project_id or user.instance_id != instance_id:
                    raise NotFound(f"no database user {db_user_id}")
                other = await self._find(session, instance_id, username)
                if other is not None and other.id != db_user_id:
                    raise Conflict(f"{username!r} is registered for this instance already")
                user.username = username
                user.password_enc = self._box.seal(password.get_secret_value())
                user.updated_at = utcnow()
        except IntegrityError as exc:
            raise Conflict(f"{username!r} is registered for this instance already") from exc
        return user

    async def delete(self, project_id: str, instance_id: str, db_user_id: str) -> DbUser:
        async with self._sessions.begin() as session:
            user = await session.get(DbUser, db_user_id)
            if user is None or user.project_id != project_id or user.instance_id != instance_id:
                raise NotFound(f"no database user {db_user_id}")
            await session.delete(user)
        return user

    async def find(self, db_user_id: str) -> DbUser | None:
        """A registration by id alone (the operator's CLI; the API always scopes by project)."""
        async with self._sessions() as session:
            return await session.get(DbUser, db_user_id)

    async def for_instance(self, instance_id: str) -> Sequence[DbUser]:
        """Every registration of an instance (the CLI lists them)."""
        query = select(DbUser).where(DbUser.instance_id == instance_id).order_by(DbUser.created_at)
        async with self._sessions() as session:
            return (await session.scalars(query)).all()

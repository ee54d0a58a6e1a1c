"""Users, roles, role bindings and token-signing keys.

Password hashing lives in ``auth/passwords.py``; this module stores only the hash it is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taurus_sessions import ids
from taurus_sessions.inventory.instances import Conflict, NotFound
from taurus_sessions.inventory.models import Project, Role, RoleBinding, TokenKey, User, utcnow
from taurus_sessions.inventory.secrets import SecretBox


class UserStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box

    # -- users ------------------------------------------------------------------------------
    async def create_user(self, domain_name: str, name: str, password_hash: str) -> User:
        user = User(id=ids.new_user_id(), domain_name=domain_name, name=name, password_hash=password_hash)
        user.enabled = True
        async with self._sessions.begin() as session:
            if await self._user_by_name(session, domain_name, name) is not None:
                raise Conflict(f"user {domain_name}/{name} exists already")
            session.add(user)
        return user

    async def find_user(self, domain_name: str, name: str) -> User | None:
        async with self._sessions() as session:
            return await self._user_by_name(session, domain_name, name)

    async def find_user_by_name(self, name: str) -> Sequence[User]:
        async with self._sessions() as session:
            return (await session.scalars(select(User).where(User.name == name))).all()

    async def get_user(self, user_id: str) -> User | None:
        async with self._sessions() as session:
            return await session.get(User, user_id)

    async def list_users(self) -> Sequence[User]:
        async with self._sessions() as session:
            return (await session.scalars(select(User).order_by(User.domain_name, User.name))).all()

    async def update_user(
        self, user_id: str, *, password_hash: str | None = None, enabled: bool | None = None
    ) -> None:
        async with self._sessions.begin() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise NotFound(f"no user {user_id}")
            if password_hash is not None:
                user.password_hash = password_hash
            if enabled is not None:
                user.enabled = enabled
            if password_hash is not None or enabled is False:
                # Every token issued before now stops working (on every replica, within the
                # inventory cache's lifetime); a login with the new password gets a fresh one.
                user.tokens_valid_after = utcnow()

    async def delete_user(self, user_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(RoleBinding).where(RoleBinding.user_id == user_id))
            result = await session.execute(delete(User).where(User.id == user_id))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"no user {user_id}")

    @staticmethod
    async def _user_by_name(session: AsyncSession, domain_name: str, name: str) -> User | None:
        query = select(User).where(User.domain_name == domain_name, User.name == name)
        return await session.scalar(query)

    # -- roles ------------------------------------------------------------------------------
    async def ensure_builtin_roles(self, roles: Mapping[str, tuple[str, Sequence[str]]]) -> None:
        """Write the built-in roles as the code defines them (their meaning follows upgrades)."""
        async with self._sessions.begin() as session:
            for name, (description, patterns) in roles.items():
                actions = list(patterns)
                role = await session.get(Role, name)
                if role is None:
                    session.add(Role(name=name, description=description, actions=actions))
                else:
                    role.description, role.actions = description, actions

    async def create_role(self, name: str, actions: Sequence[str], description: str = "") -> Role:
        async with self._sessions.begin() as session:
            if await session.get(Role, name) is not None:
                raise Conflict(f"role {name!r} exists already")
            role = Role(name=name, description=description, actions=list(actions))
            session.add(role)
        return role

    async def list_roles(self) -> Sequence[Role]:
        async with self._sessions() as session:
            return (await session.scalars(select(Role).order_by(Role.name))).all()

    async def grant(self, user_id: str, project_id: str, role_name: str) -> None:
        async with self._sessions.begin() as session:
            if await session.get(User, user_id) is None:
                raise NotFound(f"no user {user_id}")
            if await session.get(Project, project_id) is None:
                raise NotFound(f"no project {project_id}")
            if await session.get(Role, role_name) is None:
                raise NotFound(f"no role {role_name!r}")
            if await session.get(RoleBinding, (user_id, project_id, role_name)) is None:
                session.add(RoleBinding(user_id=user_id, project_id=project_id, role_name=role_name))

    async def revoke(self, user_id: str, project_id: str, role_name: str) -> None:
        async with self._sessions.begin() as session:
            binding = await session.get(RoleBinding, (user_id, project_id, role_name))
            if binding is None:
                raise NotFound("no such role binding")
            await session.delete(binding)

    async def bindings(self, user_id: str) -> Sequence[RoleBinding]:
        async with self._sessions() as session:
            query = select(RoleBinding).where(RoleBinding.user_id == user_id)
            return (await session.scalars(query)).all()

    async def roles_in_project(self, user_id: str, project_id: str) -> list[tuple[str, list[str]]]:
        """The user's roles in a project, each with its action patterns."""
        query = (
            select(Role.name, Role.actions)
            .join(RoleBinding, RoleBinding.role_name == Role.name)
            .where(RoleBinding.user_id == user_id, RoleBinding.project_id == project_id)
            .order_by(Role.name)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [(name, [str(a) for a in actions]) for name, actions in rows]

    async def projects_of(self, user_id: str) -> Sequence[Project]:
        query = (
            select(Project)
            .join(RoleBinding, RoleBinding.project_id == Project.id)
            .where(RoleBinding.user_id == user_id)
            .distinct()
            .order_by(Project.name)
        )
        async with self._sessions() as session:
            return (await session.scalars(query)).all()

    # -- token keys -------------------------------------------------------------------------
    async def add_token_key(self, key: bytes, keep: int = 3) -> int:
        """Store a new signing key (sealed); keep only the newest ``keep`` keys."""
        async with self._sessions.begin() as session:
            row = TokenKey(key_enc=self._box.seal(key.decode()))
            session.add(row)
            await session.flush()
            newest = (
                await session.scalars(select(TokenKey.id).order_by(TokenKey.id.desc()).limit(keep))
            ).all()
            await session.execute(delete(TokenKey).where(TokenKey.id.not_in(newest)))
            return row.id

    async def token_keys(self) -> list[bytes]:
        """Signing keys, newest first (the first one signs)."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(TokenKey).order_by(TokenKey.id.desc()))).all()
        return [self._box.open(row.key_enc).get_secret_value().encode() for row in rows]

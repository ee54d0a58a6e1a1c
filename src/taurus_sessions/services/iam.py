"""The IAM-compatible part: password tokens (Keystone v3 shape) and project lookup."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from taurus_sessions.auth.access import AccessControl
from taurus_sessions.auth.caller import Caller
from taurus_sessions.auth.keyring import TokenKeyring
from taurus_sessions.auth.passwords import hash_password, needs_rehash, verify_password
from taurus_sessions.auth.tokens import TokenClaims
from taurus_sessions.errors import IamError
from taurus_sessions.inventory.instances import InstanceStore, NotFound
from taurus_sessions.inventory.models import Project, User
from taurus_sessions.inventory.users import UserStore

WRONG_CREDENTIALS = "The username or password is wrong."
# Password checks run in threads; at most this many at once, so a burst of logins cannot
# multiply the memory each check takes.
CONCURRENT_PASSWORD_CHECKS = 2


@dataclass(frozen=True, slots=True)
class PasswordAuth:
    user_name: str | None
    user_id: str | None
    domain_name: str | None
    password: str
    project_id: str | None
    project_name: str | None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    claims: TokenClaims
    user: User
    project: Project
    roles: list[str]


def domain_id(domain_name: str) -> str:
    """A stable id for a domain name (domains are names here, ids in Huawei's IAM)."""
    return hashlib.sha256(f"domain:{domain_name}".encode()).hexdigest()[:32]


class IamService:
    def __init__(
        self, users: UserStore, instances: InstanceStore, keyring: TokenKeyring, access: AccessControl
    ) -> None:
        self._users = users
        self._instances = instances
        self._keyring = keyring
        self._access = access
        self._checks = asyncio.Semaphore(CONCURRENT_PASSWORD_CHECKS)

    async def create_token(self, auth: PasswordAuth) -> IssuedToken:
        user = await self._find_user(auth)
        stored_hash = user.password_hash if user is not None and user.enabled else None
        # argon2 is deliberately slow: keep it off the event loop.
        async with self._checks:
            valid = await asyncio.to_thread(verify_password, stored_hash, auth.password)
        if not valid or user is None:
            raise IamError.unauthorized(WRONG_CREDENTIALS)
        if needs_rehash(user.password_hash):
            async with self._checks:
                upgraded = await asyncio.to_thread(hash_password, auth.password)
            await self._users.update_user(user.id, password_hash=upgraded)
        project = await self._find_project(auth)
        roles = await self._users.roles_in_project(user.id, project.id) if project else []
        if project is None or not roles:
            raise IamError.unauthorized("The user has no access to the requested project.")
        await self._keyring.refresh_if_stale()
        token, claims = self._keyring.provider.issue(user.id, project.id, ["password"])
        return IssuedToken(token, claims, user, project, [name for name, _ in roles])

    async def _find_user(self, auth: PasswordAuth) -> User | None:
        if auth.user_id:
            return await self._users.get_user(auth.user_id)
        if auth.user_name and auth.domain_name:
            return await self._users.find_user(auth.domain_name, auth.user_name)
        return None

    async def _find_project(self, auth: PasswordAuth) -> Project | None:
        if auth.project_id:
            return await self._instances.get_project(auth.project_id)
        if auth.project_name:
            try:
                return await self._instances.find_project(auth.project_name)
            except NotFound:
                return None
        return None

    async def list_projects(self, caller: Caller, name: str | None) -> Sequence[Project]:
        """Projects the caller holds a role in (a token sees only its own project)."""
        projects = await self._users.projects_of(caller.user_id)
        visible = [p for p in projects if caller.token_project_id in (None, p.id)]
        return [p for p in visible if name is None or p.name == name]

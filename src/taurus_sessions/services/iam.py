"""The IAM-compatible part: password tokens (Keystone v3 shape) and project lookup."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from taurus_sessions import metrics
from taurus_sessions.auth.access import AccessControl
from taurus_sessions.auth.caller import Caller
from taurus_sessions.auth.keyring import TokenKeyring
from taurus_sessions.auth.passwords import hash_password, needs_rehash, verify_password
from taurus_sessions.auth.revocations import TokenRevocations
from taurus_sessions.auth.throttles import LoginThrottle
from taurus_sessions.auth.tokens import TokenClaims
from taurus_sessions.errors import ApiError, IamError
from taurus_sessions.inventory.instances import InstanceStore, NotFound
from taurus_sessions.inventory.models import Project, User
from taurus_sessions.inventory.users import UserStore

T = TypeVar("T")

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

    @property
    def account(self) -> str:
        """The account the attempt is for, as the throttle counts it."""
        return (self.user_id or f"{self.domain_name}/{self.user_name}").lower()


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
        self,
        users: UserStore,
        instances: InstanceStore,
        keyring: TokenKeyring,
        access: AccessControl,
        throttle: LoginThrottle,
        queue_limit: int,
        revocations: TokenRevocations,
    ) -> None:
        self._users = users
        self._instances = instances
        self._keyring = keyring
        self._access = access
        self._throttle = throttle
        self._revocations = revocations
        self._queue_limit = queue_limit
        self._checks = asyncio.Semaphore(CONCURRENT_PASSWORD_CHECKS)
        self._waiting = 0

    async def create_token(self, auth: PasswordAuth, source_ip: str | None) -> IssuedToken:
        account = auth.account
        if not self._throttle.admit(source_ip, account):
            metrics.throttled("login")
            raise IamError.throttled()
        user = await self._find_user(auth)
        stored_hash = user.password_hash if user is not None and user.enabled else None
        valid = await self._hashing(verify_password, stored_hash, auth.password)
        if not valid or user is None:
            self._throttle.failed(source_ip, account)
            raise IamError.unauthorized(WRONG_CREDENTIALS)
        self._throttle.succeeded(source_ip, account)
        if needs_rehash(user.password_hash):
            upgraded = await self._hashing(hash_password, auth.password)
            await self._users.update_user(user.id, password_hash=upgraded)
        project = await self._find_project(auth)
        roles = await self._users.roles_in_project(user.id, project.id) if project else []
        if project is None or not roles:
            raise IamError.unauthorized("The user has no access to the requested project.")
        await self._keyring.refresh_if_stale()
        token, claims = self._keyring.provider.issue(user.id, project.id, ["password"])
        return IssuedToken(token, claims, user, project, [name for name, _ in roles])

    async def revoke_token(self, caller: Caller, subject_token: str) -> None:
        """Sign a token out (Keystone's DELETE /v3/auth/tokens); a user may revoke her own tokens."""
        try:
            claims = self._keyring.provider.validate(subject_token)
        except ApiError as exc:
            raise IamError.not_found("Could not find token.") from exc
        if claims.user_id != caller.user_id:
            raise IamError.forbidden("You are not authorized to revoke this token.")
        await self._revocations.revoke(subject_token, claims.user_id, claims.expires_at)

    async def _hashing(self, work: Callable[..., T], *args: Any) -> T:
        """argon2 in a thread (it is slow on purpose), a few at a time; past a short queue, 429 at
        once, so a pile of junk sign-ins cannot make a real one wait behind it for seconds."""
        if self._waiting >= self._queue_limit:
            metrics.throttled("password_queue")
            raise IamError.throttled()
        self._waiting += 1
        try:
            await self._checks.acquire()
        finally:
            self._waiting -= 1
        try:
            return await asyncio.to_thread(work, *args)
        finally:
            self._checks.release()

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

"""May this caller do this action in this project? Roles are looked up per request (cached briefly)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from taurus_sessions.auth import policy
from taurus_sessions.auth.caller import Caller
from taurus_sessions.cache import TtlCache
from taurus_sessions.errors import Forbidden
from taurus_sessions.inventory.models import User
from taurus_sessions.inventory.users import UserStore


class AccessControl:
    def __init__(self, users: UserStore, ttl: float, clock: Callable[[], float]) -> None:
        self._store = users
        self._roles: TtlCache[tuple[str, str], tuple[str, ...]] = TtlCache(ttl, clock)
        self._users: TtlCache[str, User | None] = TtlCache(ttl, clock)

    async def active_user(self, user_id: str) -> User | None:
        """The user if it still exists and is enabled: tokens of deleted users stop working."""
        user = await self._users.get(user_id, lambda: self._store.get_user(user_id), "user")
        return user if user is not None and user.enabled else None

    async def actions(self, user_id: str, project_id: str) -> tuple[str, ...]:
        async def load() -> tuple[str, ...]:
            roles = await self._store.roles_in_project(user_id, project_id)
            return tuple(action for _, actions in roles for action in actions)

        return await self._roles.get((user_id, project_id), load, "roles")

    def check_scope(self, caller: Caller, project_id: str) -> None:
        """A token scoped to one project is refused on any other project's path."""
        if caller.token_project_id is not None and caller.token_project_id != project_id:
            raise Forbidden("the token is scoped to another project")

    async def require(self, caller: Caller, project_id: str, action: str) -> None:
        self.check_scope(caller, project_id)
        if not policy.allows(await self.actions(caller.user_id, project_id), action):
            raise Forbidden(f"{action} is not granted to this user in this project")

    async def may(self, caller: Caller, project_id: str, action: str) -> bool:
        if caller.token_project_id is not None and caller.token_project_id != project_id:
            return False
        return policy.allows(await self.actions(caller.user_id, project_id), action)

    async def acting_for(self, user_id: str, project_id: str, action: str) -> Caller | None:
        """The user as the actor of unattended work done in its name (kill tasks, SQL limits), if
        it is still enabled and still has the right; None otherwise (the work stops)."""
        user = await self.active_user(user_id)
        if user is None:
            return None
        actor = Caller(user.id, user.name, user.domain_name, method="task")
        return actor if await self.may(actor, project_id, action) else None

    @property
    def caches(self) -> list[TtlCache[Any, Any]]:
        return [self._users, self._roles]

    def invalidate(self) -> None:
        self._roles.invalidate()
        self._users.invalidate()

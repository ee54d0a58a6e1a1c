"""DAS's database users (RegisterDbUser, ListDbUsers, ShowDbUser, UpdateDbUser, DeleteDbUser): an
existing account of the instance, registered so that DAS's operations can act as it.

A registration is checked by logging in to the instance's primary node with it (a wrong password is
refused at once, with DAS.220001), stored with its password sealed under the master key, and never
returns the password. Changing or removing one closes the pools that logged in with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from taurus_sessions.auth import policy
from taurus_sessions.auth.caller import Caller
from taurus_sessions.errors import DasConnectFailed, DasDbUserExists, DasDbUserNotFound, DasInstanceIdInvalid
from taurus_sessions.inventory.db_users import DbUserFilter, DbUserPage, DbUserStore
from taurus_sessions.inventory.instances import Conflict, NodeTarget, NotFound
from taurus_sessions.inventory.models import DbUser
from taurus_sessions.nodes.errors import NodeError, NodeLoginRefused
from taurus_sessions.nodes.pool import ConnectionSpec, check_login
from taurus_sessions.nodes.registry import NodeRegistry
from taurus_sessions.services.das_access import LOGIN_REFUSED, NODE_DOWN, DasAccess


@dataclass(frozen=True, slots=True)
class InstanceRef:
    project_id: str
    instance_id: str


class DbUserService:
    def __init__(self, access: DasAccess, store: DbUserStore, nodes: NodeRegistry) -> None:
        self._access = access
        self._store = store
        self._nodes = nodes

    async def register_db_user(
        self, caller: Caller, ref: InstanceRef, username: str, password: SecretStr
    ) -> DbUser:
        await self._access.instance(caller, ref.project_id, ref.instance_id, policy.DAS_MANAGE_DB_USERS)
        await self._check_login(await self._primary(ref), username, password)
        try:
            user = await self._store.register(ref.project_id, ref.instance_id, username, password)
        except Conflict as exc:
            raise DasDbUserExists(str(exc)) from None
        except NotFound:  # the instance was removed meanwhile
            raise DasInstanceIdInvalid("no such instance in this project") from None
        self._access.forget()  # a lookup that found no such user a moment ago is not kept
        return user

    async def list_db_users(
        self, caller: Caller, ref: InstanceRef, offset: int, limit: int, flt: DbUserFilter
    ) -> DbUserPage:
        await self._access.instance(caller, ref.project_id, ref.instance_id, policy.DAS_LIST_DB_USERS)
        return await self._store.list(ref.project_id, ref.instance_id, offset, limit, flt)

    async def show_db_user(self, caller: Caller, ref: InstanceRef, db_user_id: str) -> DbUser:
        await self._access.instance(caller, ref.project_id, ref.instance_id, policy.DAS_LIST_DB_USERS)
        user = await self._store.get(ref.project_id, ref.instance_id, db_user_id)
        if user is None:
            raise DasDbUserNotFound()
        return user

    async def update_db_user(
        self, caller: Caller, ref: InstanceRef, db_user_id: str, username: str, password: SecretStr
    ) -> DbUser:
        await self._access.instance(caller, ref.project_id, ref.instance_id, policy.DAS_MANAGE_DB_USERS)
        if await self._store.get(ref.project_id, ref.instance_id, db_user_id) is None:
            raise DasDbUserNotFound()
        await self._check_login(await self._primary(ref), username, password)
        try:
            user = await self._store.update(ref.project_id, ref.instance_id, db_user_id, username, password)
        except NotFound:
            raise DasDbUserNotFound() from None
        except Conflict as exc:
            raise DasDbUserExists(str(exc)) from None
        self._nodes.forget_account(db_user_id)
        self._access.forget()
        return user

    async def delete_db_user(self, caller: Caller, ref: InstanceRef, db_user_id: str) -> None:
        await self._access.instance(caller, ref.project_id, ref.instance_id, policy.DAS_MANAGE_DB_USERS)
        try:
            await self._store.delete(ref.project_id, ref.instance_id, db_user_id)
        except NotFound:
            raise DasDbUserNotFound() from None
        self._nodes.forget_account(db_user_id)
        self._access.forget()

    async def _primary(self, ref: InstanceRef) -> NodeTarget:
        return await self._access.node(ref.project_id, ref.instance_id, None)

    async def _check_login(self, node: NodeTarget, username: str, password: SecretStr) -> None:
        await check_registration(self._nodes, node, username, password)


async def check_registration(
    nodes: NodeRegistry, node: NodeTarget, username: str, password: SecretStr
) -> None:
    """Log in to ``node`` as the account once (the CLI checks a registration the same way)."""
    try:
        await check_login(ConnectionSpec(node.host, node.port, username, password), nodes.limits)
    except NodeLoginRefused:
        raise DasConnectFailed(LOGIN_REFUSED) from None
    except NodeError:
        raise DasConnectFailed(NODE_DOWN) from None

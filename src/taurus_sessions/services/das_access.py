"""How DAS's operations reach a node (contract Part G): as a database account the caller
registered, never as the service's own account.

The caller's IAM rights are checked first (as for every call), then the instance must be in the
project, the registered account in the instance, the node in the instance (the primary unless one
is named). The session then logs in with the account's own credentials through the bounded,
time-limited pools, so the database's privileges decide what the call may see and kill. Node
failures become DAS's answers here: a refused login or an unreachable node is DAS.220001, a read the
account is not allowed DAS.290001 (naming what was refused).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from taurus_sessions.auth.access import AccessControl
from taurus_sessions.auth.caller import Caller
from taurus_sessions.cache import TtlCache
from taurus_sessions.errors import (
    DasConnectFailed,
    DasDbUserNotFound,
    DasInstanceIdInvalid,
    DasInternalError,
    DasParameterError,
    DasPrivilegeMissing,
    InstanceNotFound,
    NodeNotFound,
)
from taurus_sessions.inventory.db_users import DbUserStore
from taurus_sessions.inventory.instances import InstanceStore, NodeTarget
from taurus_sessions.inventory.models import Instance
from taurus_sessions.nodes.driver import NodeSession
from taurus_sessions.nodes.errors import (
    ER_DBACCESS_DENIED_ERROR,
    ER_SPECIFIC_ACCESS_DENIED_ERROR,
    ER_TABLEACCESS_DENIED_ERROR,
    NodeError,
    NodeLoginRefused,
    NodeQueryFailed,
)
from taurus_sessions.nodes.registry import Account
from taurus_sessions.services.node_access import NodeAccess, NodeRef

log = logging.getLogger(__name__)

PRIMARY_ROLE = "master"
# The node refused a statement for want of a privilege (a global one such as PROCESS, access to a
# database, or to a table such as performance_schema's).
PRIVILEGE_ERRORS = (ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR)
LOGIN_REFUSED = "the node refused the login: the database user name or password is wrong"
NODE_DOWN = "the node cannot be reached or did not answer in time"


@dataclass(frozen=True, slots=True)
class DbUserRef:
    db_user_id: str
    username: str


@dataclass(frozen=True, slots=True)
class ActingAs:
    """One node, and the registered account a call acts as there."""

    target: NodeTarget
    db_user: DbUserRef
    account: Account


@dataclass(frozen=True, slots=True)
class _Registered:
    """A registered database user as a call needs it (the password opened, masked in repr)."""

    db_user: DbUserRef
    password: SecretStr


class DasAccess:
    """Instances, registered users and primaries are looked up through caches like the node
    targets' (``ttl`` seconds, kept fresh ahead of expiry by the cache refresher): a call after a
    change made elsewhere sees it within ``ttl``; changes made here are seen at once."""

    def __init__(
        self,
        access: AccessControl,
        instances: InstanceStore,
        db_users: DbUserStore,
        nodes: NodeAccess,
        ttl: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._access = access
        self._instances = instances
        self._db_users = db_users
        self._nodes = nodes
        self._instance_cache: TtlCache[tuple[str, str], Instance | None] = TtlCache(ttl, clock)
        self._user_cache: TtlCache[tuple[str, str, str], _Registered | None] = TtlCache(ttl, clock)
        self._primary_cache: TtlCache[str, str | None] = TtlCache(ttl, clock)

    @property
    def caches(self) -> list[TtlCache[Any, Any]]:
        return [self._instance_cache, self._user_cache, self._primary_cache]

    def forget(self) -> None:
        """Registrations changed in this process: look them up afresh."""
        self._user_cache.invalidate()
        self._instance_cache.invalidate()
        self._primary_cache.invalidate()

    async def instance(self, caller: Caller, project_id: str, instance_id: str, action: str) -> Instance:
        # Authorization before lookup: a caller without the right learns nothing about what exists.
        await self._access.require(caller, project_id, action)
        instance = await self._instance_cache.get(
            (project_id, instance_id),
            lambda: self._instances.get_instance(project_id, instance_id),
            "das_instance",
        )
        if instance is None:
            raise DasInstanceIdInvalid("no such instance in this project")
        return instance

    async def _primary_id(self, instance_id: str) -> str | None:
        nodes = await self._instances.list_nodes(instance_id)
        primary = next((n for n in nodes if n.role == PRIMARY_ROLE), nodes[0] if nodes else None)
        return primary.id if primary is not None else None

    async def _registered(self, project_id: str, instance_id: str, db_user_id: str) -> _Registered | None:
        user = await self._db_users.get(project_id, instance_id, db_user_id)
        if user is None:
            return None
        return _Registered(DbUserRef(user.id, user.username), self._db_users.password(user))

    async def node(self, project_id: str, instance_id: str, node_id: str | None) -> NodeTarget:
        """The named node of the instance, or its primary."""
        if node_id is None:
            node_id = await self._primary_cache.get(
                instance_id, lambda: self._primary_id(instance_id), "das_primary"
            )
            if node_id is None:
                raise DasConnectFailed("the instance has no node")
        try:
            return await self._nodes.targets.node(NodeRef(project_id, instance_id, node_id))
        except NodeNotFound:
            raise DasParameterError("node_id: no such node in this instance") from None
        except InstanceNotFound:
            raise DasInstanceIdInvalid("no such instance in this project") from None

    async def acting_as(
        self,
        caller: Caller,
        ref: tuple[str, str],
        db_user_id: str,
        node_id: str | None,
        action: str,
    ) -> ActingAs:
        """``ref`` is (project id, instance id), both validated."""
        project_id, instance_id = ref
        await self.instance(caller, project_id, instance_id, action)
        user = await self._user_cache.get(
            (project_id, instance_id, db_user_id),
            lambda: self._registered(project_id, instance_id, db_user_id),
            "das_db_user",
        )
        if user is None:
            raise DasDbUserNotFound()
        target = await self.node(project_id, instance_id, node_id)
        account = Account(user.db_user.db_user_id, user.db_user.username, user.password)
        return ActingAs(target, user.db_user, account)

    @asynccontextmanager
    async def session(self, acting: ActingAs, reading: str) -> AsyncIterator[NodeSession]:
        """A node session as the registered account; ``reading`` says what the call reads, for
        the answer when the node refuses it."""
        node_id = acting.target.node_id
        try:
            async with self._nodes.raw_session(acting.target, acting.account) as session:
                yield session
        except NodeLoginRefused as exc:
            log.warning("node %s refused the login of a registered database user: %s", node_id, exc)
            raise DasConnectFailed(LOGIN_REFUSED) from exc
        except NodeQueryFailed as exc:
            if exc.errno in PRIVILEGE_ERRORS:
                raise DasPrivilegeMissing(
                    f"the database refused {reading} (server error {exc.errno})"
                ) from exc
            log.error("node %s refused a statement: %s", node_id, exc)
            raise DasInternalError() from exc
        except NodeError as exc:
            log.warning("node %s unavailable: %s", node_id, exc)
            raise DasConnectFailed(NODE_DOWN) from exc

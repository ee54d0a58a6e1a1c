"""The inventory: the object the app factory, the CLI and the tests share — the engine (see
``engine.py``), the secret box, and one store per kind of record."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from taurus_sessions.auth.policy import BUILTIN_ROLES
from taurus_sessions.inventory.access_keys import AccessKeyStore
from taurus_sessions.inventory.audit_events import AuditStore
from taurus_sessions.inventory.db_users import DbUserStore
from taurus_sessions.inventory.engine import (
    DEFAULT_TIMEOUT,
    create_engine,
    current_revision,
    head_revision,
    migrate,
)
from taurus_sessions.inventory.instances import InstanceStore
from taurus_sessions.inventory.intelligent_kill import IntelligentKillStore
from taurus_sessions.inventory.jobs import JobStore
from taurus_sessions.inventory.kill_tasks import KillTaskStore
from taurus_sessions.inventory.realtime_sessions import RealtimeSessionStore
from taurus_sessions.inventory.revoked_tokens import RevokedTokenStore
from taurus_sessions.inventory.secrets import SecretBox
from taurus_sessions.inventory.sql_limiting import SqlLimitingStore
from taurus_sessions.inventory.users import UserStore
from taurus_sessions.settings import Settings


class Inventory:
    def __init__(self, engine: AsyncEngine, box: SecretBox, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.engine = engine
        self.box = box
        self._head = head_revision()
        sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(engine, expire_on_commit=False)
        self.sessions = sessions
        self.instances = InstanceStore(sessions, box)
        self.users = UserStore(sessions, box)
        self.audit = AuditStore(sessions, engine, timeout)
        self.kill_tasks = KillTaskStore(sessions)
        self.access_keys = AccessKeyStore(sessions, box, engine.dialect.name)
        self.revoked_tokens = RevokedTokenStore(sessions)
        self.intelligent_kills = IntelligentKillStore(sessions)
        self.sql_limiting = SqlLimitingStore(sessions)
        self.jobs = JobStore(sessions)
        self.db_users = DbUserStore(sessions, box)
        self.realtime_sessions = RealtimeSessionStore(sessions)

    @classmethod
    async def open(cls, settings: Settings, *, upgrade: bool = True) -> Inventory:
        engine = create_engine(settings.inventory_url, settings.inventory_timeout)
        if upgrade:
            await migrate(engine)
        inventory = cls(engine, SecretBox.from_settings(settings), settings.inventory_timeout)
        await inventory.users.ensure_builtin_roles(BUILTIN_ROLES)
        return inventory

    async def ready(self) -> bool:
        """The inventory answers, and its schema is the one this code expects."""
        return await current_revision(self.engine) == self._head

    async def close(self) -> None:
        await self.audit.aclose()
        await self.engine.dispose()

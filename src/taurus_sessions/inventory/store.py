"""The inventory object handed to the app factory, the CLI and the tests: one engine, one secret box."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from taurus_sessions.inventory.access_keys import AccessKeyStore
from taurus_sessions.inventory.audit_log import AuditLog
from taurus_sessions.inventory.database import create_engine, migrate
from taurus_sessions.inventory.directory import Directory
from taurus_sessions.inventory.identity import Identity
from taurus_sessions.inventory.secrets import SecretBox
from taurus_sessions.inventory.tasks import TaskStore
from taurus_sessions.settings import Settings


class Inventory:
    def __init__(self, engine: AsyncEngine, box: SecretBox) -> None:
        self.engine = engine
        self.box = box
        sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(engine, expire_on_commit=False)
        self.sessions = sessions
        self.directory = Directory(sessions, box)
        self.identity = Identity(sessions, box)
        self.audit = AuditLog(sessions, engine)
        self.tasks = TaskStore(sessions)
        self.access_keys = AccessKeyStore(sessions, box)

    @classmethod
    async def open(cls, settings: Settings, *, upgrade: bool = True) -> Inventory:
        engine = create_engine(settings.inventory_url)
        if upgrade:
            await migrate(engine)
        inventory = cls(engine, SecretBox.from_settings(settings))
        await inventory.identity.ensure_builtin_roles()
        return inventory

    async def close(self) -> None:
        self.audit.close()
        await self.engine.dispose()

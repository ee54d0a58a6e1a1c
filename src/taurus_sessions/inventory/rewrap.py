"""Re-encrypt every stored secret under the first master key (the second step of a rotation)."""

from __future__ import annotations

from sqlalchemy import select

from taurus_sessions.inventory.database import Inventory
from taurus_sessions.inventory.models import AccessKey, DbUser, Node, TokenKey


async def rewrap_all(inventory: Inventory) -> int:
    count = 0
    sessions = inventory.sessions
    async with sessions.begin() as session:
        for node in (await session.scalars(select(Node))).all():
            node.admin_password_enc = inventory.box.rewrap(node.admin_password_enc)
            count += 1
        for access_key in (await session.scalars(select(AccessKey))).all():
            access_key.sk_enc = inventory.box.rewrap(access_key.sk_enc)
            count += 1
        for db_user in (await session.scalars(select(DbUser))).all():
            db_user.password_enc = inventory.box.rewrap(db_user.password_enc)
            count += 1
        for key in (await session.scalars(select(TokenKey))).all():
            key.key_enc = inventory.box.rewrap(key.key_enc)
            count += 1
    return count

"""0008 DAS database users: accounts the DAS-compatible operations act as

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "das_db_users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("password_enc", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id", "username"),
    )
    with op.batch_alter_table("das_db_users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_das_db_users_instance_id"), ["instance_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_das_db_users_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("das_db_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_das_db_users_project_id"))
        batch_op.drop_index(batch_op.f("ix_das_db_users_instance_id"))
    op.drop_table("das_db_users")

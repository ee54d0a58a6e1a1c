"""0002 kill tasks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 16:55:29.547210
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kill_tasks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("created_by_user_id", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=130), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("victims", sa.String(length=16), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("max_victims_per_pass", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.Column("stopped_by", sa.String(length=130), nullable=True),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("victims_killed", sa.Integer(), nullable=False),
        sa.Column("last_pass_at", sa.DateTime(), nullable=True),
        sa.Column("next_pass_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kill_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_kill_tasks_project_state", ["project_id", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kill_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_kill_tasks_project_state")

    op.drop_table("kill_tasks")

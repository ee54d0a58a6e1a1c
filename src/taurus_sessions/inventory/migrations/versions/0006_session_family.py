"""0006 TaurusDB's session family, part 1: the automatic-kill switch, automatic kill tasks over a
whole instance, intelligent kill tasks

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("auto_kill_enabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("kill_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="custom"))
        batch_op.alter_column("node_id", existing_type=sa.String(length=36), nullable=True)
        batch_op.create_index("ix_kill_tasks_instance_kind", ["instance_id", "kind", "state"], unique=False)
    op.create_table(
        "intelligent_kill_tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("created_by", sa.String(length=130), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("audit_request_id", sa.String(length=64), nullable=False),
        sa.Column("victims_killed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("intelligent_kill_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_intelligent_kill_node_started", ["node_id", "started_at"], unique=False)


def downgrade() -> None:
    op.drop_table("intelligent_kill_tasks")
    with op.batch_alter_table("kill_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_kill_tasks_instance_kind")
        batch_op.alter_column("node_id", existing_type=sa.String(length=36), nullable=False)
        batch_op.drop_column("kind")
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_column("auto_kill_enabled")

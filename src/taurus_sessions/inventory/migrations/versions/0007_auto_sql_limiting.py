"""0007 autonomous SQL limiting: rules per primary node, the limits they create, jobs, CPU sources

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cpu_source", sa.String(length=512), nullable=True))
    op.create_table(
        "auto_sql_limiting_rules",
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("start_time", sa.String(length=5), nullable=False),
        sa.Column("end_time", sa.String(length=5), nullable=False),
        sa.Column("condition", sa.String(length=3), nullable=False),
        sa.Column("cpu_usage", sa.Integer(), nullable=False),
        sa.Column("active_sessions", sa.Integer(), nullable=False),
        sa.Column("clear_time", sa.Integer(), nullable=False),
        sa.Column("duration", sa.Integer(), nullable=False),
        sa.Column("max_concurrency", sa.BigInteger(), nullable=False),
        sa.Column("retain_sql_rule", sa.Boolean(), nullable=False),
        sa.Column("created_by_user_id", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=130), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("evaluated_at", sa.DateTime(), nullable=True),
        sa.Column("conditions_since", sa.DateTime(), nullable=True),
        sa.Column("last_active_sessions", sa.Integer(), nullable=True),
        sa.Column("last_cpu_usage", sa.Float(), nullable=True),
        sa.Column("last_note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("node_id"),
    )
    with op.batch_alter_table("auto_sql_limiting_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_auto_sql_limiting_rules_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_auto_sql_limiting_rules_instance_id"), ["instance_id"], unique=False
        )
    op.create_table(
        "auto_sql_limits",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("pattern", sa.Text(), nullable=False),
        sa.Column("sql_type", sa.String(length=16), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("max_concurrency", sa.BigInteger(), nullable=False),
        sa.Column("create_at", sa.DateTime(), nullable=False),
        sa.Column("expire_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=200), nullable=True),
        sa.Column("stopped", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("auto_sql_limits", schema=None) as batch_op:
        batch_op.create_index("ix_auto_sql_limits_node_created", ["node_id", "create_at"], unique=False)
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("instance_name", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("fail_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    op.drop_table("jobs")
    op.drop_table("auto_sql_limits")
    op.drop_table("auto_sql_limiting_rules")
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_column("cpu_source")

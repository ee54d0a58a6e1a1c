"""0004 security hardening: validated ids only and aggregated anonymous refusals in the audit trail,
per-user token validity, revoked tokens, access-key failures per source address

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("project_id", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column("occurrences", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("last_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tokens_valid_after", sa.DateTime(), nullable=True))
    with op.batch_alter_table("access_keys", schema=None) as batch_op:
        batch_op.drop_column("failed_attempts")
        batch_op.drop_column("locked_until")
    op.create_table(
        "access_key_failures",
        sa.Column("ak", sa.String(length=64), nullable=False),
        sa.Column("source_ip", sa.String(length=64), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ak"], ["access_keys.ak"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ak", "source_ip"),
    )
    op.create_table(
        "revoked_tokens",
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_digest"),
    )
    with op.batch_alter_table("revoked_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revoked_tokens_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_revoked_tokens_revoked_at"), ["revoked_at"], unique=False)


def downgrade() -> None:
    op.drop_table("revoked_tokens")
    op.drop_table("access_key_failures")
    with op.batch_alter_table("access_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("tokens_valid_after")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("last_at")
        batch_op.drop_column("occurrences")
        batch_op.alter_column("project_id", existing_type=sa.String(length=64), nullable=False)

"""0005 write-ahead audit: records left pending are found and settled from the node's state

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 00:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settled_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("settled_by", sa.String(length=128), nullable=True))
        batch_op.create_index("ix_audit_outcome_at", ["outcome", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_outcome_at")
        batch_op.drop_column("settled_by")
        batch_op.drop_column("settled_at")

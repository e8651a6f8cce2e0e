"""Outbox: proactive messages and follow-ups.

Revision ID: outbox_0001
Revises: 0001_base
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "outbox_0001"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stale_at", sa.DateTime(timezone=True)),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("cause_type", sa.String(40)),
        sa.Column("cause_id", sa.String(64)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    op.create_index("ix_outbox_state_due", "outbox", ["state", "due_at"])
    op.create_index("ix_outbox_cause", "outbox", ["cause_type", "cause_id"])


def downgrade() -> None:
    op.drop_table("outbox")

"""Action effects: what a side-effecting action answered, once per user message.

Revision ID: effects_0001
Revises: 0001_base
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "effects_0001"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "action_effects",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("conversation", sa.String(255), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_effects")),
        sa.UniqueConstraint("action", "conversation", "message_id", name="uq_action_effects_key"),
    )
    op.create_index("ix_action_effects_created_at", "action_effects", ["created_at"])
    op.create_index("ix_action_effects_conversation", "action_effects", ["conversation"])


def downgrade() -> None:
    op.drop_table("action_effects")

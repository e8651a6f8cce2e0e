"""NLU capture: what NLU made of each user message, for admins to review.

Generated with alembic autogenerate against a database upgraded to heads (the
spurious law_fts*/law_section_fts* drops it adds for SQLite's FTS tables removed).

Revision ID: nlu_0001
Revises: 0001_base
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "nlu_0001"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nlu_captures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("chat_type", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("norm_key", sa.String(length=40), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("ranking", sa.JSON(), nullable=False),
        sa.Column("via_payload", sa.Boolean(), nullable=False),
        sa.Column("contradicted", sa.Boolean(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("resolution", sa.JSON(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_captures")),
    )
    with op.batch_alter_table("nlu_captures", schema=None) as batch_op:
        batch_op.create_index("ix_nlu_captures_captured_at", ["captured_at"], unique=False)
        batch_op.create_index("ix_nlu_captures_sender", ["sender", "id"], unique=False)
        batch_op.create_index("ix_nlu_captures_status", ["status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("nlu_captures", schema=None) as batch_op:
        batch_op.drop_index("ix_nlu_captures_status")
        batch_op.drop_index("ix_nlu_captures_sender")
        batch_op.drop_index("ix_nlu_captures_captured_at")
    op.drop_table("nlu_captures")

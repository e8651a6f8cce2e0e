"""Several gateways at once: a claim with a lease per conversation being handled.

- `conversation_claims`: one row per conversation a gateway is working through (storage/claims.py);
  deleted when its queue is drained, so the table holds only the conversations in progress.

Revision ID: gateways_0001
Revises: delivery_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "gateways_0001"
down_revision = "delivery_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_claims",
        sa.Column("conversation", sa.String(160), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_from", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("conversation", name=op.f("pk_conversation_claims")),
    )
    op.create_index("ix_conversation_claims_owner", "conversation_claims", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_conversation_claims_owner", table_name="conversation_claims")
    op.drop_table("conversation_claims")

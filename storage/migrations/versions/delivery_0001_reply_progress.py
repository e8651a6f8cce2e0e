"""Reply progress, failed replies and the installation id.

- `inbound_events.reply_progress`: what of an event's answer already went out (the reply token
  used, messages sent, messages in flight), written before each send, so a gateway that stops
  half way resumes after the last sent part and never sends one twice.
- `inbound_events.reply_outcome` / `reply_error`: an answer that could not be delivered (or may
  not have been) is recorded, never with its text; a partial index keeps them cheap to list.
- `installation`: one row with this database's installation id (created on first use), from
  which the platforms' idempotency keys are derived.

Revision ID: delivery_0001
Revises: channels_0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "delivery_0001"
down_revision = "channels_0003"
branch_labels = None
depends_on = None

NOT_DELIVERED = sa.text("reply_outcome IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("inbound_events") as batch:
        batch.add_column(sa.Column("reply_progress", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("reply_outcome", sa.String(12), nullable=True))
        batch.add_column(sa.Column("reply_error", sa.String(300), nullable=True))
    op.create_index("ix_inbound_events_reply_outcome", "inbound_events", ["reply_outcome", "id"], sqlite_where=NOT_DELIVERED,
                    postgresql_where=NOT_DELIVERED)
    op.create_table(
        "installation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("installation_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation")),
    )


def downgrade() -> None:
    op.drop_table("installation")
    op.drop_index("ix_inbound_events_reply_outcome", table_name="inbound_events")
    with op.batch_alter_table("inbound_events") as batch:
        batch.drop_column("reply_error")
        batch.drop_column("reply_outcome")
        batch.drop_column("reply_progress")

"""Inbound events, web chat messages, channel users.

Revision ID: channels_0001
Revises: 0001_base
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "channels_0001"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("conversation", sa.String(160), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("reply_token", sa.String(200)),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_events")),
        sa.UniqueConstraint("channel", "external_id", name=op.f("uq_inbound_events_channel")),
    )
    op.create_index("ix_inbound_events_state_next", "inbound_events", ["state", "next_attempt_at"])
    op.create_index("ix_inbound_events_conversation", "inbound_events", ["conversation", "id"])
    op.create_table(
        "web_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("event_id", sa.Integer()),
        sa.Column("retry_key", sa.String(64)),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_messages")),
        sa.UniqueConstraint("retry_key", name=op.f("uq_web_messages_retry_key")),
    )
    op.create_index("ix_web_messages_chat", "web_messages", ["chat_id", "id"])
    op.create_table(
        "channel_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("following", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_users")),
        sa.UniqueConstraint("channel", "user_id", name=op.f("uq_channel_users_channel")),
    )
    op.create_table(
        "callback_payloads",
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_callback_payloads")),
    )


def downgrade() -> None:
    op.drop_table("callback_payloads")
    op.drop_table("channel_users")
    op.drop_table("web_messages")
    op.drop_table("inbound_events")

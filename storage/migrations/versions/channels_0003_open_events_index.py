"""A partial index over the open events of each conversation.

The worker asks for a conversation's oldest open event after every message. With
only (conversation, id) indexed that walks the conversation's whole history (a
LINE user who has chatted for months has thousands of done events); the open
events are a handful, so a partial index keeps the lookup constant.

Revision ID: channels_0003
Revises: channels_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "channels_0003"
down_revision = "channels_0002"
branch_labels = None
depends_on = None

OPEN = sa.text("state IN ('pending', 'answered')")


def upgrade() -> None:
    op.create_index("ix_inbound_events_open", "inbound_events", ["conversation", "id"], sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("ix_inbound_events_open", table_name="inbound_events")

"""Keep Rasa's answer with the event until it is delivered.

An event moves pending -> answered (Rasa's replies stored) -> done, so a gateway
that dies between asking Rasa and delivering the reply resumes the delivery
without asking Rasa a second time.

Revision ID: channels_0002
Revises: channels_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "channels_0002"
down_revision = "channels_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_events") as batch:
        batch.add_column(sa.Column("replies", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_events") as batch:
        batch.drop_column("replies")

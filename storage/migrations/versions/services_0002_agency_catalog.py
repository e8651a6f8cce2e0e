"""Agency catalog: English name, type, parent body, aliases and cited contacts.

Revision ID: services_0002_agency_catalog
Revises: services_0001
Create Date: 2026-11-29 13:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "services_0002_agency_catalog"
down_revision = "services_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("english_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("kind", sa.String(length=32), server_default="department", nullable=False))
        batch_op.add_column(sa.Column("parent", sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column("aliases", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("contacts", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_column("contacts")
        batch_op.drop_column("aliases")
        batch_op.drop_column("parent")
        batch_op.drop_column("kind")
        batch_op.drop_column("english_name")

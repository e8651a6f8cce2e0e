"""Which law corpus archive is in the catalog (checksum), so start-up imports it only once.

Revision ID: laws_0002
Revises: laws_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "laws_0002"
down_revision = "laws_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "law_corpus_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("source", sa.String(400), nullable=False),
        sa.Column("corpus_date", sa.Date()),
        sa.Column("laws", sa.Integer(), nullable=False),
        sa.Column("sections", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_law_corpus_imports")),
    )
    op.create_index("ix_law_corpus_imports_checksum", "law_corpus_imports", ["checksum"])


def downgrade() -> None:
    op.drop_index("ix_law_corpus_imports_checksum", table_name="law_corpus_imports")
    op.drop_table("law_corpus_imports")

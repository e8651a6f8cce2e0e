"""Open government: demo request flags and obstacle reports.

Revision ID: opengov_0001
Revises: services_0001, laws_0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "opengov_0001"
down_revision = ("services_0001", "laws_0001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "demo_requests",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("batch", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["service_requests.id"], name=op.f("fk_demo_requests_request_id_service_requests"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_demo_requests")),
    )
    op.create_table(
        "obstacle_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("law_id", sa.Integer(), nullable=True),
        sa.Column("law_title", sa.String(length=400), nullable=False),
        sa.Column("service", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reporter", sa.String(length=64), nullable=False),
        sa.Column("reporter_role", sa.String(length=12), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["law_id"], ["laws.id"], name=op.f("fk_obstacle_reports_law_id_laws"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_obstacle_reports")),
    )
    with op.batch_alter_table("obstacle_reports", schema=None) as batch_op:
        batch_op.create_index("ix_obstacle_reports_law", ["law_id"], unique=False)
        batch_op.create_index("ix_obstacle_reports_service", ["service"], unique=False)
        batch_op.create_index("ix_obstacle_reports_reporter", ["reporter"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("obstacle_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_obstacle_reports_reporter")
        batch_op.drop_index("ix_obstacle_reports_service")
        batch_op.drop_index("ix_obstacle_reports_law")
    op.drop_table("obstacle_reports")
    op.drop_table("demo_requests")

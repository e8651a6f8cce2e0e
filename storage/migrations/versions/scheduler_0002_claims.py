"""Several schedulers at once: per-row claims with a lease, live scheduler nodes, recurring-job runs.

- `outbox.claim_expires_at` (and partial indexes for the claim and for expired claims): a row in `sending` belongs to `claimed_by` until then; the
  holder extends it while the send is in flight, any scheduler reclaims it afterwards.
- `scheduler_nodes`: one row per running scheduler (heartbeat), so that each one takes
  its share of the platforms' rate limits.
- `scheduler_job_runs`: one row per recurring job and period, so that a recurring job
  runs once per period however many schedulers run.

Revision ID: scheduler_0002_claims
Revises: scheduler_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "scheduler_0002_claims"
down_revision = "scheduler_0001"
branch_labels = None
depends_on = "outbox_0001"

SENDING = sa.text("state = 'sending'")
PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    op.add_column("outbox", sa.Column("claim_expires_at", sa.DateTime(timezone=True)))
    op.create_index("ix_outbox_sending_claims", "outbox", ["claim_expires_at"], sqlite_where=SENDING, postgresql_where=SENDING)
    # the claim's order (due_at, id) over pending rows only: the claim reads `limit` entries, however large the backlog
    op.create_index("ix_outbox_pending_due", "outbox", ["due_at", "id"], sqlite_where=PENDING, postgresql_where=PENDING)
    op.create_table(
        "scheduler_nodes",
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_scheduler_nodes")),
    )
    op.create_table(
        "scheduler_job_runs",
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("period", sa.String(40), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "period", name=op.f("pk_scheduler_job_runs")),
    )


def downgrade() -> None:
    op.drop_table("scheduler_job_runs")
    op.drop_table("scheduler_nodes")
    op.drop_index("ix_outbox_pending_due", table_name="outbox")
    op.drop_index("ix_outbox_sending_claims", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claim_expires_at")

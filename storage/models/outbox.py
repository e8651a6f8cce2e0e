"""Outbound messages and follow-ups waiting to be delivered.

Every proactive message (a request routed to an agency's group, a status notice to
a citizen, a reminder, a digest) is a row here, written in the same transaction as
the change that causes it. Schedulers claim due rows one by one (`sending`,
`claimed_by`, `claim_expires_at`), deliver them through the channels' outbound
clients and record the outcome; `idempotency_key` makes each delivery happen once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
CANCELLED = "cancelled"
STATES = (PENDING, SENDING, SENT, FAILED, CANCELLED)


class Outbox(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_due", "state", "due_at"),
        Index("ix_outbox_cause", "cause_type", "cause_id"),
        Index("ix_outbox_sending_claims", "claim_expires_at", sqlite_where=text("state = 'sending'"),
              postgresql_where=text("state = 'sending'")),
        Index("ix_outbox_pending_due", "due_at", "id", sqlite_where=text("state = 'pending'"), postgresql_where=text("state = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # e.g. request_routed, request_status, task_deadline, reminder, digest
    channel: Mapped[str] = mapped_column(String(16))  # line, telegram, web
    recipient: Mapped[str] = mapped_column(String(128))  # platform chat/user id
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"text": str, "custom": {...}?, "buttons": [...]?}
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    stale_at: Mapped[datetime | None] = mapped_column()  # not worth sending after this (dropped with a log line)
    state: Mapped[str] = mapped_column(String(12), default=PENDING)
    urgent: Mapped[bool] = mapped_column(default=False)  # may be sent during citizens' quiet hours
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    cause_type: Mapped[str | None] = mapped_column(String(40))  # task, request, reminder, ...
    cause_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # scheduler instance that is sending it
    claim_expires_at: Mapped[datetime | None] = mapped_column()  # `sending` row: the claim's lease (extended while in flight)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()

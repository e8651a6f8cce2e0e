"""Queue proactive messages (see storage.models.outbox). Callers own the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models.base import utcnow
from storage.models.outbox import CANCELLED, PENDING, Outbox


def enqueue(
    session: Session,
    *,
    kind: str,
    channel: str,
    recipient: str,
    text: str,
    idempotency_key: str,
    due_at: datetime | None = None,
    stale_at: datetime | None = None,
    custom: dict[str, Any] | None = None,
    buttons: list[dict[str, str]] | None = None,
    cause: tuple[str, str] | None = None,
    urgent: bool = False,
) -> Outbox:
    """Add a message to deliver at `due_at` (now by default); a repeated key returns the existing row."""
    existing = session.scalar(select(Outbox).where(Outbox.idempotency_key == idempotency_key))
    if existing is not None:
        return existing
    payload: dict[str, Any] = {"text": text}
    if custom:
        payload["custom"] = custom
    if buttons:
        payload["buttons"] = buttons
    row = Outbox(
        kind=kind,
        channel=channel,
        recipient=recipient,
        payload=payload,
        due_at=due_at or utcnow(),
        stale_at=stale_at,
        idempotency_key=idempotency_key,
        cause_type=cause[0] if cause else None,
        cause_id=cause[1] if cause else None,
        urgent=urgent,
        state=PENDING,
    )
    session.add(row)
    session.flush()
    return row


def reschedule_pending(
    session: Session, *, cause_type: str, cause_id: str, kind: str, due_at: datetime, stale_at: datetime | None = None
) -> int:
    """Move pending messages of one kind for one cause (a deadline moved)."""
    stmt = (
        update(Outbox)
        .where(Outbox.cause_type == cause_type, Outbox.cause_id == cause_id, Outbox.kind == kind, Outbox.state == PENDING)
        .values(due_at=due_at, stale_at=stale_at)
    )
    return session.execute(stmt).rowcount or 0


def cancel_pending(session: Session, *, cause_type: str, cause_id: str, kinds: tuple[str, ...] | None = None) -> int:
    """Cancel pending messages caused by one thing (a task done, a request cancelled...)."""
    stmt = (
        update(Outbox)
        .where(Outbox.cause_type == cause_type, Outbox.cause_id == cause_id, Outbox.state == PENDING)
        .values(state=CANCELLED, last_error="cause changed")
    )
    if kinds:
        stmt = stmt.where(Outbox.kind.in_(kinds))
    return session.execute(stmt).rowcount or 0


def cancel_for_recipient(session: Session, *, channel: str, recipient: str) -> int:
    """Cancel everything pending for a person (unfollowed, or erased their data)."""
    stmt = (
        update(Outbox)
        .where(Outbox.channel == channel, Outbox.recipient == recipient, Outbox.state == PENDING)
        .values(state=CANCELLED, last_error="recipient unavailable")
    )
    return session.execute(stmt).rowcount or 0

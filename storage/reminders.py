"""Reminders set by officials (set_reminder). Callers own the transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from common.wording import tasks as wording
from storage.models.base import utcnow
from storage.models.officials import Reminder
from storage.officials import Actor
from storage.outbox import cancel_pending, enqueue

# A reminder that could not be delivered within this time after it was due is dropped.
STALE_AFTER = timedelta(hours=6)


def create_reminder(
    session: Session, actor: Actor, *, channel: str, chat_id: str, target: str, text: str, due_at: datetime,
    mention: str = "", now: datetime | None = None,
) -> Reminder:
    """Store a reminder and queue its delivery at `due_at` in the same transaction."""
    now = now or utcnow()
    text = " ".join(text.split())[:500]
    if not text:
        raise ValueError("a reminder needs a subject")
    if due_at <= now:
        raise ValueError("a reminder must be in the future")
    if target not in ("group", "person"):
        raise ValueError("target is group or person")
    reminder = Reminder(channel=channel, chat_id=str(chat_id), target=target, text=text, due_at=due_at, created_by=actor.id)
    session.add(reminder)
    session.flush()
    enqueue(
        session, kind="reminder", channel=channel, recipient=str(chat_id), text=wording.reminder(target, mention, text),
        idempotency_key=f"reminder:{reminder.id}", due_at=due_at, stale_at=due_at + STALE_AFTER,
        cause=("reminder", str(reminder.id)),
    )
    return reminder


def cancel_reminder(session: Session, reminder_id: int) -> bool:
    reminder = session.get(Reminder, reminder_id)
    if reminder is None or reminder.cancelled:
        return False
    reminder.cancelled = True
    cancel_pending(session, cause_type="reminder", cause_id=str(reminder_id))
    return True

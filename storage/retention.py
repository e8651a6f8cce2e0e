"""Retention per table: how long what people wrote, and who they are, is kept.

| table | kept | after the period |
| --- | --- | --- |
| inbound_events (finished) | sender, chat, metadata (name, location) | deleted (RETENTION_MESSAGES_DAYS, 90) |
| web_messages | the web chat's bot messages | deleted (RETENTION_MESSAGES_DAYS) |
| outbox (sent, failed, cancelled) | notices, request cards, relayed words | deleted (RETENTION_MESSAGES_DAYS) |
| callback_payloads | long Telegram button payloads | deleted (RETENTION_MESSAGES_DAYS) |
| channel_users (unfollowed) | a LINE user id | deleted (RETENTION_MESSAGES_DAYS) |
| nlu_captures | masked text, pseudonym | deleted (NLU_CAPTURE_RETENTION_DAYS, 90; storage.nlu_capture) |
| service_requests (closed) | contact, details, location, who | anonymised (RETENTION_CLOSED_REQUESTS_DAYS after closure, 90) |
| handoffs (closed) | conversation, who | anonymised (RETENTION_CLOSED_REQUESTS_DAYS after closure) |
| Rasa's tracker events | every turn | closed sessions and idle conversations deleted (RETENTION_TRACKER_DAYS, 90; engine/privacy.py) |

Open requests and open handoffs are never touched: the agency still works on them.
Anonymised rows keep agency, service, timestamps, status history (without notes) and the
rating value, for statistics; nothing in them links to a person, and rows are never
deleted, so REQ- and H- numbers are never given to someone else. `now` is always passed
in by the caller (tests inject it). Callers own the transaction.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storage.models.channels import EVENT_OPEN, CallbackPayload, ChannelUser, InboundEvent, WebMessage
from storage.models.outbox import CANCELLED, FAILED, SENT, Outbox
from storage.models.services import (
    CLOSED_STATUSES,
    HANDOFF_OPEN,
    Handoff,
    RequestHistory,
    ServiceRating,
    ServiceRequest,
)
from storage import effects, nlu_capture

DEFAULT_DAYS = 90
FINISHED_OUTBOX = (SENT, FAILED, CANCELLED)
BATCH = 500


def _days(name: str, default: int = DEFAULT_DAYS) -> int:
    raw = os.environ.get(name, "").strip()
    return max(0, int(raw)) if raw else default


@dataclass(frozen=True)
class Retention:
    """Days each kind of data is kept (0: purged at the next run)."""

    messages_days: int = DEFAULT_DAYS
    closed_requests_days: int = DEFAULT_DAYS
    nlu_capture_days: int = DEFAULT_DAYS
    tracker_days: int = DEFAULT_DAYS

    @classmethod
    def from_env(cls) -> Retention:
        return cls(
            messages_days=_days("RETENTION_MESSAGES_DAYS"),
            closed_requests_days=_days("RETENTION_CLOSED_REQUESTS_DAYS"),
            nlu_capture_days=_days("NLU_CAPTURE_RETENTION_DAYS"),
            tracker_days=_days("RETENTION_TRACKER_DAYS"),
        )

    def tracker_cutoff(self, now: datetime) -> float:
        """Rasa's event timestamps are epoch seconds."""
        return (now - timedelta(days=self.tracker_days)).timestamp()


@dataclass
class Purged:
    inbound_events: int = 0
    web_messages: int = 0
    outbox: int = 0
    callback_payloads: int = 0
    channel_users: int = 0
    nlu_captures: int = 0
    requests_anonymised: int = 0
    handoffs_anonymised: int = 0
    action_effects: int = 0  # answers kept for messages that might be asked again (storage/effects.py)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _delete_ids(session: Session, model: type, ids: list[int]) -> int:
    deleted = 0
    for start in range(0, len(ids), BATCH):
        deleted += session.execute(delete(model).where(model.id.in_(ids[start:start + BATCH]))).rowcount or 0  # type: ignore[attr-defined]
    return deleted


def anonymise_requests(session: Session, ids: list[int]) -> int:
    """Clear everything that identifies the person or that they wrote; keep what statistics need."""
    done = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        done += session.execute(update(ServiceRequest).where(ServiceRequest.id.in_(chunk)).values(
            citizen_key=None, reply_to=None, details=None, location=None, contact=None, status_note=None, anonymised=True,
        )).rowcount or 0
        session.execute(update(RequestHistory).where(RequestHistory.request_id.in_(chunk)).values(note=""))
        session.execute(update(ServiceRating).where(ServiceRating.request_id.in_(chunk)).values(comment=None))
    return done


def purge(session: Session, now: datetime, policy: Retention | None = None) -> Purged:
    """Apply the retention periods as of `now`."""
    policy = policy or Retention.from_env()
    out = Purged()
    messages_cutoff = now - timedelta(days=policy.messages_days)
    out.inbound_events = _delete_ids(session, InboundEvent, list(session.scalars(
        select(InboundEvent.id).where(InboundEvent.received_at < messages_cutoff, InboundEvent.state.not_in(EVENT_OPEN)))))
    out.web_messages = session.execute(delete(WebMessage).where(WebMessage.created_at < messages_cutoff)).rowcount or 0
    out.outbox = session.execute(delete(Outbox).where(Outbox.state.in_(FINISHED_OUTBOX), Outbox.created_at < messages_cutoff)).rowcount or 0
    out.callback_payloads = session.execute(delete(CallbackPayload).where(CallbackPayload.created_at < messages_cutoff)).rowcount or 0
    out.channel_users = session.execute(delete(ChannelUser).where(
        ChannelUser.following.is_(False), ChannelUser.updated_at < messages_cutoff)).rowcount or 0
    out.nlu_captures = nlu_capture.purge_expired(session, policy.nlu_capture_days, now=now)
    out.action_effects = effects.purge_effects(session, now=now)

    closed_cutoff = now - timedelta(days=policy.closed_requests_days)
    out.requests_anonymised = anonymise_requests(session, list(session.scalars(select(ServiceRequest.id).where(
        ServiceRequest.status.in_(CLOSED_STATUSES), ServiceRequest.closed_at.is_not(None), ServiceRequest.closed_at < closed_cutoff,
        ServiceRequest.anonymised.is_(False)))))
    out.handoffs_anonymised = session.execute(update(Handoff).where(
        Handoff.status != HANDOFF_OPEN, Handoff.closed_at.is_not(None), Handoff.closed_at < closed_cutoff,
        (Handoff.conversation.is_not(None)) | (Handoff.citizen_key.is_not(None)) | (Handoff.reply_to.is_not(None)),
    ).values(conversation=None, citizen_key=None, reply_to=None)).rowcount or 0
    session.flush()
    return out


__all__ = ["DEFAULT_DAYS", "Purged", "Retention", "anonymise_requests", "purge"]

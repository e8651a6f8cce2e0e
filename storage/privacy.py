"""PDPA rights of a citizen: see what is held about them, and erase it.

Erasure clears everything that identifies the person or that they wrote (contact,
free-text details, locations, messages, rating comments, handoffs, queued and sent
notices, the masked messages kept for NLU review) and unlinks their requests,
which stay as anonymised rows (service, agency, status, dates) for agency
statistics. Nothing left links those rows to the person. Handoff rows stay too, with
nothing that identifies the person, so an H-number is never given to anyone else.

Rasa's own record of the person's conversations is erased by the gateway's use-case
(usecases/erasure.py) through Rasa, after the confirming turn: deleting tracker rows
from here, during the turn, does not work (Rasa writes them back when the turn ends).
Callers own the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import String, cast, delete, select, update
from sqlalchemy.orm import Session

from storage.effects import erase_effects
from storage.models.channels import ChannelUser, InboundEvent, WebMessage
from storage.models.outbox import PENDING, SENDING, Outbox
from storage.models.base import utcnow
from storage.models.services import HANDOFF_OPEN, HANDOFF_RELEASED, Handoff, RequestHistory, ServiceRating, ServiceRequest
from storage.nlu_capture import count_captures, erase_captures, pseudonym_for
from storage.obstacles import erase_reports
from storage.requests import Citizen


@dataclass
class Holdings:
    requests: list[ServiceRequest] = field(default_factory=list)
    ratings: int = 0
    messages: int = 0
    handoffs: int = 0
    pending_notices: int = 0
    nlu_captures: int = 0

    @property
    def empty(self) -> bool:
        return not (self.requests or self.ratings or self.messages or self.handoffs or self.pending_notices or self.nlu_captures)


def _message_filter(conversation: str):  # type: ignore[no-untyped-def]
    return InboundEvent.conversation == conversation


def holdings(session: Session, citizen: Citizen, conversation: str) -> Holdings:
    requests = list(session.scalars(select(ServiceRequest).where(ServiceRequest.citizen_key == citizen.key).order_by(ServiceRequest.id)))
    ids = [r.id for r in requests]
    return Holdings(
        requests=requests,
        ratings=len(list(session.scalars(select(ServiceRating.id).where(ServiceRating.request_id.in_(ids))))) if ids else 0,
        messages=len(list(session.scalars(select(InboundEvent.id).where(_message_filter(conversation), InboundEvent.text != "")))),
        handoffs=len(list(session.scalars(select(Handoff.id).where(Handoff.citizen_key == citizen.key)))),
        pending_notices=len(list(session.scalars(select(Outbox.id).where(
            Outbox.channel == citizen.channel, Outbox.recipient == citizen.reply_to, Outbox.state == PENDING)))),
        nlu_captures=count_captures(session, pseudonym_for(citizen.key)),
    )


@dataclass(frozen=True)
class Erased:
    requests: int
    messages: int
    notices: int
    handoffs: int


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def conversations_of(session: Session, channel: str, user_id: str, own: str | None = None) -> list[str]:
    """The person's conversations the gateway has seen: their 1:1 chat and every group where they spoke."""
    found = {own} if own else set()
    found.add(f"{channel}:{user_id}")
    rows = session.execute(
        select(InboundEvent.conversation, InboundEvent.metadata_).where(
            InboundEvent.channel == channel, cast(InboundEvent.metadata_, String).like(f"%{_like(user_id)}%", escape="\\")
        )
    )
    for conversation, metadata in rows:
        if isinstance(metadata, dict) and str(metadata.get("user_id") or "") == user_id:
            found.add(conversation)
    return sorted(found)


def _erase_events(session: Session, channel: str, user_id: str, own: set[str], groups: set[str], up_to_event: int | None) -> int:
    """Delete the person's inbound events (all of their 1:1 chats, their own messages in groups)."""
    cap = [InboundEvent.id <= up_to_event] if up_to_event is not None else []
    erased = 0
    for conversation in own:
        erased += session.execute(delete(InboundEvent).where(InboundEvent.conversation == conversation, *cap)).rowcount or 0
    if groups:
        ids = [
            event_id for event_id, metadata in session.execute(
                select(InboundEvent.id, InboundEvent.metadata_).where(InboundEvent.conversation.in_(sorted(groups)), *cap))
            if isinstance(metadata, dict) and str(metadata.get("user_id") or "") == user_id
        ]
        for start in range(0, len(ids), 500):
            erased += session.execute(delete(InboundEvent).where(InboundEvent.id.in_(ids[start:start + 500]))).rowcount or 0
    return erased


def erase(
    session: Session, citizen: Citizen, conversation: str, *, conversations: list[str] | None = None, up_to_event: int | None = None,
) -> Erased:
    """Erase the person's data; their requests stay only as anonymous statistics.

    `conversations`: all of the person's conversations (`conversations_of`); `up_to_event`: events
    stored after this one (the confirming message) are theirs to keep: they come after the erasure.
    """
    user_id = citizen.key.partition(":")[2] or citizen.reply_to
    every = set(conversations or []) | {conversation}
    own = {c for c in every if c in (conversation, f"{citizen.channel}:{user_id}")}
    ids = list(session.scalars(select(ServiceRequest.id).where(ServiceRequest.citizen_key == citizen.key)))
    if ids:
        session.execute(
            update(ServiceRequest).where(ServiceRequest.id.in_(ids)).values(
                citizen_key=None, reply_to=None, details=None, location=None, contact=None, status_note=None, anonymised=True
            )
        )
        session.execute(update(RequestHistory).where(RequestHistory.request_id.in_(ids)).values(note=""))
        session.execute(update(ServiceRating).where(ServiceRating.request_id.in_(ids)).values(comment=None))
    # What was sent to agencies about them (request cards with details, location and
    # contact; relayed handoff messages) goes too: the rows' payloads hold their words.
    theirs = (Handoff.citizen_key == citizen.key) | Handoff.conversation.in_(sorted(own))
    handoff_ids = [str(h) for h in session.scalars(select(Handoff.id).where(theirs))]
    about = [(Outbox.cause_type == "request") & Outbox.cause_id.in_([str(i) for i in ids])] if ids else []
    if handoff_ids:
        about.append((Outbox.cause_type == "handoff") & Outbox.cause_id.in_(handoff_ids))
    for condition in about:
        session.execute(delete(Outbox).where(condition, Outbox.state != SENDING))
    # Handoffs stay as anonymous rows (agency, times, status): their H-numbers are never reused.
    now = utcnow()
    session.execute(update(Handoff).where(theirs, Handoff.status == HANDOFF_OPEN).values(status=HANDOFF_RELEASED, closed_at=now))
    handoffs = session.execute(update(Handoff).where(theirs).values(conversation=None, citizen_key=None, reply_to=None)).rowcount or 0
    notices = session.execute(
        delete(Outbox).where(Outbox.channel == citizen.channel, Outbox.recipient == citizen.reply_to, Outbox.state != SENDING)
    ).rowcount or 0
    messages = _erase_events(session, citizen.channel, user_id, own, every - own, up_to_event)
    if citizen.channel == "web":
        session.execute(delete(WebMessage).where(WebMessage.chat_id == citizen.reply_to))
    erase_captures(session, pseudonym_for(citizen.key))
    erase_reports(session, citizen.key)  # their obstacle reports (issue #24)
    erase_effects(session, every)  # answers kept in case a message is asked again (they may quote the request)
    session.execute(delete(ChannelUser).where(ChannelUser.channel == citizen.channel, ChannelUser.user_id == citizen.reply_to))
    session.flush()
    return Erased(requests=len(ids), messages=messages, notices=notices, handoffs=handoffs)


__all__ = ["Erased", "Holdings", "conversations_of", "erase", "holdings"]

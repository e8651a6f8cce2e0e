"""Human handoff: a citizen's conversation handed to the agency's officials.

While a handoff is open the gateway does not send the citizen's messages to the
assistant; it relays them to the agency's linked groups, where officials answer
with `/reply H-<id> ...` and hand the conversation back with `/release H-<id>`.
A handoff nobody touches expires after HANDOFF_TIMEOUT_MINUTES (default 240) of
silence and the bot answers again. Callers own the transaction.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.wording import handoff as wording
from storage.agencies import FALLBACK_DESK, is_staffed
from storage.models.base import utcnow
from storage.models.services import HANDOFF_EXPIRED, HANDOFF_OPEN, HANDOFF_RELEASED, Handoff, ServiceRequest
from storage.officials import Actor, agency_chats
from storage.outbox import enqueue
from storage.requests import Citizen

# The citizen asks for the assistant back (ends an open handoff; says so when none is open).
BACK_TO_BOT = re.compile(r"^\s*(/bot|/help|กลับไปคุยกับบอท|คุยกับบอท|จบการสนทนา|ขอบคุณเจ้าหน้าที่ จบ)", re.IGNORECASE)

DEFAULT_AGENCY = FALLBACK_DESK  # the one-stop desk when no request tells whose matter it is, or nobody staffs it


class HandoffNotFound(Exception):
    pass


def handoff_timeout() -> timedelta:
    return timedelta(minutes=float(os.environ.get("HANDOFF_TIMEOUT_MINUTES", "240")))


def _tell_agency(session: Session, handoff: Handoff, kind: str, text: str, key: str) -> int:
    chats = agency_chats(session, handoff.agency)
    for chat_id in chats:
        enqueue(session, kind=kind, channel="telegram", recipient=chat_id, text=text, idempotency_key=f"{key}:{chat_id}",
                cause=("handoff", str(handoff.id)), urgent=True)
    return len(chats)


def start_handoff(
    session: Session, citizen: Citizen, conversation: str, *, agency: str | None = None,
    request: ServiceRequest | None = None, reason: str = "", now: datetime | None = None,
) -> tuple[Handoff, int]:
    """Open (or keep) the conversation's handoff; returns it and how many agency groups were told."""
    now = now or utcnow()
    existing = active_handoff(session, conversation, now)
    if existing is not None:
        return existing, 0
    agency = agency or (request.agency if request else DEFAULT_AGENCY)
    if not is_staffed(session, agency):
        agency = DEFAULT_AGENCY  # nobody there would answer: the fallback desk does (docs/agencies.md)
    handoff = Handoff(
        conversation=conversation, citizen_key=citizen.key, channel=citizen.channel, reply_to=citizen.reply_to,
        agency=agency, request_id=request.id if request else None,
        status=HANDOFF_OPEN, created_at=now, expires_at=now + handoff_timeout(),
    )
    session.add(handoff)
    session.flush()
    text = wording.started(handoff.code, reason, request.code if request else None, request.service if request else None)
    told = _tell_agency(session, handoff, "handoff_started", text, f"handoff:{handoff.id}:start")
    return handoff, told


def active_handoff(session: Session, conversation: str, now: datetime | None = None) -> Handoff | None:
    """The conversation's open handoff; one past its expiry is closed on the way."""
    now = now or utcnow()
    handoff = session.scalar(
        select(Handoff).where(Handoff.conversation == conversation, Handoff.status == HANDOFF_OPEN).order_by(Handoff.id.desc()).limit(1)
    )
    if handoff is None:
        return None
    if handoff.expires_at <= now:
        handoff.status = HANDOFF_EXPIRED
        handoff.closed_at = now
        return None
    return handoff


def open_conversations(session: Session, now: datetime | None = None) -> set[str]:
    now = now or utcnow()
    rows = session.scalars(select(Handoff.conversation).where(Handoff.status == HANDOFF_OPEN, Handoff.expires_at > now))
    return {c for c in rows if c}


def has_open_handoff(session: Session, conversation: str, now: datetime | None = None) -> bool:
    """Whether the conversation is with officials right now (one indexed look; asked for every message)."""
    now = now or utcnow()
    return session.scalar(select(Handoff.id).where(Handoff.conversation == conversation, Handoff.status == HANDOFF_OPEN,
                                                   Handoff.expires_at > now).limit(1)) is not None


def relay_from_citizen(session: Session, conversation: str, text: str, event_id: int, now: datetime | None = None) -> bool:
    """Pass a citizen's message to the officials; False when no handoff is open any more."""
    now = now or utcnow()
    handoff = active_handoff(session, conversation, now)
    if handoff is None:
        return False
    handoff.expires_at = now + handoff_timeout()
    _tell_agency(
        session, handoff, "handoff_message",
        wording.from_citizen(handoff.code, text),
        f"handoff:{handoff.id}:msg:{event_id}",
    )
    return True


def _for_official(session: Session, actor: Actor, handoff_id: int) -> Handoff:
    handoff = session.get(Handoff, handoff_id)
    if handoff is None or handoff.status != HANDOFF_OPEN:
        raise HandoffNotFound(str(handoff_id))
    if handoff.agency != actor.agency:
        raise PermissionError(handoff.agency)
    return handoff


def reply_in_handoff(session: Session, actor: Actor, handoff_id: int, message: str, key: str, now: datetime | None = None) -> Handoff:
    """An official answers inside the handoff; `key` (the command's event id) makes it happen once."""
    now = now or utcnow()
    handoff = _for_official(session, actor, handoff_id)
    message = message.strip()
    if not message:
        raise ValueError("empty reply")
    handoff.expires_at = now + handoff_timeout()
    if handoff.reply_to:
        enqueue(
            session, kind="official_reply", channel=handoff.channel, recipient=handoff.reply_to,
            text=wording.from_official(handoff.agency, message),
            idempotency_key=f"handoff:{handoff.id}:reply:{key}", cause=("handoff", str(handoff.id)), urgent=True,
        )
    return handoff


def release_handoff(session: Session, actor: Actor | None, handoff_id: int, now: datetime | None = None) -> Handoff:
    """Give the conversation back to the bot (an official, or the citizen's own restart when actor is None)."""
    now = now or utcnow()
    handoff = _for_official(session, actor, handoff_id) if actor is not None else session.get(Handoff, handoff_id)
    if handoff is None:
        raise HandoffNotFound(str(handoff_id))
    handoff.status = HANDOFF_RELEASED
    handoff.closed_at = now
    handoff.closed_by = actor.id if actor else None
    if actor is not None and handoff.reply_to:
        enqueue(
            session, kind="handoff_released", channel=handoff.channel, recipient=handoff.reply_to,
            text=wording.RELEASED,
            idempotency_key=f"handoff:{handoff.id}:released", cause=("handoff", str(handoff.id)), urgent=True,
        )
    return handoff

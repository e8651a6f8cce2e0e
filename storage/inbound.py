"""Store inbound events once, hand them to the worker in order, record the outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from storage.db import session_scope
from storage.models.outbox import PENDING as OUTBOX_PENDING
from storage.models.outbox import Outbox
from storage.models.base import utcnow
from storage.models.channels import (
    EVENT_ANSWERED,
    EVENT_DONE,
    EVENT_FAILED,
    EVENT_OPEN,
    EVENT_PENDING,
    REPLY_FAILED,
    REPLY_UNKNOWN,
    CallbackPayload,
    ChannelUser,
    InboundEvent,
    WebMessage,
)
from storage.nlu_capture import insert_capture
from storage.outbox import cancel_for_recipient


@dataclass
class ReplyProgress:
    """What of one event's answer already went out; kept in `inbound_events.reply_progress`.

    Offsets count the rendered platform messages of the answer. `sent`: delivered for sure.
    `trying`: sends of messages [sent, trying) began and were not confirmed (a restart finds out
    what it can: a LINE push is sent again under the same retry key, which LINE deduplicates; a
    reply-token call or a Telegram message is not sent again and counted in `unknown`).
    `token`: the event's LINE reply token: None unused, "trying" a call with it began, "used".
    """

    token: str | None = None
    sent: int = 0
    trying: int = 0
    unknown: int = 0

    @classmethod
    def of(cls, raw: dict[str, Any] | None) -> ReplyProgress:
        raw = raw or {}
        return cls(raw.get("token"), int(raw.get("sent") or 0), int(raw.get("trying") or 0), int(raw.get("unknown") or 0))

    def as_dict(self) -> dict[str, Any]:
        return {"token": self.token, "sent": self.sent, "trying": self.trying, "unknown": self.unknown}


@dataclass(frozen=True)
class Event:
    id: int
    channel: str
    conversation: str
    kind: str
    text: str
    metadata: dict[str, Any]
    reply_token: str | None
    attempts: int
    received_at: datetime
    replies: list[dict[str, Any]] | None = None  # Rasa's answer kept by an older gateway (state "answered")
    next_attempt_at: datetime | None = None
    # shared by every copy of this event in the process (the busy note's copy too); written through to the store
    progress: ReplyProgress = field(default_factory=ReplyProgress, compare=False)


def is_due(event: Event, now: datetime | None = None) -> bool:
    return event.next_attempt_at is None or event.next_attempt_at <= (now or utcnow())


# The hot path's statements are built once: building a statement costs more CPU than
# running it on SQLite, and a prebuilt one also keeps its compiled form cached.
_EVENTS = InboundEvent.__table__
_INSERT_EVENT = insert(_EVENTS).returning(_EVENTS.c.id)
_EVENT_COLUMNS = (_EVENTS.c.id, _EVENTS.c.channel, _EVENTS.c.conversation, _EVENTS.c.kind, _EVENTS.c.text, _EVENTS.c.metadata,
                  _EVENTS.c.reply_token, _EVENTS.c.attempts, _EVENTS.c.received_at, _EVENTS.c.replies, _EVENTS.c.next_attempt_at,
                  _EVENTS.c.reply_progress)
_NEXT_OPEN = (select(*_EVENT_COLUMNS).where(_EVENTS.c.conversation == bindparam("p_conversation"), _EVENTS.c.state.in_(EVENT_OPEN))
              .order_by(_EVENTS.c.id).limit(1))
_MARK_DONE = (update(_EVENTS).where(_EVENTS.c.id == bindparam("p_id"))
              .values(state=EVENT_DONE, processed_at=bindparam("p_now", type_=_EVENTS.c.processed_at.type), last_error=None, text="",
                      replies=None))
_INSERT_WEB = insert(WebMessage.__table__)
_COUNT_OPEN = select(func.count()).select_from(_EVENTS).where(_EVENTS.c.state.in_(EVENT_OPEN))
_DUE_CONVERSATIONS = (select(_EVENTS.c.conversation)
                      .where(_EVENTS.c.state.in_(EVENT_OPEN), _EVENTS.c.next_attempt_at <= bindparam("p_now", type_=_EVENTS.c.next_attempt_at.type))
                      .group_by(_EVENTS.c.conversation).order_by(func.min(_EVENTS.c.id)).limit(bindparam("p_limit")))


def store_event(
    engine: Engine, *, channel: str, external_id: str, conversation: str, text: str, metadata: dict[str, Any],
    kind: str = "message", reply_token: str | None = None,
) -> int | None:
    """Persist an event; its id, or None when it was already stored (a redelivery)."""
    event = store_new_event(engine, channel=channel, external_id=external_id, conversation=conversation, text=text, metadata=metadata,
                            kind=kind, reply_token=reply_token)
    return event.id if event is not None else None


def store_new_event(
    engine: Engine, *, channel: str, external_id: str, conversation: str, text: str, metadata: dict[str, Any],
    kind: str = "message", reply_token: str | None = None,
) -> Event | None:
    """Persist an event and return it as the worker reads it; None for a redelivery. The webhooks' hot path."""
    now = utcnow()
    try:
        with engine.begin() as conn:
            event_id = conn.execute(_INSERT_EVENT, {
                "channel": channel, "external_id": str(external_id)[:128], "conversation": conversation, "kind": kind, "text": text,
                "metadata": metadata, "reply_token": reply_token, "state": EVENT_PENDING, "attempts": 0, "next_attempt_at": now,
                "received_at": now,
            }).scalar_one()
    except IntegrityError:
        return None
    return Event(event_id, channel, conversation, kind, text, dict(metadata), reply_token, 0, now, None, now)


def due_conversations(engine: Engine, now: datetime | None = None, limit: int = 1000) -> list[str]:
    """Conversations with an open event whose turn has come (the worker's periodic scan)."""
    with engine.connect() as conn:
        return list(conn.scalars(_DUE_CONVERSATIONS, {"p_now": now or utcnow(), "p_limit": limit}))


def next_open_event(engine: Engine, conversation: str) -> Event | None:
    """The oldest unfinished event of a conversation, due or not (nothing overtakes it)."""
    with engine.connect() as conn:
        return _next_open(conn, conversation)


def finish_and_next(
    engine: Engine, event_id: int, conversation: str, web_replies: list[dict[str, Any]] | None = None, chat_id: str | None = None,
    capture: dict[str, Any] | None = None,
) -> Event | None:
    """`mark_done`, then the conversation's next open event, in one round trip (the worker's hot path)."""
    with engine.begin() as conn:
        _mark_done(conn, event_id, web_replies, chat_id, capture)
        return _next_open(conn, conversation)


def _next_open(conn: Connection, conversation: str) -> Event | None:
    row = conn.execute(_NEXT_OPEN, {"p_conversation": conversation}).first()
    if row is None:
        return None
    return Event(row[0], row[1], row[2], row[3], row[4], dict(row[5] or {}), row[6], row[7], row[8],
                 list(row[9]) if row[9] is not None else None, row[10], ReplyProgress.of(row[11]))


def count_open(engine: Engine) -> int:
    """Events stored and not yet finished (the worker's backlog)."""
    with engine.connect() as conn:
        return conn.scalar(_COUNT_OPEN) or 0


def counts_by_state(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as s:
        return {state: n for state, n in s.execute(select(InboundEvent.state, func.count()).group_by(InboundEvent.state))}


def is_closed(engine: Engine, event_id: int) -> bool:
    """True once the event is done or failed (the web chat checks this to avoid waiting for nothing)."""
    with session_scope(engine) as s:
        return s.scalar(select(InboundEvent.state).where(InboundEvent.id == event_id)) not in EVENT_OPEN


def mark_done(engine: Engine, event_id: int, web_replies: list[dict[str, Any]] | None = None, chat_id: str | None = None,
              capture: dict[str, Any] | None = None) -> None:
    """Finish an event; web chat replies and the NLU capture (storage.nlu_capture) are stored in the same transaction."""
    with engine.begin() as conn:
        _mark_done(conn, event_id, web_replies, chat_id, capture)


def _mark_done(conn: Connection, event_id: int, web_replies: list[dict[str, Any]] | None, chat_id: str | None,
               capture: dict[str, Any] | None = None) -> None:
    now = utcnow()
    conn.execute(_MARK_DONE, {"p_id": event_id, "p_now": now})
    if capture is not None:
        insert_capture(conn, capture)
    if web_replies:
        conn.execute(_INSERT_WEB, [{"chat_id": chat_id or "", "event_id": event_id, "payload": p, "created_at": now}
                                                    for p in web_replies])


def mark_retry(engine: Engine, event_id: int, error: str, delay: timedelta, max_attempts: int) -> bool:
    """Schedule another attempt; False (and failed) once attempts are used up."""
    with session_scope(engine) as s:
        row = s.get(InboundEvent, event_id)
        if row is None:
            return False
        row.attempts += 1
        row.last_error = error[:500]
        if row.attempts >= max_attempts:
            row.state = EVENT_FAILED
            # the person got no answer: listed with the failed replies (bot followups failed-replies, /metrics)
            row.reply_outcome, row.reply_error = REPLY_FAILED, f"no answer decided ({error[:200]}) after {row.attempts} attempt(s)"
            return False
        row.next_attempt_at = utcnow() + delay
        return True


def retry_waiting_now(engine: Engine, error_prefix: str) -> int:
    """Open events waiting for a retry after an error starting with `error_prefix` (e.g. "rasa:"):
    due now. Called once the failing part answers again, so a message that arrived during an
    outage is not left waiting out its backoff (up to a minute) after the part is back."""
    now = utcnow()
    with engine.begin() as conn:
        return conn.execute(
            update(_EVENTS)
            .where(_EVENTS.c.state.in_(EVENT_OPEN), _EVENTS.c.next_attempt_at > now, _EVENTS.c.last_error.startswith(error_prefix))
            .values(next_attempt_at=now)
        ).rowcount or 0


_SAVE_PROGRESS = update(_EVENTS).where(_EVENTS.c.id == bindparam("p_id")).values(reply_progress=bindparam("p_progress"))


def save_progress(engine: Engine, event_id: int, progress: ReplyProgress) -> None:
    """Write what of an event's answer went out (before each send: see ReplyProgress)."""
    with engine.begin() as conn:
        conn.execute(_SAVE_PROGRESS, {"p_id": event_id, "p_progress": progress.as_dict()})


def defer_reply(engine: Engine, event_id: int, replies: list[dict[str, Any]], error: str, delay: timedelta,
                progress: ReplyProgress | None = None) -> None:
    """The answer could not be sent now: keep it with the event and try again after `delay`.

    The event waits as "answered" (Rasa is not asked again), and nothing of its conversation
    overtakes it; other conversations go on.
    """
    with session_scope(engine) as s:
        row = s.get(InboundEvent, event_id)
        if row is None:
            return
        row.attempts += 1
        row.last_error = error[:500]
        row.state, row.replies = EVENT_ANSWERED, replies
        row.next_attempt_at = utcnow() + delay
        if progress is not None:
            row.reply_progress = progress.as_dict()


def finish_undelivered(
    engine: Engine, event_id: int, outcome: str, error: str, notice: dict[str, Any] | None = None,
    capture: dict[str, Any] | None = None,
) -> int | None:
    """Finish an event whose answer did not (or may not) reach the person; returns the notice's outbox row id.

    `outcome` is failed or unknown; `error` says why, never what (no text, no token). `notice`
    (channel, recipient, payload, due_at, stale_at) queues the answer for the scheduler, to tell the
    person later; it is written in the same transaction, so a failed reply is never forgotten.
    """
    assert outcome in (REPLY_FAILED, REPLY_UNKNOWN)
    now = utcnow()
    with session_scope(engine) as s:
        row = s.get(InboundEvent, event_id)
        if row is None:
            return None
        row.state, row.processed_at, row.text, row.replies, row.last_error = EVENT_DONE, now, "", None, None
        row.reply_outcome, row.reply_error = outcome, error[:300]
        if capture is not None:
            insert_capture(s.connection(), capture)
        if notice is None:
            return None
        key = f"undelivered-reply:{event_id}"
        existing = s.scalar(select(Outbox).where(Outbox.idempotency_key == key))
        if existing is not None:
            return existing.id
        outbox = Outbox(kind="undelivered_reply", channel=notice["channel"], recipient=notice["recipient"], payload=notice["payload"],
                        due_at=notice["due_at"], stale_at=notice.get("stale_at"), idempotency_key=key, cause_type="inbound_event",
                        cause_id=str(event_id), urgent=False, state=OUTBOX_PENDING)
        s.add(outbox)
        s.flush()
        return outbox.id


@dataclass(frozen=True)
class UndeliveredReply:
    event_id: int
    channel: str
    outcome: str
    error: str
    received_at: datetime
    processed_at: datetime | None
    notice_id: int | None
    notice_state: str | None


def undelivered_replies(engine: Engine, limit: int = 50) -> list[UndeliveredReply]:
    """Replies that did not (or may not) reach the person, newest first, with the notice queued for them."""
    with session_scope(engine) as s:
        rows = s.execute(select(InboundEvent.id, InboundEvent.channel, InboundEvent.reply_outcome, InboundEvent.reply_error,
                                InboundEvent.received_at, InboundEvent.processed_at)
                         .where(InboundEvent.reply_outcome.is_not(None)).order_by(InboundEvent.id.desc()).limit(limit)).all()
        notices = {}
        if rows:
            notices = {int(cause): (oid, state) for oid, cause, state in s.execute(
                select(Outbox.id, Outbox.cause_id, Outbox.state).where(
                    Outbox.cause_type == "inbound_event", Outbox.cause_id.in_([str(r.id) for r in rows])))}
        return [UndeliveredReply(r.id, r.channel, r.reply_outcome, r.reply_error or "", r.received_at, r.processed_at,
                                 *(notices.get(r.id) or (None, None))) for r in rows]


def count_undelivered(engine: Engine) -> dict[str, int]:
    """Replies not delivered, by outcome (failed, unknown): for /metrics."""
    with engine.connect() as conn:
        counts = {outcome: 0 for outcome in (REPLY_FAILED, REPLY_UNKNOWN)}
        for outcome, n in conn.execute(select(_EVENTS.c.reply_outcome, func.count()).where(_EVENTS.c.reply_outcome.is_not(None))
                                       .group_by(_EVENTS.c.reply_outcome)):
            counts[outcome] = n
        return counts


def web_messages(engine: Engine, chat_id: str, after: int = 0, event_id: int | None = None) -> list[tuple[int, dict[str, Any]]]:
    with session_scope(engine) as s:
        stmt = select(WebMessage).where(WebMessage.chat_id == chat_id, WebMessage.id > after).order_by(WebMessage.id).limit(200)
        if event_id is not None:
            stmt = stmt.where(WebMessage.event_id == event_id)
        return [(m.id, dict(m.payload)) for m in s.scalars(stmt)]


def push_web_message(engine: Engine, chat_id: str, payload: dict[str, Any], retry_key: str) -> bool:
    """A proactive message for a web chat; the retry key makes it happen once."""
    try:
        with session_scope(engine) as s:
            s.add(WebMessage(chat_id=chat_id, payload=payload, retry_key=retry_key))
        return True
    except IntegrityError:
        return False


def set_following(engine: Engine, channel: str, user_id: str, following: bool) -> None:
    with session_scope(engine) as s:
        row = s.scalar(select(ChannelUser).where(ChannelUser.channel == channel, ChannelUser.user_id == user_id))
        if row is None:
            s.add(ChannelUser(channel=channel, user_id=user_id, following=following))
        else:
            row.following = following
        if not following:
            cancel_for_recipient(s, channel=channel, recipient=user_id)


def is_following(engine: Engine, channel: str, chat_id: str) -> bool:
    """False once a person unfollowed (or the bot left a group); unknown chats count as following."""
    with session_scope(engine) as s:
        row = s.scalar(select(ChannelUser.following).where(ChannelUser.channel == channel, ChannelUser.user_id == chat_id))
        return row is not False


def short_payload(engine: Engine, payload: str, limit: int = 64) -> str:
    """`payload` itself when short enough, else a stored key `cb:<hash>`."""
    if len(payload.encode()) <= limit:
        return payload
    import hashlib

    key = "cb:" + hashlib.sha256(payload.encode()).hexdigest()[:24]
    with session_scope(engine) as s:
        if s.get(CallbackPayload, key) is None:
            s.add(CallbackPayload(key=key, payload=payload))
    return key


def expand_payload(engine: Engine, data: str) -> str:
    if not data.startswith("cb:"):
        return data
    with session_scope(engine) as s:
        row = s.get(CallbackPayload, data)
        return row.payload if row else ""

"""Inbound events from every channel, stored before they are acknowledged, and the
web chat's outgoing messages.

An event is unique per (channel, external_id) — LINE's webhookEventId, Telegram's
update_id, the web chat's client message id — so a redelivery is recognised and
dropped. The worker moves events pending -> done, or failed after its retries; text
is cleared once an event is done. ("answered", with Rasa's replies kept in `replies`,
is what gateways before the resumable message ids wrote between the two; such rows are
still delivered without asking Rasa again.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint
from sqlalchemy import text as sql
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow

EVENT_PENDING = "pending"
EVENT_ANSWERED = "answered"  # written by older gateways: Rasa has answered, the replies wait in `replies`
EVENT_OPEN = (EVENT_PENDING, EVENT_ANSWERED)
EVENT_DONE = "done"
EVENT_FAILED = "failed"
REPLY_FAILED = "failed"  # the answer could not be delivered (queued again for later where it can be)
REPLY_UNKNOWN = "unknown"  # part of it may or may not have arrived (cut off); not sent again to avoid a duplicate


class InboundEvent(Base):
    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_inbound_events_state_next", "state", "next_attempt_at"),
        Index("ix_inbound_events_conversation", "conversation", "id"),
        # the worker's "oldest open event of this conversation" (see migration channels_0003)
        Index("ix_inbound_events_open", "conversation", "id", sqlite_where=sql("state IN ('pending', 'answered')"),
              postgresql_where=sql("state IN ('pending', 'answered')")),
        # replies that did not reach the person (see migration delivery_0001)
        Index("ix_inbound_events_reply_outcome", "reply_outcome", "id", sqlite_where=sql("reply_outcome IS NOT NULL"),
              postgresql_where=sql("reply_outcome IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    conversation: Mapped[str] = mapped_column(String(160))  # the Rasa sender id
    kind: Mapped[str] = mapped_column(String(24), default="message")  # message, follow, unfollow, join, unsupported
    text: Mapped[str] = mapped_column(Text, default="")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    reply_token: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(12), default=EVENT_PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column()
    replies: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # What of the answer already went out (storage.inbound.ReplyProgress): a restart resumes after it.
    reply_progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Set when the answer did not (or may not) reach the person: failed | unknown; never holds its text.
    reply_outcome: Mapped[str | None] = mapped_column(String(12))
    reply_error: Mapped[str | None] = mapped_column(String(300))


class Installation(Base):
    """One row: this database's installation id, created on first use (storage.installation).

    Idempotency keys sent to the platforms (LINE's X-Line-Retry-Key) are derived from it, so that
    two databases on one LINE channel (staging and production, a reset) never share a key.
    """

    __tablename__ = "installation"

    id: Mapped[int] = mapped_column(primary_key=True)
    installation_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebMessage(Base):
    """A bot message for the web chat (and `bot shell`), fetched by the page."""

    __tablename__ = "web_messages"
    __table_args__ = (Index("ix_web_messages_chat", "chat_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[int | None] = mapped_column()
    retry_key: Mapped[str | None] = mapped_column(String(64), unique=True)  # proactive messages: delivered once
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelUser(Base):
    """What a channel told us about a person: LINE follow/unfollow."""

    __tablename__ = "channel_users"
    __table_args__ = (UniqueConstraint("channel", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(128))
    following: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CallbackPayload(Base):
    """Telegram callback data is limited to 64 bytes: longer button payloads are kept here under a short key."""

    __tablename__ = "callback_payloads"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

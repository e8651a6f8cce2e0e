"""What NLU made of each user message, kept for admins to review and annotate.

One row per message that reached Rasa's NLU (written by the gateway in the same
transaction that stores Rasa's answer). No personal data beyond what reviewing
needs: the sender is a keyed pseudonym (HMAC of `<channel>:<user id>`), national
ID numbers, phone numbers and e-mail addresses are masked before the text is
stored, and rows older than NLU_CAPTURE_RETENTION_DAYS are purged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow

CAPTURE_NEW = "new"  # waiting (in the review queue when it qualifies)
CAPTURE_ANNOTATED = "annotated"  # an admin added it to the training data
CAPTURE_DISCARDED = "discarded"  # an admin decided it teaches nothing
CAPTURE_STATES = (CAPTURE_NEW, CAPTURE_ANNOTATED, CAPTURE_DISCARDED)


class NluCapture(Base):
    __tablename__ = "nlu_captures"
    __table_args__ = (
        Index("ix_nlu_captures_captured_at", "captured_at"),
        Index("ix_nlu_captures_sender", "sender", "id"),
        Index("ix_nlu_captures_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    captured_at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[str] = mapped_column(String(16))  # line, telegram, web
    chat_type: Mapped[str] = mapped_column(String(16), default="private")
    sender: Mapped[str] = mapped_column(String(64))  # pseudonym: HMAC-SHA256(secret, "<channel>:<user id>"), hex
    text: Mapped[str] = mapped_column(Text)  # masked
    norm_key: Mapped[str] = mapped_column(String(40))  # hash of the normalised text: exact near-duplicates share it
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(default=0.0)
    entities: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # offsets point into the masked text
    ranking: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # the top alternatives [{name, confidence}]
    via_payload: Mapped[bool] = mapped_column(default=False)  # a button payload ("/intent"), not language
    contradicted: Mapped[bool] = mapped_column(default=False)  # the next message was a deny or a restart
    flagged: Mapped[bool] = mapped_column(default=False)  # an official or admin asked for a review
    status: Mapped[str] = mapped_column(String(12), default=CAPTURE_NEW)
    resolution: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {"intent", "example", "file"} once annotated
    resolved_at: Mapped[datetime | None] = mapped_column()

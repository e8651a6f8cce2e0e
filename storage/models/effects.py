"""What a side-effecting action did for one user message (actions/idempotency.py).

One row per (action, conversation, message id), written in the same transaction as the
action's own changes: when Rasa asks again for the same message (Rasa or the action
server died before the turn was saved), the action answers from here instead of acting
twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class ActionEffect(Base):
    __tablename__ = "action_effects"
    __table_args__ = (
        UniqueConstraint("action", "conversation", "message_id", name="uq_action_effects_key"),
        Index("ix_action_effects_created_at", "created_at"),
        Index("ix_action_effects_conversation", "conversation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(100))
    conversation: Mapped[str] = mapped_column(String(255))  # Rasa's sender id
    message_id: Mapped[str] = mapped_column(String(255))  # the gateway's id of the user message
    result: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"events": [...], "responses": [...]} as the action returned them
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

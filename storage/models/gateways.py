"""Gateway coordination in the database: which gateway handles which conversation now.

`ConversationClaim`: while a gateway works through a conversation's stored events it holds
the conversation's claim (storage/claims.py), so that however many gateways share the
database, one conversation is handled by one of them at a time, in order. The claim is a
lease: its holder extends it while it lives; once it lapses (or its holder is a dead process
on the same machine) any gateway takes the conversation over. `taken_from` is the previous
holder when the claim was taken over (NULL for a fresh claim): the new holder then asks Rasa
about the oldest open event as "resumed" (it may have reached Rasa already).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class ConversationClaim(Base):
    __tablename__ = "conversation_claims"
    __table_args__ = (Index("ix_conversation_claims_owner", "owner"),)

    conversation: Mapped[str] = mapped_column(String(160), primary_key=True)  # inbound_events.conversation
    owner: Mapped[str] = mapped_column(String(64))  # common.instances.instance_name() of the gateway
    expires_at: Mapped[datetime] = mapped_column()
    taken_from: Mapped[str | None] = mapped_column(String(64))

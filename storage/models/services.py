"""Agencies, the service catalog, citizens' service requests and what happens to them.

Agencies and services are referred to by their canonical names
(docs/CATALOG_NAMES.md), the same strings the NLU's `service`/`agency` entities and
the officials' tables use. A request keeps the citizen's address only until the
citizen erases their data (PDPA); then `citizen_key`, `reply_to` and every free
text are cleared and `anonymised` is set, so the record still counts for agency
statistics but nothing links it to a person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from common.ids import format_request_id
from storage.models.base import Base, utcnow

SUBMITTED = "submitted"
RECEIVED = "received"
IN_PROGRESS = "in_progress"
NEED_INFO = "need_info"
COMPLETED = "completed"
REJECTED = "rejected"
CANCELLED = "cancelled"
REQUEST_STATUSES = (SUBMITTED, RECEIVED, IN_PROGRESS, NEED_INFO, COMPLETED, REJECTED, CANCELLED)
OPEN_STATUSES = (SUBMITTED, RECEIVED, IN_PROGRESS, NEED_INFO)
CLOSED_STATUSES = (COMPLETED, REJECTED, CANCELLED)

HANDOFF_OPEN = "open"
HANDOFF_RELEASED = "released"
HANDOFF_EXPIRED = "expired"


AGENCY_TYPES = (
    "ministry_office", "department", "public_organization", "independent_agency", "state_enterprise",
    "local_administration", "district_office", "provincial_administration",
)


class Agency(Base):
    """A government body requests can be routed to (storage/seed/agencies.yml, docs/agencies.md).

    `name` is the key other tables store; `phone` is the first non-emergency contact
    (kept for the service card), `contacts` every cited contact with its `source`.
    """

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160), unique=True)
    abbreviations: Mapped[list[str]] = mapped_column(JSON, default=list)
    ministry: Mapped[str] = mapped_column(String(160), default="")
    phone: Mapped[str | None] = mapped_column(String(60))
    website: Mapped[str | None] = mapped_column(String(300))
    english_name: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), default="department", server_default="department")
    parent: Mapped[str | None] = mapped_column(String(160))  # e.g. กรุงเทพมหานคร for its district offices
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    contacts: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)  # {type, value, source, note?}


class Service(Base):
    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # document, benefit, tax, report, complaint
    agency: Mapped[str] = mapped_column(String(160))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    documents: Mapped[list[str]] = mapped_column(JSON, default=list)
    fee: Mapped[str] = mapped_column(Text, default="")
    duration: Mapped[str] = mapped_column(Text, default="")
    duration_days: Mapped[int] = mapped_column(default=7)
    where_to: Mapped[str] = mapped_column(Text, default="")
    how: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(300))
    needs_location: Mapped[bool] = mapped_column(default=False)
    match_text: Mapped[str] = mapped_column(Text, default="")  # normalised name + aliases for matching


class ServiceRequest(Base):
    """A citizen's request, shown as REQ-<6 digits of id>."""

    __tablename__ = "service_requests"
    __table_args__ = (
        Index("ix_service_requests_citizen", "citizen_key", "id"),
        Index("ix_service_requests_agency_status", "agency", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_key: Mapped[str | None] = mapped_column(String(140))  # "<channel>:<user id>"; cleared on erasure
    channel: Mapped[str] = mapped_column(String(16))  # where notices go: line, telegram or web
    reply_to: Mapped[str | None] = mapped_column(String(128))  # platform recipient for notices
    service: Mapped[str] = mapped_column(String(160))
    agency: Mapped[str] = mapped_column(String(160))  # currently responsible (changes when forwarded)
    details: Mapped[str | None] = mapped_column(Text)
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    contact: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=SUBMITTED)
    status_note: Mapped[str | None] = mapped_column(Text)
    anonymised: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    touched_at: Mapped[datetime | None] = mapped_column()  # first time an official acted on it
    closed_at: Mapped[datetime | None] = mapped_column()

    history: Mapped[list[RequestHistory]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="RequestHistory.id"
    )

    @property
    def code(self) -> str:
        return format_request_id(self.id)


class RequestHistory(Base):
    """Every change to a request: created, status, forwarded, reply, cancelled, rated."""

    __tablename__ = "request_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16))
    agency: Mapped[str] = mapped_column(String(160))
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(20))  # citizen, official, system
    official_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[ServiceRequest] = relationship(back_populates="history")


class ServiceRating(Base):
    __tablename__ = "service_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id", ondelete="CASCADE"), unique=True)
    agency: Mapped[str] = mapped_column(String(160), index=True)
    service: Mapped[str] = mapped_column(String(160))
    score: Mapped[int] = mapped_column()
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Handoff(Base):
    """A conversation handed to people: the bot stays quiet until released or expired."""

    __tablename__ = "handoffs"
    __table_args__ = (Index("ix_handoffs_conversation_status", "conversation", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)  # shown as H-<id>
    conversation: Mapped[str | None] = mapped_column(String(160))  # Rasa sender id; cleared on erasure
    citizen_key: Mapped[str | None] = mapped_column(String(140))
    channel: Mapped[str] = mapped_column(String(16))
    reply_to: Mapped[str | None] = mapped_column(String(128))
    agency: Mapped[str] = mapped_column(String(160))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default=HANDOFF_OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("officials.id"))

    @property
    def code(self) -> str:
        return f"H-{self.id}"

"""Open government: which requests are synthetic demo data, and citizens' reports of laws or
steps that obstruct a service (input for the review of laws, "Regulatory Guillotine").

Demo requests are ordinary `service_requests` rows named in `demo_requests`: every public
figure reads either the real requests or the demo ones, never both (storage/stats.py).
An obstacle report keeps only a pseudonym of its author (storage/pseudonyms.py) and the
author's reason with personal data masked (storage.nlu_capture.mask_personal_data).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class DemoRequest(Base):
    """A request filed by `bot demo seed`: never counted with real requests, removed by `bot demo remove`."""

    __tablename__ = "demo_requests"

    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id", ondelete="CASCADE"), primary_key=True)
    batch: Mapped[str] = mapped_column(String(40), default="demo")


class ObstacleReport(Base):
    """"This law / this step makes the service hard": one report by one person (or official)."""

    __tablename__ = "obstacle_reports"
    __table_args__ = (
        Index("ix_obstacle_reports_law", "law_id"),
        Index("ix_obstacle_reports_service", "service"),
        Index("ix_obstacle_reports_reporter", "reporter"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    law_id: Mapped[int | None] = mapped_column(ForeignKey("laws.id", ondelete="SET NULL"))
    law_title: Mapped[str] = mapped_column(String(400), default="")  # kept when the law row is re-imported
    service: Mapped[str] = mapped_column(String(160), default="")
    kind: Mapped[str] = mapped_column(String(12))  # law | step
    reason: Mapped[str] = mapped_column(Text, default="")  # masked
    reporter: Mapped[str] = mapped_column(String(64))  # pseudonym (or "official:<id>")
    reporter_role: Mapped[str] = mapped_column(String(12), default="citizen")  # citizen | official
    channel: Mapped[str] = mapped_column(String(16), default="")
    demo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

"""Scheduler coordination in the database.

- `SchedulerLease`: a named lease. "followups" is held by the one scheduler that runs
  the recurring jobs (and, on SQLite, by the only scheduler allowed to run).
- `SchedulerNode`: one row per running scheduler, renewed while it lives; the live
  count divides the platforms' rate limits between schedulers.
- `SchedulerJobRun`: a recurring job's run for one period (e.g. the digest of one
  day); its primary key makes a second run of the same period impossible.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class SchedulerLease(Base):
    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class SchedulerNode(Base):
    __tablename__ = "scheduler_nodes"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class SchedulerJobRun(Base):
    __tablename__ = "scheduler_job_runs"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(40), primary_key=True)  # e.g. "2026-11-24" for a daily job
    owner: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)

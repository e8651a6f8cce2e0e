"""Admins of the /admin page and what they do there (issue #25).

- `AdminAccount`: one per admin; only the SHA-256 of the admin's token is stored.
- `AdminJob`: a check or a training run started from the page. At most one job runs
  across every host sharing the database: a running job holds `running_guard = 1`,
  which is unique (finished jobs set it to NULL, and NULLs never collide). A running
  job renews `heartbeat_at`; one whose heartbeat is older than the lease counts as
  dead and is closed by the next start.
- `NluDataChange`: every change an admin made to `nlu_data/` (who, when, the unified
  diff of the file), exported as a patch for the repository.
- `ModelDeployment`: every deploy and rollback with who, why and the model's figures.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow

JOB_RUNNING = "running"
JOB_SUCCEEDED = "succeeded"
JOB_FAILED = "failed"


class AdminAccount(Base):
    __tablename__ = "admin_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)  # hex digest; the token itself is never stored
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()


class AdminJob(Base):
    __tablename__ = "admin_jobs"
    __table_args__ = (Index("ix_admin_jobs_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # check | train
    state: Mapped[str] = mapped_column(String(12), default=JOB_RUNNING)
    running_guard: Mapped[int | None] = mapped_column(unique=True)  # 1 while running, NULL after: one running job at a time
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    host: Mapped[str] = mapped_column(String(128), default="")
    pid: Mapped[int | None] = mapped_column()
    progress: Mapped[int] = mapped_column(default=0)  # percent
    step: Mapped[str] = mapped_column(String(200), default="")  # what it does now, in Thai
    log: Mapped[str] = mapped_column(Text, default="")  # the tail of its output
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class NluDataChange(Base):
    __tablename__ = "nlu_data_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    author: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(String(300))
    file: Mapped[str] = mapped_column(String(200))  # relative to the data folder, e.g. services.yml
    diff: Mapped[str] = mapped_column(Text)  # unified diff of the file (a/nlu_data/<file> -> b/nlu_data/<file>)


class ModelDeployment(Base):
    __tablename__ = "model_deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(12))  # deploy | rollback
    author: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    forced: Mapped[bool] = mapped_column(default=False)
    refusals: Mapped[list[str]] = mapped_column(JSON, default=list)  # what the guard said when forced
    model_sha256: Mapped[str] = mapped_column(String(64))
    replaced_sha256: Mapped[str | None] = mapped_column(String(64))
    model_id: Mapped[str | None] = mapped_column(String(128))  # what Rasa's /status reports for it
    rasa: Mapped[str] = mapped_column(String(32), default="")  # loaded | not running
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # held-out / cross-validation figures

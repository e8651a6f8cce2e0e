"""Who changed `nlu_data/` and who deployed which model (issue #25)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models.admin import ModelDeployment, NluDataChange
from storage.models.base import utcnow


def record_change(session: Session, *, author: str, summary: str, file: str, diff: str, now: datetime | None = None) -> int | None:
    """One change of a data file (nothing when the diff is empty); its id."""
    if not diff.strip():
        return None
    change = NluDataChange(at=now or utcnow(), author=author[:64], summary=summary[:300], file=file[:200], diff=diff)
    session.add(change)
    session.flush()
    return change.id


def changes(session: Session, *, since: int = 0, limit: int = 1000) -> list[NluDataChange]:
    return list(session.scalars(select(NluDataChange).where(NluDataChange.id > since).order_by(NluDataChange.id).limit(limit)))


def record_deployment(session: Session, *, action: str, author: str, model_sha256: str, replaced_sha256: str | None = None,
                      reason: str = "", forced: bool = False, refusals: list[str] | None = None, model_id: str | None = None,
                      rasa: str = "", figures: dict[str, Any] | None = None, now: datetime | None = None) -> int:
    row = ModelDeployment(at=now or utcnow(), action=action, author=author[:64], reason=reason, forced=forced, refusals=refusals or [],
                          model_sha256=model_sha256, replaced_sha256=replaced_sha256, model_id=model_id, rasa=rasa,
                          figures=figures or {})
    session.add(row)
    session.flush()
    return row.id


def deployments(session: Session, limit: int = 200) -> list[ModelDeployment]:
    """Newest first."""
    return list(session.scalars(select(ModelDeployment).order_by(ModelDeployment.id.desc()).limit(limit)))

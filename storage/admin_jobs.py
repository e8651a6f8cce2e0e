"""Background jobs of the /admin page (a check, a training run): one at a time across all hosts.

The guard lives in the database: a running job holds `running_guard = 1`, a unique
column, so a second insert fails whatever host tries it. A job renews its heartbeat
while it works; when the heartbeat is older than `LEASE` the job counts as dead (its
process or host went away) and the next start closes it as failed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db import session_scope
from storage.models.admin import JOB_FAILED, JOB_RUNNING, JOB_SUCCEEDED, AdminJob
from storage.models.base import utcnow

LEASE = timedelta(minutes=3)
LOG_LIMIT = 12_000  # characters of output kept (the tail)


class Busy(Exception):
    """A job is running already (job id 0: it finished meanwhile, try again)."""

    def __init__(self, job_id: int, kind: str, started_by: str, started_at: datetime, host: str) -> None:
        super().__init__(f"job {job_id} ({kind}) is running")
        self.job_id, self.kind, self.started_by, self.started_at, self.host = job_id, kind, started_by, started_at, host


def running(session: Session) -> AdminJob | None:
    return session.scalar(select(AdminJob).where(AdminJob.running_guard == 1))


def close_stale(session: Session, *, now: datetime | None = None, lease: timedelta = LEASE) -> int | None:
    """Close a running job whose heartbeat ran out; its id, or None."""
    now = now or utcnow()
    job = running(session)
    if job is None or job.heartbeat_at > now - lease:
        return None
    job.state, job.running_guard, job.finished_at = JOB_FAILED, None, now
    job.error = "งานหยุดไปโดยไม่แจ้งผล (เครื่องหรือโปรเซสที่ทำงานหยุดทำงาน)"
    session.flush()
    return job.id


def start(engine: Engine, kind: str, started_by: str, *, host: str, options: dict[str, Any] | None = None,
          now: datetime | None = None, lease: timedelta = LEASE) -> int:
    """Insert a running job (its own transaction) and return its id, or raise Busy with the job that holds the guard."""
    now = now or utcnow()
    with session_scope(engine) as s:
        close_stale(s, now=now, lease=lease)
    try:
        with session_scope(engine) as s:
            job = AdminJob(kind=kind, state=JOB_RUNNING, running_guard=1, started_by=started_by, started_at=now, heartbeat_at=now,
                           host=host, options=options or {}, progress=0, step="", log="")
            s.add(job)
            s.flush()
            return job.id
    except IntegrityError:
        with session_scope(engine) as s:
            other = running(s)
            if other is None:  # it finished in between: the caller may simply try again
                raise Busy(0, "", "", now, "") from None
            raise Busy(other.id, other.kind, other.started_by, other.started_at, other.host) from None


def report(session: Session, job_id: int, *, progress: int | None = None, step: str | None = None, append: str | None = None,
           pid: int | None = None, now: datetime | None = None) -> None:
    """Progress, the current step and output lines; renews the heartbeat."""
    job = session.get(AdminJob, job_id)
    if job is None:
        return
    job.heartbeat_at = now or utcnow()
    if progress is not None:
        job.progress = max(0, min(100, int(progress)))
    if step is not None:
        job.step = step[:200]
    if pid is not None:
        job.pid = pid
    if append:
        job.log = (job.log + append)[-LOG_LIMIT:]


def finish(session: Session, job_id: int, *, ok: bool, result: dict[str, Any] | None = None, error: str | None = None,
           now: datetime | None = None) -> None:
    now = now or utcnow()
    session.execute(update(AdminJob).where(AdminJob.id == job_id).values(
        state=JOB_SUCCEEDED if ok else JOB_FAILED, running_guard=None, finished_at=now, heartbeat_at=now,
        progress=100 if ok else AdminJob.progress, result=result, error=(error or None) and error[:4000]))


def recent(session: Session, limit: int = 10) -> list[AdminJob]:
    return list(session.scalars(select(AdminJob).order_by(AdminJob.id.desc()).limit(limit)))


def last_succeeded(session: Session, kind: str) -> AdminJob | None:
    return session.scalar(select(AdminJob).where(AdminJob.kind == kind, AdminJob.state == JOB_SUCCEEDED)
                          .order_by(AdminJob.id.desc()).limit(1))

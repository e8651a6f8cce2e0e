"""Live schedulers: each one keeps a heartbeat row in `scheduler_nodes`.

The count of live rows divides the platforms' rate limits between schedulers
(`bot.scheduler.rate_limits`) and is what `bot scheduler status`-style tooling can show.
A row whose heartbeat is older than its TTL belongs to a scheduler that died.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from storage.db import session_scope
from storage.models.base import utcnow
from storage.models.scheduler import SchedulerNode

FORGET_AFTER = timedelta(hours=1)


def heartbeat(engine: Engine, owner: str, ttl: timedelta, now: datetime | None = None) -> None:
    """Register `owner` or renew its row for another `ttl`."""
    now = now or utcnow()
    with session_scope(engine) as s:
        if s.execute(update(SchedulerNode).where(SchedulerNode.owner == owner).values(expires_at=now + ttl)).rowcount:
            return
    try:
        with session_scope(engine) as s:
            s.execute(insert(SchedulerNode).values(owner=owner, started_at=now, expires_at=now + ttl))
            s.execute(delete(SchedulerNode).where(SchedulerNode.expires_at < now - FORGET_AFTER))
    except IntegrityError:
        pass  # registered meanwhile by this very owner (a retried call)


def live_count(engine: Engine, now: datetime | None = None) -> int:
    now = now or utcnow()
    with session_scope(engine) as s:
        return int(s.scalar(select(func.count()).select_from(SchedulerNode).where(SchedulerNode.expires_at >= now)) or 0)


def leave(engine: Engine, owner: str) -> None:
    with session_scope(engine) as s:
        s.execute(delete(SchedulerNode).where(SchedulerNode.owner == owner))

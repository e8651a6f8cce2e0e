"""Database lease: at most one scheduler delivers against a database at any time.

The holder renews the lease well before it expires; another scheduler may take it
only after it expired (the holder died). Compare-and-set updates make this safe on
SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from common.instances import instance_name, is_dead_local_owner
from storage.db import session_scope
from storage.models.base import utcnow
from storage.models.scheduler import SchedulerLease

LEASE_NAME = "followups"

__all__ = ["LEASE_NAME", "holder", "instance_name", "is_dead_local_owner", "release", "take_over_from_dead", "try_acquire"]


def try_acquire(engine: Engine, owner: str, ttl: timedelta, now: datetime | None = None, name: str = LEASE_NAME) -> bool:
    """Take or renew the lease; False while another live owner holds it."""
    now = now or utcnow()
    expires = now + ttl
    with session_scope(engine) as s:
        taken = s.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == name)
            .where((SchedulerLease.owner == owner) | (SchedulerLease.expires_at < now))
            .values(owner=owner, expires_at=expires)
        ).rowcount
        if taken:
            return True
        if s.scalar(select(SchedulerLease.name).where(SchedulerLease.name == name)) is not None:
            return False
    try:
        with session_scope(engine) as s:
            s.execute(insert(SchedulerLease).values(name=name, owner=owner, acquired_at=now, expires_at=expires))
        return True
    except IntegrityError:
        return False  # another scheduler inserted it first


def holder(engine: Engine, name: str = LEASE_NAME) -> SchedulerLease | None:
    with session_scope(engine) as s:
        return s.get(SchedulerLease, name)


def release(engine: Engine, owner: str, name: str = LEASE_NAME) -> None:
    with session_scope(engine) as s:
        s.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == name, SchedulerLease.owner == owner)
            .values(expires_at=datetime(1970, 1, 1, tzinfo=utcnow().tzinfo))
        )


def take_over_from_dead(engine: Engine, owner: str, ttl: timedelta, now: datetime | None = None, name: str = LEASE_NAME) -> bool:
    """Take the lease at once when its holder was a process on this machine that has died
    (a crashed scheduler restarted by its supervisor need not wait for the TTL)."""
    current = holder(engine, name)
    if current is None or current.owner == owner or not is_dead_local_owner(current.owner):
        return False
    now = now or utcnow()
    with session_scope(engine) as s:
        return bool(
            s.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == name, SchedulerLease.owner == current.owner)
                .values(owner=owner, acquired_at=now, expires_at=now + ttl)
            ).rowcount
        )

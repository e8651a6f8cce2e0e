"""The scheduler process: one per database, driven by APScheduler 3.

Jobs (explicit ids, `replace_existing=True`):
- `lease` (memory store): renews the database lease every TTL/3; losing it stops the process.
- `deliver` (memory store): every second, sends due outbox rows (`coalesce=True`,
  `max_instances=1`: a slow run is never overlapped, missed runs collapse into one).
- recurring jobs registered in `bot.scheduler.recurring` (SQLAlchemy job store in the
  database, e.g. the 08:00 daily digest): `coalesce=True` and a `misfire_grace_time`
  of a few hours, so a digest missed while the system was down is sent once on start
  when it is still the same morning, and skipped when it is stale.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import timedelta

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine

from bot.scheduler import recurring
from bot.scheduler.delivery import Sender, deliver_due, recover_in_flight
from bot.scheduler.lease import release, try_acquire
from bot.scheduler.quiet_hours import QuietHours

logger = logging.getLogger(__name__)

LEASE_TTL = timedelta(seconds=30)


class LeaseLost(RuntimeError):
    pass


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def wait_for_lease(engine: Engine, owner: str, *, wait: bool, poll: float = 2.0, ttl: timedelta = LEASE_TTL) -> bool:
    while not try_acquire(engine, owner, ttl):
        if not wait:
            return False
        await asyncio.sleep(poll)
    return True


async def run_scheduler(
    engine: Engine,
    send: Sender,
    *,
    quiet: QuietHours | None,
    timezone: str = "Asia/Bangkok",
    wait: bool = True,
    owner: str | None = None,
    stop: asyncio.Event | None = None,
    interval: float = 1.0,
    lease_ttl: timedelta = LEASE_TTL,
) -> int:
    """Run until `stop` is set (or the lease is lost). Returns a process exit code."""
    owner = owner or instance_name()
    stop = stop or asyncio.Event()
    if not await wait_for_lease(engine, owner, wait=wait, ttl=lease_ttl, poll=min(2.0, lease_ttl.total_seconds() / 3)):
        logger.error("another scheduler holds the lease on this database; exiting")
        return 3
    recover_in_flight(engine)
    lost = asyncio.Event()

    async def renew() -> None:
        if not try_acquire(engine, owner, lease_ttl):
            logger.error("scheduler lease lost; stopping so that nothing is sent twice")
            lost.set()
            stop.set()

    async def deliver() -> None:
        if lost.is_set():
            return
        stats = await deliver_due(engine, send, owner=owner, quiet=quiet)
        if stats.touched:
            logger.info("delivery: sent %d, retried %d, failed %d, postponed %d, stale %d",
                        stats.sent, stats.retried, stats.failed, stats.postponed, stats.stale)

    scheduler = AsyncIOScheduler(
        timezone=timezone,
        jobstores={"default": MemoryJobStore(), "db": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")},
    )
    scheduler.add_job(renew, "interval", seconds=lease_ttl.total_seconds() / 3, id="lease", replace_existing=True,
                      coalesce=True, max_instances=1, misfire_grace_time=None)
    scheduler.add_job(deliver, "interval", seconds=interval, id="deliver", replace_existing=True,
                      coalesce=True, max_instances=1, misfire_grace_time=None)
    recurring.install(scheduler, jobstore="db")
    scheduler.start()
    try:
        await deliver()  # catch up at once after a restart
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        if not lost.is_set():
            release(engine, owner)
    return 4 if lost.is_set() else 0

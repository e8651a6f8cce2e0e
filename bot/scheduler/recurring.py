"""Recurring jobs kept in the database job store (APScheduler 3).

Job callables are module-level functions referenced by import path, so the job
store holds no pickled closures; ids are fixed, so re-installing replaces them.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.base import BaseScheduler

logger = logging.getLogger(__name__)

DIGEST_HOUR = 8
# A digest missed while the system was down is still worth sending until late morning.
DIGEST_MISFIRE_GRACE = timedelta(hours=3)


def daily_digest() -> None:
    """Queue today's digest for every group (skipped where there is nothing to say)."""
    from storage.db import get_engine, session_scope
    from storage.digest import queue_daily_digests

    with session_scope(get_engine()) as session:
        count = queue_daily_digests(session)
    logger.info("queued %d daily digest(s)", count)


def install(scheduler: BaseScheduler, jobstore: str = "default") -> None:
    scheduler.add_job(
        "bot.scheduler.recurring:daily_digest",
        "cron",
        hour=DIGEST_HOUR,
        minute=0,
        id="daily-digest",
        jobstore=jobstore,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=int(DIGEST_MISFIRE_GRACE.total_seconds()),
    )

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
# Captured NLU messages past NLU_CAPTURE_RETENTION_DAYS are deleted hourly (the gateway purges too).
NLU_PURGE_EVERY = timedelta(hours=1)
# Every table's retention period (storage.retention) and Rasa's tracker, hourly.
RETENTION_PURGE_EVERY = timedelta(hours=1)


def daily_digest() -> None:
    """Queue today's digest for every group (skipped where there is nothing to say)."""
    from storage.db import get_engine, session_scope
    from storage.digest import queue_daily_digests

    with session_scope(get_engine()) as session:
        count = queue_daily_digests(session)
    logger.info("queued %d daily digest(s)", count)


def purge_nlu_captures() -> None:
    """Enforce the retention period of captured NLU messages."""
    from common.settings import get_settings
    from storage.db import get_engine, session_scope
    from storage.nlu_capture import purge_expired

    with session_scope(get_engine()) as session:
        count = purge_expired(session, get_settings().nlu_capture_retention_days)
    if count:
        logger.info("purged %d NLU capture(s) past retention", count)


def purge_retention() -> None:
    """Enforce the retention periods of every table (storage.retention) and of Rasa's tracker (engine/privacy.py)."""
    import asyncio

    from common.settings import get_settings
    from common import clock
    from connectors.rasa_client import RasaClient
    from storage.db import get_engine, session_scope
    from storage.retention import Retention, purge

    now, policy = clock.now(), Retention.from_env()
    with session_scope(get_engine()) as session:
        purged = purge(session, now, policy)
    logger.info("retention: %s", purged.as_dict())

    async def tracker() -> dict[str, int]:
        client = RasaClient(get_settings().rasa_url, timeout=300)
        try:
            return await client.purge(policy.tracker_cutoff(now))
        finally:
            await client.aclose()

    try:
        logger.info("retention in Rasa's tracker: %s", asyncio.run(tracker()))
    except Exception as exc:  # noqa: BLE001 - Rasa down or an old Rasa: the next run tries again
        logger.warning("retention in Rasa's tracker not done (%s)", type(exc).__name__)


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
    scheduler.add_job(
        "bot.scheduler.recurring:purge_nlu_captures",
        "interval",
        seconds=int(NLU_PURGE_EVERY.total_seconds()),
        id="nlu-capture-purge",
        jobstore=jobstore,
        replace_existing=True,
        coalesce=True,  # missed runs collapse into one
        max_instances=1,
        misfire_grace_time=None,  # late is still worth doing
    )
    scheduler.add_job(
        "bot.scheduler.recurring:purge_retention",
        "interval",
        seconds=int(RETENTION_PURGE_EVERY.total_seconds()),
        id="retention-purge",
        jobstore=jobstore,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )

"""Recurring jobs kept in the database job store (APScheduler 3).

Job callables are module-level functions referenced by import path, so the job
store holds no pickled closures; ids are fixed, so re-installing replaces them.

With several schedulers, only the one holding the "followups" lease runs the job
store (`bot.scheduler.runner`): a job store cannot be shared by two running
schedulers. Each job also claims its period first (`claim_period`: a row in
`scheduler_job_runs` keyed by job and period), so that even during a hand-over
between two schedulers a job runs once per period, never once per scheduler.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from common import clock
from common.settings import get_settings
from connectors.rasa_client import RasaClient
from storage import digest, nlu_capture, retention
from storage.db import get_engine, session_scope
from storage.models.base import utcnow
from storage.models.scheduler import SchedulerJobRun

logger = logging.getLogger(__name__)

# The scheduler instance running jobs in this process (recorded with each run).
_owner = "scheduler"
# Runs older than this are forgotten (the periods here are days and hours).
KEEP_RUNS = timedelta(days=30)

DIGEST_HOUR = 8
# A digest missed while the system was down is still worth sending until late morning.
DIGEST_MISFIRE_GRACE = timedelta(hours=3)
# Captured NLU messages past NLU_CAPTURE_RETENTION_DAYS are deleted hourly (the gateway purges too).
NLU_PURGE_EVERY = timedelta(hours=1)
# Every table's retention period (storage.retention) and Rasa's tracker, hourly.
RETENTION_PURGE_EVERY = timedelta(hours=1)


def set_owner(owner: str) -> None:
    global _owner
    _owner = owner


def claim_period(job_id: str, period: str) -> bool:
    """Record that `job_id` runs for `period`; False when it already ran (or runs) elsewhere."""
    now = utcnow()
    try:
        with session_scope(get_engine()) as session:
            session.execute(insert(SchedulerJobRun).values(job_id=job_id, period=period, owner=_owner[:64], started_at=now))
    except IntegrityError:
        logger.info("%s for %s already ran; skipped", job_id, period)
        return False
    with session_scope(get_engine()) as session:
        session.execute(delete(SchedulerJobRun).where(SchedulerJobRun.job_id == job_id, SchedulerJobRun.started_at < now - KEEP_RUNS))
    return True


def daily_digest() -> None:
    """Queue today's digest for every group (skipped where there is nothing to say)."""
    today = utcnow().astimezone(ZoneInfo(get_settings().timezone)).date()
    if not claim_period("daily-digest", today.isoformat()):
        return

    with session_scope(get_engine()) as session:
        count = digest.queue_daily_digests(session)
    logger.info("queued %d daily digest(s)", count)


def purge_nlu_captures() -> None:
    """Enforce the retention period of captured NLU messages."""
    if not claim_period("nlu-capture-purge", utcnow().strftime("%Y-%m-%dT%H")):
        return
    with session_scope(get_engine()) as session:
        count = nlu_capture.purge_expired(session, get_settings().nlu_capture_retention_days)
    if count:
        logger.info("purged %d NLU capture(s) past retention", count)


def purge_retention() -> None:
    """Enforce the retention periods of every table (storage.retention) and of Rasa's tracker (engine/privacy.py)."""
    now, policy = clock.now(), retention.Retention.from_env()
    if not claim_period("retention-purge", now.strftime("%Y-%m-%dT%H")):
        return  # another scheduler did this hour's purge
    with session_scope(get_engine()) as session:
        purged = retention.purge(session, now, policy)
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

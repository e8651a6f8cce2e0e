"""The scheduler process. Several may run against one PostgreSQL database; one on SQLite.

Delivery (every scheduler): `bot.scheduler.delivery.Deliverer` claims due outbox rows
one by one with a short lease (`CLAIM_TTL`), sends them through a pipeline of
concurrent sends within its share of the platforms' rate limits, extends its claims
while they are in flight, and settles claims whose lease expired (a scheduler died):
LINE and web rows are resent with their retry key, Telegram rows are marked failed
"outcome unknown". Killing one scheduler loses nothing; the others take its rows over
after the lease.

Coordination (every 2 s, in each scheduler):
- a heartbeat row in `scheduler_nodes` (lapses after 6 s): the number of live schedulers
  divides the rate limits between them;
- the "followups" lease: its holder runs the recurring jobs of `bot.scheduler.recurring`
  (APScheduler 3 with the SQLAlchemy job store in the database, e.g. the 08:00 daily
  digest with `coalesce=True` and a few hours of `misfire_grace_time`). When the holder
  dies another scheduler takes the lease after `LEASE_TTL` and runs them instead; each
  job claims its period in `scheduler_job_runs`, so it runs once per period.

SQLite (the embedded default) has a single writer, so there is one scheduler per
database: the lease is required to deliver at all, a second scheduler waits for it (or
is refused with `--no-wait`), and the holder settles every row left in `sending` when
it starts (its predecessor is gone). Losing the lease stops the process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from bot.scheduler import nodes, recurring
from bot.scheduler.delivery import CLAIM_TTL, Deliverer, Sender, recover_in_flight
from bot.scheduler.lease import instance_name, release, take_over_from_dead, try_acquire
from bot.scheduler.quiet_hours import QuietHours
from bot.scheduler.rate_limits import RateLimiter
from storage.db import is_sqlite

logger = logging.getLogger(__name__)

LEASE_TTL = timedelta(seconds=30)
NODE_EVERY = timedelta(seconds=2)  # heartbeat of a live scheduler (its row lapses after 3 beats)


class LeaseLost(RuntimeError):
    pass


async def wait_for_lease(engine: Engine, owner: str, *, wait: bool, poll: float = 2.0, ttl: timedelta = LEASE_TTL) -> bool:
    """Take the lease, waiting while a live scheduler holds it (a dead one on this machine is taken over at once)."""
    while not await asyncio.to_thread(try_acquire, engine, owner, ttl):
        if await asyncio.to_thread(take_over_from_dead, engine, owner, ttl):
            logger.warning("took the scheduler lease over from a scheduler on this machine that stopped without releasing it")
            return True
        if not wait:
            return False
        await asyncio.sleep(poll)
    return True


class _RecurringJobs:
    """The recurring-job scheduler, running only while this process holds the lease."""

    def __init__(self, engine: Engine, timezone: str, install: Callable[..., None]) -> None:
        self.engine, self.timezone, self.install = engine, timezone, install
        self.scheduler: AsyncIOScheduler | None = None

    def start(self) -> None:
        if self.scheduler is not None:
            return
        self.scheduler = AsyncIOScheduler(
            timezone=self.timezone, jobstores={"db": SQLAlchemyJobStore(engine=self.engine, tablename="apscheduler_jobs")}
        )
        self.install(self.scheduler, jobstore="db")
        self.scheduler.start()
        logger.info("this scheduler now runs the recurring jobs")

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None


async def run_scheduler(
    engine: Engine,
    send: Sender,
    *,
    quiet: QuietHours | None,
    timezone: str = "Asia/Bangkok",
    wait: bool = True,
    owner: str | None = None,
    stop: asyncio.Event | None = None,
    interval: float = 0.25,
    lease_ttl: timedelta = LEASE_TTL,
    claim_ttl: timedelta = CLAIM_TTL,
    concurrency: int = 128,
    exclusive: bool | None = None,
    limiter: RateLimiter | None = None,
    install: Callable[[BaseScheduler, str], None] = recurring.install,
) -> int:
    """Run until `stop` is set. Returns a process exit code (3: refused on SQLite, 4: lease lost on SQLite).

    `interval`: the longest pause between two looks for due rows when idle.
    `exclusive`: one scheduler per database (default: on SQLite).
    `install`: adds the recurring jobs to the job scheduler (tests add their own).
    """
    owner = owner or instance_name()
    stop = stop or asyncio.Event()
    exclusive = is_sqlite(engine) if exclusive is None else exclusive
    recurring.set_owner(owner)
    if exclusive:
        if not await wait_for_lease(engine, owner, wait=wait, ttl=lease_ttl, poll=min(2.0, lease_ttl.total_seconds() / 3)):
            logger.error("another scheduler holds the lease on this database; exiting")
            return 3
        await asyncio.to_thread(recover_in_flight, engine)
    await asyncio.to_thread(nodes.heartbeat, engine, owner, 3 * NODE_EVERY)
    limiter = limiter or RateLimiter(schedulers=await asyncio.to_thread(nodes.live_count, engine))
    jobs = _RecurringJobs(engine, timezone, install)
    lost = asyncio.Event()

    # the live count is re-read often, so that survivors take a dead scheduler's share of
    # the rate limits within seconds; the lease is renewed well within its TTL
    every = min(lease_ttl.total_seconds() / 3, NODE_EVERY.total_seconds())

    async def coordinate() -> None:
        while not stop.is_set():
            leader: bool | None = None
            try:
                await asyncio.to_thread(nodes.heartbeat, engine, owner, timedelta(seconds=3 * every))
                limiter.share(await asyncio.to_thread(nodes.live_count, engine))
                leader = await asyncio.to_thread(try_acquire, engine, owner, lease_ttl)
            except Exception:  # noqa: BLE001 - a database hiccup: try again next round (the lease outlives a few)
                logger.exception("scheduler coordination failed; retrying")
            if leader is None:
                pass
            elif leader:
                jobs.start()
            else:
                if jobs.scheduler is not None:
                    logger.warning("the scheduler lease went to another scheduler; no longer running the recurring jobs")
                jobs.stop()
                if exclusive:
                    logger.error("scheduler lease lost; stopping so that nothing is sent twice")
                    lost.set()
                    stop.set()
                    return
            try:
                await asyncio.wait_for(stop.wait(), timeout=every)
            except TimeoutError:
                pass

    deliverer = Deliverer(engine, send, owner=owner, quiet=quiet, concurrency=concurrency, poll=interval,
                          claim_ttl=claim_ttl, limiter=limiter)
    coordinator = asyncio.create_task(coordinate())
    try:
        await deliverer.run(stop)
    finally:
        stop.set()
        await asyncio.gather(coordinator, return_exceptions=True)
        jobs.stop()
        try:
            if not lost.is_set():
                await asyncio.to_thread(release, engine, owner)
            await asyncio.to_thread(nodes.leave, engine, owner)
        except Exception:  # noqa: BLE001 - the lease and the heartbeat row lapse by themselves
            logger.exception("could not release the lease on the way out")
    stats = deliverer.stats
    logger.info("scheduler %s stopped: sent %d, retried %d, failed %d, postponed %d, stale %d",
                owner, stats.sent, stats.retried, stats.failed, stats.postponed, stats.stale)
    return 4 if lost.is_set() else 0

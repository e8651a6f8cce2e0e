"""Run the real scheduler loop in its own process against a fake push API (for kill tests).

usage: python scheduler_proc.py DATABASE_URL FAKE_API_URL [CLAIM_TTL_SECONDS [TICK_LOG]]

With SCHEDULER_ELSEWHERE=1 the scheduler names itself as if it ran on another machine,
so that the others take its rows over only when their claims' lease expires (the path
taken when a machine dies), not at once as for a dead process on this machine.

With TICK_LOG, a recurring job runs every second besides the real ones: each run
claims its period (the whole second) like the real jobs do and, when it got it, appends
"<period> <scheduler>" to TICK_LOG, so that a test can see that each period ran once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from functools import partial

import aiohttp
from apscheduler.schedulers.base import BaseScheduler

from bot.scheduler import recurring
from bot.scheduler.delivery import CLAIM_TTL, DeliveryError, OutgoingMessage
from bot.scheduler.runner import run_scheduler
from storage.db import make_engine


def tick(log: str) -> None:
    """The test's recurring job (module-level, primitive argument, like the real ones)."""
    from storage.models.base import utcnow

    period = str(int(utcnow().timestamp()))
    if recurring.claim_period("test-tick", period):
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{period} {recurring._owner}\n")


def install_with_tick(log: str, scheduler: BaseScheduler, jobstore: str = "default") -> None:
    recurring.install(scheduler, jobstore=jobstore)
    scheduler.add_job("tests.scheduler.scheduler_proc:tick", "interval", seconds=1, args=[log], id="test-tick",
                      jobstore=jobstore, replace_existing=True, coalesce=True, max_instances=1, misfire_grace_time=None)


async def main(db_url: str, api_url: str, claim_ttl: timedelta, tick_log: str | None) -> int:
    engine = make_engine(db_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # aiohttp, as line-bot-sdk's async client uses: a pool of keep-alive connections
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(api_url, connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as client:

        async def send(message: OutgoingMessage) -> None:
            headers = {"X-Line-Retry-Key": message.retry_key} if message.channel == "line" else {}
            try:
                async with client.post("/push", json={"to": message.recipient, "text": message.payload["text"]}, headers=headers) as response:
                    status = response.status
                    await response.read()
            except aiohttp.ClientError as exc:
                raise DeliveryError(f"network: {type(exc).__name__}") from exc
            if status == 409:
                return  # LINE: this retry key was already accepted
            if status != 200:
                raise DeliveryError(f"HTTP {status}")

        install = partial(install_with_tick, tick_log) if tick_log else recurring.install
        owner = f"elsewhere-{os.getpid()}:0:{os.getpid()}:test" if os.environ.get("SCHEDULER_ELSEWHERE") == "1" else None
        return await run_scheduler(engine, send, quiet=None, wait=True, stop=stop, interval=0.2, owner=owner,
                                   lease_ttl=timedelta(seconds=3), claim_ttl=claim_ttl, install=install)


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("DATABASE_URL", sys.argv[1])  # the recurring jobs open the configured database
    ttl = timedelta(seconds=float(sys.argv[3])) if len(sys.argv) > 3 else CLAIM_TTL
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], ttl, sys.argv[4] if len(sys.argv) > 4 else None)))

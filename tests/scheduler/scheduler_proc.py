"""Run the real scheduler loop in its own process against a fake push API (for kill tests).

usage: python scheduler_proc.py DATABASE_URL FAKE_API_URL [CLAIM_TTL_SECONDS]
"""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import timedelta

import httpx

from bot.scheduler.delivery import CLAIM_TTL, DeliveryError, OutgoingMessage
from bot.scheduler.runner import run_scheduler
from storage.db import make_engine


async def main(db_url: str, api_url: str, claim_ttl: timedelta) -> int:
    engine = make_engine(db_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=api_url, timeout=10, limits=limits) as client:

        async def send(message: OutgoingMessage) -> None:
            headers = {"X-Line-Retry-Key": message.retry_key} if message.channel == "line" else {}
            response = await client.post("/push", json={"to": message.recipient, "text": message.payload["text"]}, headers=headers)
            if response.status_code == 409:
                return  # LINE: this retry key was already accepted
            if response.status_code != 200:
                raise DeliveryError(f"HTTP {response.status_code}")

        return await run_scheduler(engine, send, quiet=None, wait=True, stop=stop, interval=0.2,
                                   lease_ttl=timedelta(seconds=3), claim_ttl=claim_ttl)


if __name__ == "__main__":
    ttl = timedelta(seconds=float(sys.argv[3])) if len(sys.argv) > 3 else CLAIM_TTL
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], ttl)))

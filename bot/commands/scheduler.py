"""`bot scheduler run`: the follow-up scheduler process (one per database)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import click


@click.group(name="scheduler")
def cli() -> None:
    """Deliver follow-ups, reminders and digests."""


@cli.command()
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait while another scheduler holds the lease, or exit at once.")
def run(wait: bool) -> None:
    """Run the scheduler until interrupted."""
    from bot.scheduler.quiet_hours import QuietHours
    from bot.scheduler.runner import instance_name, run_scheduler, wait_for_lease
    from bot.scheduler.senders import build_sender
    from common.settings import get_settings
    from storage.db import get_engine
    from storage.migrate import upgrade

    logging.getLogger().setLevel(logging.INFO)
    settings = get_settings()
    engine = get_engine()
    upgrade(engine)
    quiet = QuietHours.parse(settings.quiet_hours, settings.timezone)

    owner = instance_name()

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if not await wait_for_lease(engine, owner, wait=wait):
            return 3
        async with build_sender(settings) as send:
            return await run_scheduler(engine, send, quiet=quiet, timezone=settings.timezone, owner=owner, stop=stop)

    code = asyncio.run(main())
    if code == 3:
        click.echo("another scheduler is already running against this database; not starting a second one.", err=True)
    sys.exit(code)

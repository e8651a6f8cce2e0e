"""`bot scheduler run`: a follow-up scheduler process.

On PostgreSQL any number may run at once (on one machine or several): each claims due
rows per row, and one of them at a time runs the recurring jobs. On SQLite (the
embedded default, a single writer) there is one scheduler per database.
"""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

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
              help="SQLite: wait while another scheduler holds the database, or exit at once. "
                   "PostgreSQL runs several schedulers side by side.")
@click.option("--concurrency", default=128, show_default=True, type=click.IntRange(1, 1000),
              help="Platform calls in flight at once in this scheduler.")
def run(wait: bool, concurrency: int) -> None:
    """Run the scheduler until interrupted."""
    from bot.scheduler.quiet_hours import QuietHours
    from bot.scheduler.runner import instance_name, run_scheduler, wait_for_lease
    from bot.scheduler.senders import build_sender
    from common.settings import get_settings
    from storage.db import get_engine, is_sqlite
    from storage.migrate import upgrade

    logging.getLogger().setLevel(logging.INFO)
    settings = get_settings()
    engine = get_engine()
    upgrade(engine)
    quiet = QuietHours.parse(settings.quiet_hours, settings.timezone)
    exclusive = is_sqlite(engine)
    owner = instance_name()

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if exclusive and not await wait_for_lease(engine, owner, wait=wait):
            return 3
        async with build_sender(settings) as send:
            return await run_scheduler(engine, send, quiet=quiet, timezone=settings.timezone, owner=owner, stop=stop,
                                       concurrency=concurrency, exclusive=exclusive)

    code = asyncio.run(main())
    if code == 3:
        click.echo("another scheduler is already running against this SQLite database; not starting a second one "
                   "(SQLite has a single writer: use PostgreSQL, DATABASE_URL=postgresql://..., to run several).", err=True)
    sys.exit(code)

"""`bot demo seed|remove|status`: synthetic requests for showing /stats, never counted with real ones."""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import click


def _engine():  # type: ignore[no-untyped-def]
    from storage.db import get_engine
    from storage.migrate import upgrade

    engine = get_engine()
    upgrade(engine)
    return engine


@click.group(name="demo")
def cli() -> None:
    """Demo data for the public statistics pages (flagged as demo in storage)."""


@cli.command()
@click.option("--count", default=400, show_default=True, type=click.IntRange(1, 20000), help="Requests to file.")
@click.option("--weeks", default=8, show_default=True, type=click.IntRange(1, 104), help="Spread over this many past weeks.")
@click.option("--seed", "rng_seed", default=24, show_default=True, help="Random seed (same seed, same data).")
def seed(count: int, weeks: int, rng_seed: int) -> None:
    """File synthetic requests with realistic timings and ratings (replaces an earlier demo set)."""
    from storage import demo
    from storage.db import session_scope

    with session_scope(_engine()) as s:
        made = demo.seed(s, count=count, weeks=weeks, rng_seed=rng_seed)
    click.echo(f"demo data: {made.requests} requests, {made.obstacles} obstacle reports (remove with `bot demo remove`)")


@cli.command()
def remove() -> None:
    """Delete every demo request and demo obstacle report."""
    from storage import demo
    from storage.db import session_scope

    with session_scope(_engine()) as s:
        gone = demo.remove(s)
    click.echo(f"removed {gone.requests} demo requests and {gone.obstacles} demo obstacle reports")


@cli.command()
def status() -> None:
    """How much demo data is stored."""
    from storage import demo
    from storage.db import session_scope

    with session_scope(_engine()) as s:
        held = demo.counts(s)
    click.echo(f"{held.requests} demo requests, {held.obstacles} demo obstacle reports")

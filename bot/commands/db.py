"""`bot db upgrade|current`: database migrations."""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import click


@click.group(name="db")
def cli() -> None:
    """Database schema (Alembic migrations)."""


@cli.command()
def upgrade() -> None:
    """Create or upgrade the schema to the newest revision."""
    from storage.db import get_engine
    from storage.migrate import current_heads
    from storage.migrate import upgrade as do_upgrade

    engine = get_engine()
    do_upgrade(engine)
    click.echo(f"schema at {', '.join(sorted(current_heads(engine)))}")


@cli.command()
def current() -> None:
    """Print the schema revision(s) of the configured database."""
    from storage.db import get_engine
    from storage.migrate import current_heads

    heads = current_heads(get_engine())
    click.echo(", ".join(sorted(heads)) if heads else "empty (run `bot db upgrade`)")

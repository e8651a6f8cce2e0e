"""`bot services seed|list|show`: the government service catalog."""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import json

import click


def _engine():  # type: ignore[no-untyped-def]
    from storage.db import get_engine
    from storage.migrate import upgrade

    engine = get_engine()
    upgrade(engine)
    return engine


@click.group(name="services")
def cli() -> None:
    """Government service catalog (what each service needs, who is responsible)."""


@cli.command()
def seed() -> None:
    """Load or refresh the built-in agencies and services."""
    from storage.db import session_scope
    from storage.services import load_catalog

    with session_scope(_engine()) as s:
        agencies, services = load_catalog(s)
    click.echo(f"{agencies} agencies and {services} services loaded")


@cli.command(name="list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """Every service with its agency."""
    from sqlalchemy import select

    from storage.db import session_scope
    from storage.models.services import Service
    from storage.services import ensure_catalog

    with session_scope(_engine()) as s:
        ensure_catalog(s)
        rows = [(x.name, x.kind, x.agency, x.duration_days) for x in s.scalars(select(Service).order_by(Service.name))]
    if as_json:
        click.echo(json.dumps([{"name": n, "kind": k, "agency": a, "duration_days": d} for n, k, a, d in rows], ensure_ascii=False))
        return
    for name, kind, agency, days in rows:
        click.echo(f"{name}\t{kind}\t{agency}\t{days} d")


@cli.command()
@click.argument("query")
def show(query: str) -> None:
    """What a service needs, as the bot would answer (fuzzy name)."""
    from actions.service_cards import card_message
    from connectors.replies import as_plain_text
    from storage.db import session_scope
    from storage.services import find_services

    with session_scope(_engine()) as s:
        match = find_services(s, entity=query, text=query)
        if match.single is None:
            names = ", ".join(x.name for x in match.services) or "none"
            raise click.ClickException(f"no single service matches ({names})")
        click.echo(as_plain_text({"custom": card_message(match.single, None)}))

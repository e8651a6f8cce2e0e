"""`bot requests list`: citizens' requests and where they were routed (no personal data)."""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import click

from bot.commands.services import _engine


@click.group(name="requests")
def cli() -> None:
    """Citizens' service requests and where they were routed."""


@cli.command(name="list")
@click.option("--agency", help="Only requests with this agency.")
@click.option("--status", help="Only this status (submitted, received, in_progress, need_info, completed, rejected, cancelled).")
@click.option("--limit", default=50, show_default=True)
def requests_list(agency: str | None, status: str | None, limit: int) -> None:
    """Requests, newest first: ID, service, agency, status, date (no personal data)."""
    from sqlalchemy import select

    from storage.db import session_scope
    from storage.models.services import ServiceRequest
    from common.wording.requests import STATUS_THAI

    with session_scope(_engine()) as s:
        stmt = select(ServiceRequest).order_by(ServiceRequest.id.desc()).limit(limit)
        if agency:
            stmt = stmt.where(ServiceRequest.agency == agency)
        if status:
            stmt = stmt.where(ServiceRequest.status == status)
        for r in s.scalars(stmt):
            click.echo(f"{r.code}\t{r.service}\t{r.agency}\t{STATUS_THAI[r.status]}\t{r.created_at:%Y-%m-%d %H:%M}Z")



@cli.command()
@click.option("--agency", help="Only this agency.")
def ratings(agency: str | None) -> None:
    """Satisfaction per agency and service: number of ratings and the average (1-5)."""
    from storage.db import session_scope
    from storage.requests import rating_summary

    with session_scope(_engine()) as s:
        rows = rating_summary(s, agency)
    if not rows:
        click.echo("no ratings yet")
    for name, service, count, average in rows:
        click.echo(f"{name}\t{service}\t{count} ratings\taverage {average:.2f}")

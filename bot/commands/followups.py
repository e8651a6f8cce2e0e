"""`bot followups list|cancel|retry|failed-replies`: inspect and steer queued follow-ups (admins)."""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import json

import click
from sqlalchemy import select

from storage.models.outbox import CANCELLED, FAILED, PENDING, SENDING, STATES, Outbox


@click.group(name="followups")
def cli() -> None:
    """Queued reminders, notices and digests."""


@cli.command(name="list")
@click.option("--state", type=click.Choice(STATES), help="Only rows in this state.")
@click.option("--kind", help="Only this kind (reminder, digest, request_status, ...).")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(state: str | None, kind: str | None, limit: int, as_json: bool) -> None:
    """List follow-ups, newest due first (message text is not shown: it may be personal data)."""
    from storage.db import get_engine, session_scope

    with session_scope(get_engine()) as s:
        stmt = select(Outbox).order_by(Outbox.due_at.desc()).limit(limit)
        if state:
            stmt = stmt.where(Outbox.state == state)
        if kind:
            stmt = stmt.where(Outbox.kind == kind)
        rows = [
            {"id": r.id, "kind": r.kind, "channel": r.channel, "state": r.state, "due_at": r.due_at.isoformat(),
             "attempts": r.attempts, "cause": f"{r.cause_type}:{r.cause_id}" if r.cause_type else None,
             "last_error": r.last_error}
            for r in s.scalars(stmt)
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no follow-ups")
    for r in rows:
        error = f"  ({r['last_error']})" if r["last_error"] else ""
        click.echo(f"{r['id']:>6}  {r['state']:<9} {r['kind']:<16} {r['channel']:<8} due {r['due_at']}  tries {r['attempts']}{error}")
    from storage.inbound import count_undelivered

    undelivered = count_undelivered(get_engine())
    if any(undelivered.values()):
        click.echo(f"replies not delivered: {undelivered['failed']} failed, {undelivered['unknown']} unknown "
                   "(see `bot followups failed-replies`)")


@cli.command(name="failed-replies")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def failed_replies(limit: int, as_json: bool) -> None:
    """Answers that did not (failed) or may not (unknown) reach the person, newest first.

    Shows why and the follow-up that sends the answer later, if one was queued; never the text.
    """
    from storage.db import get_engine
    from storage.inbound import undelivered_replies

    rows = [
        {"event": r.event_id, "channel": r.channel, "outcome": r.outcome, "reason": r.error, "received_at": r.received_at.isoformat(),
         "finished_at": r.processed_at.isoformat() if r.processed_at else None, "followup": r.notice_id, "followup_state": r.notice_state}
        for r in undelivered_replies(get_engine(), limit)
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no failed replies")
    for r in rows:
        later = f"  follow-up {r['followup']} ({r['followup_state']})" if r["followup"] else "  not sent later"
        click.echo(f"event {r['event']:>6}  {r['outcome']:<8} {r['channel']:<8} {r['received_at']}  {r['reason']}{later}")


def _change(row_id: int, allowed: tuple[str, ...], new_state: str) -> None:
    from storage.db import get_engine, session_scope
    from storage.models.base import utcnow

    with session_scope(get_engine()) as s:
        row = s.get(Outbox, row_id)
        if row is None:
            raise click.ClickException(f"no follow-up with id {row_id}")
        if row.state not in allowed:
            raise click.ClickException(f"follow-up {row_id} is {row.state}; only {', '.join(allowed)} can be changed this way")
        row.state = new_state
        if new_state == PENDING:
            row.due_at, row.attempts, row.last_error = utcnow(), 0, None
        else:
            row.last_error = "cancelled by an admin"
    click.echo(f"follow-up {row_id}: {new_state}")


@cli.command()
@click.argument("row_id", type=int)
def cancel(row_id: int) -> None:
    """Cancel a pending follow-up."""
    _change(row_id, (PENDING,), CANCELLED)


@cli.command()
@click.argument("row_id", type=int)
def retry(row_id: int) -> None:
    """Send a failed (or cancelled) follow-up again now."""
    _change(row_id, (FAILED, CANCELLED), PENDING)


__all__ = ["cli", "SENDING"]

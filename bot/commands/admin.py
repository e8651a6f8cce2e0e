"""`bot admin ...`: the admins of the /admin page, one token each (issue #25).

`bot admin add NAME` prints a new admin's token once (only its SHA-256 is stored);
`bot admin revoke NAME` ends it at once; `bot admin list` shows who can sign in.
`bot admin run-job ID` is what the page launches for a background job (not for people).
"""

from __future__ import annotations

import click


def _engine():  # type: ignore[no-untyped-def]
    from storage.db import get_engine
    from storage.migrate import upgrade

    engine = get_engine()
    upgrade(engine)
    return engine


@click.group(name="admin")
def cli() -> None:
    """Admins of the /admin page: add, revoke, list (one token per admin)."""


@cli.command()
@click.argument("name")
def add(name: str) -> None:
    """Create admin NAME and print their token (shown only now; give it to them privately)."""
    from bot.commands.nlu import shell_author
    from storage.admin_accounts import AccountError, add_admin
    from storage.db import session_scope

    try:
        with session_scope(_engine()) as s:
            token = add_admin(s, name, created_by=shell_author())
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"admin {name.strip().lower()} added; their token (shown once, not stored):")
    click.echo(token)


@cli.command()
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke admin NAME's token now (their changes and deploys stay recorded under their name)."""
    from storage.admin_accounts import revoke_admin
    from storage.db import session_scope

    with session_scope(_engine()) as s:
        if not revoke_admin(s, name):
            raise click.ClickException(f"no active admin {name}")
    click.echo(f"admin {name} revoked")


@cli.command(name="list")
def list_() -> None:
    """Admins and whether their token is active."""
    from storage.admin_accounts import list_admins
    from storage.db import session_scope

    with session_scope(_engine()) as s:
        rows = [(a.name, a.revoked_at, a.last_used_at, a.created_at) for a in list_admins(s)]
    if not rows:
        click.echo("no admins yet: `bot admin add NAME`")
    for name, revoked, used, created in rows:
        state = f"revoked {revoked:%Y-%m-%d %H:%M}" if revoked else "active"
        seen = f"last used {used:%Y-%m-%d %H:%M}" if used else "never used"
        click.echo(f"{name:24s} {state:24s} {seen} (added {created:%Y-%m-%d})")


@cli.command(name="run-job", hidden=True)
@click.argument("job_id", type=int)
def run_job(job_id: int) -> None:
    """Run background job JOB_ID (the /admin page launches this)."""
    import sys

    from bot.nlu_admin.jobs import run

    sys.exit(0 if run(_engine(), job_id) else 1)

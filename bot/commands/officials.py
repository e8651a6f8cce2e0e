"""`bot officials ...` and `bot groups ...`: register officials and link group chats (admins)."""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import click
from sqlalchemy import select

from storage.models.officials import ROLES, GroupLink, Official


@click.group(name="officials")
def cli() -> None:
    """Officials, their agencies and roles, and linked group chats."""


def _session():  # type: ignore[no-untyped-def]
    from storage.db import get_engine, session_scope
    from storage.migrate import upgrade

    engine = get_engine()
    upgrade(engine)
    return session_scope(engine)


@cli.command()
@click.argument("user_id")
@click.option("--agency", required=True, help="Canonical agency name, e.g. กรมสรรพากร.")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True)
@click.option("--name", "display_name", default="", help="Display name shown in task lists.")
@click.option("--channel", default="telegram", show_default=True)
def add(user_id: str, agency: str, role: str, display_name: str, channel: str) -> None:
    """Register (or update) an official by their Telegram user id."""
    from storage.officials import register_official

    with _session() as s:
        official = register_official(s, channel=channel, user_id=user_id, agency=agency, role=role, display_name=display_name)
        click.echo(f"{official.channel}:{official.user_id} {official.display_name or '-'} | {official.agency} | {official.role}")


@cli.command()
@click.argument("user_id")
@click.option("--channel", default="telegram", show_default=True)
def remove(user_id: str, channel: str) -> None:
    """Remove an official's access (their history stays)."""
    from storage.officials import remove_official

    with _session() as s:
        if not remove_official(s, channel, user_id):
            raise click.ClickException(f"no official {channel}:{user_id}")
    click.echo(f"removed {channel}:{user_id}")


@cli.command(name="list")
def list_() -> None:
    """List officials and linked groups."""
    with _session() as s:
        for o in s.scalars(select(Official).order_by(Official.agency, Official.user_id)):
            state = "" if o.active else " (removed)"
            click.echo(f"{o.channel}:{o.user_id} {o.display_name or '-'} | {o.agency} | {o.role}{state}")
        for g in s.scalars(select(GroupLink).order_by(GroupLink.chat_id)):
            project = f" project {g.project.code}" if g.project else ""
            click.echo(f"group {g.channel}:{g.chat_id} {g.title or ''} -> {g.agency or '-'}{project}")


@cli.command(name="link-group")
@click.argument("chat_id")
@click.option("--agency", help="Agency whose citizen requests and digests go to this group.")
@click.option("--project", "project_code", help="Sandbox project code (created when new).")
@click.option("--project-name", help="Name of a new project.")
@click.option("--title", default="")
@click.option("--channel", default="telegram", show_default=True)
def link_group_command(chat_id: str, agency: str | None, project_code: str | None, project_name: str | None, title: str, channel: str) -> None:
    """Link a group chat to an agency and/or a sandbox project."""
    from storage.officials import link_group

    if not agency and not project_code:
        raise click.UsageError("give --agency or --project")
    with _session() as s:
        link = link_group(s, channel=channel, chat_id=chat_id, agency=agency, project_code=project_code, project_name=project_name, title=title)
        click.echo(f"group {link.channel}:{link.chat_id} -> {link.agency or '-'}{' project ' + project_code if project_code else ''}")

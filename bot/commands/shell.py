"""`bot shell`: chat with the running assistant from the terminal, through the gateway.

Messages take the same path as LINE and Telegram messages (stored event -> worker
-> Rasa -> rendered replies). Choose who speaks with --channel/--chat/--user, and
switch speaker inside the session with `/as USER [NAME]`, so that group and
multi-user flows can be tried without accounts. Lines from a pipe are sent one by
one (for scripts).
"""

from __future__ import annotations

import sys
import uuid

import click
import httpx

from connectors.replies import as_plain_text

HELP = "พิมพ์ข้อความเพื่อคุย | /as USER [ชื่อ] เปลี่ยนผู้พูด | /quit ออก"


def _print_replies(replies: list[dict]) -> None:
    for reply in replies:
        text = as_plain_text(reply)
        if text:
            click.echo(click.style("บอท: ", fg="green") + text)
        buttons = reply.get("buttons") or []
        for card in (reply.get("custom") or {}).get("cards", []):
            buttons = buttons + card.get("buttons", [])
        if buttons:
            click.echo("      " + "  ".join(f"[{b['title']} → {b['payload']}]" for b in buttons))


@click.command(name="shell")
@click.option("--url", default=None, help="Gateway base URL (default http://GATEWAY_HOST:GATEWAY_PORT).")
@click.option("--channel", type=click.Choice(["web", "line", "telegram"]), default="line", show_default=True,
              help="Speak as this channel (line = a citizen, telegram = an official).")
@click.option("--chat", "chat_id", default=None, help="Chat id (a group id for group chats); default: the user id.")
@click.option("--chat-type", type=click.Choice(["private", "group", "supergroup", "room"]), default="private", show_default=True)
@click.option("--user", "user_id", default=None, help="Who speaks (default: a new id per session).")
@click.option("--name", "display_name", default="", help="Display name of the speaker.")
def cli(url: str | None, channel: str, chat_id: str | None, chat_type: str, user_id: str | None, display_name: str) -> None:
    """Chat with the assistant in the terminal (the gateway must be running: `make run`)."""
    from bot.settings import get_settings

    settings = get_settings()
    base = (url or f"http://{settings.gateway_host}:{settings.gateway_port}").rstrip("/")
    user = user_id or f"shell-{uuid.uuid4().hex[:8]}"
    chat = chat_id or user
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo(f"คุยในนาม {user} ({channel}, แชต {chat}, {chat_type}) ผ่าน {base}")
        click.echo(HELP)
    last_id = 0
    with httpx.Client(timeout=60) as client:
        while True:
            try:
                line = input("คุณ: " if interactive else "")
            except (EOFError, KeyboardInterrupt):
                break
            line = line.strip()
            if not line:
                continue
            if line in ("/quit", "/exit"):
                break
            if line.startswith("/as "):
                parts = line.split(maxsplit=2)
                user = parts[1]
                display_name = parts[2] if len(parts) > 2 else ""
                if chat_type == "private":
                    chat = user
                click.echo(f"(ตอนนี้พูดในนาม {user} {display_name})")
                continue
            if not interactive:
                click.echo(f"คุณ ({user}): {line}")
            try:
                response = client.post(f"{base}/api/chat/messages", json={
                    "chat_id": chat, "user_id": user, "channel": channel, "chat_type": chat_type,
                    "display_name": display_name, "text": line,
                })
            except httpx.HTTPError:
                raise click.ClickException(f"cannot reach the gateway at {base}: is `make run` running?") from None
            if response.status_code >= 400:
                click.echo(f"(ข้อผิดพลาด {response.status_code}: {response.json().get('error', '')})")
                continue
            body = response.json()
            _print_replies(body.get("replies", []))
            for note in body.get("notes", []) + ([body["note"]] if body.get("note") else []):
                click.echo(f"({note})")
            last_id = max(last_id, body.get("last_id", 0))
            later = client.get(f"{base}/api/chat/messages", params={"chat_id": chat, "after": last_id}).json().get("messages", [])
            if later:  # proactive messages (reminders, status notices) that arrived meanwhile
                _print_replies(later)
                last_id = max(m["id"] for m in later)
    if interactive:
        click.echo("ลาก่อนครับ")

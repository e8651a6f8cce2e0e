"""`bot shell`: chat with the running assistant from the terminal, through the gateway.

Messages take the same path as LINE and Telegram messages (stored event -> worker
-> Rasa -> rendered replies). Choose who speaks with --channel/--chat/--user, and
switch speaker inside the session with `/as USER [NAME]`, so that group and
multi-user flows can be tried without accounts. Buttons are numbered: `#2` presses
the second button of the last answer (its payload goes to the assistant, as a tap
on LINE or Telegram would). Lines from a pipe are sent one by one (for scripts),
each echoed with its speaker, and the exit status is 1 if the gateway could not
be reached or refused a line.
"""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import sys
import time
import uuid
from typing import Any

import click
import httpx

from connectors.webchat import DEV_HEADER, dev_token

from connectors.replies import as_plain_text

HELP = "พิมพ์ข้อความเพื่อคุย | #N กดปุ่มที่ N | /as USER [ชื่อ] เปลี่ยนผู้พูด | /quit ออก"
PENDING_WAIT = 60.0


def _print_replies(replies: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Print replies as readable text; returns their buttons in the numbered order shown."""
    numbered: list[dict[str, str]] = []
    for reply in replies:
        text = as_plain_text(reply)
        if text:
            click.echo(click.style("บอท: ", fg="green") + text)
        custom = reply.get("custom") or {}
        if custom.get("type") == "location_request":
            click.echo("      (ส่งตำแหน่ง: พิมพ์ /loc ละติจูด,ลองจิจูด [ที่อยู่])")
        buttons = list(reply.get("buttons") or [])
        for card in custom.get("cards", []) if custom.get("type") == "cards" else []:
            buttons += card.get("buttons", [])
        if buttons:
            start = len(numbered) + 1
            click.echo("      " + "  ".join(f"[{start + i}] {b['title']} ({b['payload']})" for i, b in enumerate(buttons)))
            numbered += buttons
    return numbered


def _parse_location(arg: str) -> dict[str, Any] | None:
    coords, _, address = arg.strip().partition(" ")
    try:
        lat, lon = (float(x) for x in coords.split(","))
    except ValueError:
        return None
    return {"latitude": lat, "longitude": lon, "address": address.strip(), "title": ""}


@click.command(name="shell")
@click.option("--url", default=None, help="Gateway base URL (default http://GATEWAY_HOST:GATEWAY_PORT).")
@click.option("--channel", type=click.Choice(["line", "telegram", "web"]), default="line", show_default=True,
              help="Speak as this channel (line = a citizen, telegram = an official).")
@click.option("--chat", "chat_id", default=None, help="Chat id (a group id for group chats); default: the user id.")
@click.option("--chat-type", type=click.Choice(["private", "group", "supergroup", "room"]), default="private", show_default=True)
@click.option("--user", "user_id", default=None, help="Who speaks (default: a new id per session).")
@click.option("--name", "display_name", default="", help="Display name of the speaker.")
def cli(url: str | None, channel: str, chat_id: str | None, chat_type: str, user_id: str | None, display_name: str) -> None:
    """Chat with the assistant in the terminal (the gateway must be running: `make run`)."""
    from common.settings import get_settings

    settings = get_settings()
    base = (url or f"http://{settings.gateway_host}:{settings.gateway_port}").rstrip("/")
    user = user_id or f"shell-{uuid.uuid4().hex[:8]}"
    chat = chat_id or user
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo(f"คุยในนาม {user} ({channel}, แชต {chat}, {chat_type}) ผ่าน {base}")
        click.echo(HELP)
    last_id = 0
    buttons: list[dict[str, str]] = []
    failed = False
    # The local developer token lets the shell speak as any channel, chat and user
    # (connectors/webchat.py); it is derived from the installation secret under var/.
    headers = {DEV_HEADER: dev_token(settings.var_dir)}
    with httpx.Client(timeout=60, headers=headers, trust_env=False) as client:

        def fetch_later(wait: float = 0.0) -> None:
            """Print what arrived after the last answer (proactive messages, a late answer)."""
            nonlocal last_id, buttons
            deadline = time.monotonic() + wait
            while True:
                later = client.get(f"{base}/api/chat/messages", params={"chat_id": chat, "after": last_id}).json().get("messages", [])
                if later:
                    buttons = _print_replies(later) or buttons
                    last_id = max(m["id"] for m in later)
                    return
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.5)

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
                click.echo(f"(ตอนนี้พูดในนาม {user}{' ' + display_name if display_name else ''})")
                continue
            body: dict[str, Any] = {"chat_id": chat, "user_id": user, "channel": channel, "chat_type": chat_type,
                                    "display_name": display_name, "text": line}
            if line.startswith("#") and line[1:].isdigit():
                index = int(line[1:]) - 1
                if not 0 <= index < len(buttons):
                    click.echo("(ไม่มีปุ่มหมายเลขนี้)")
                    continue
                body["text"] = buttons[index]["payload"]
                line = f"[{buttons[index]['title']}]"
            elif line.startswith("/loc "):
                location = _parse_location(line[5:])
                if location is None:
                    click.echo("(รูปแบบ: /loc 13.7563,100.5018 ที่อยู่)")
                    continue
                body["location"] = location
                body["text"] = location["address"] or "ตำแหน่งที่ตั้ง"
            if not interactive:
                click.echo(f"คุณ ({user}): {line}")
            try:
                response = client.post(f"{base}/api/chat/messages", json=body)
            except httpx.HTTPError:
                raise click.ClickException(f"cannot reach the gateway at {base}: is `bot gateway` (or `make run`) running?") from None
            if response.status_code >= 400:
                failed = True
                try:
                    error = response.json().get("error", "")
                except ValueError:
                    error = response.text[:200]
                click.echo(f"(ข้อผิดพลาด {response.status_code}: {error})")
                continue
            answer = response.json()
            shown = _print_replies(answer.get("replies", []))
            buttons = shown or buttons
            for note in answer.get("notes", []) + ([answer["note"]] if answer.get("note") else []):
                click.echo(f"({note})")
            last_id = max(last_id, answer.get("last_id", 0))
            fetch_later(PENDING_WAIT if answer.get("pending") else 0.0)
    if interactive:
        click.echo("ลาก่อนครับ")
    if failed and not interactive:
        sys.exit(1)

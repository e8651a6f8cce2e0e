"""`bot when "TEXT" [--now ISO] [--json]`: read a Thai or English date/time expression."""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import json
import sys
from datetime import datetime

import click


@click.command(name="when")
@click.argument("text")
@click.option("--now", "now_text", help="Reference time (ISO-8601); default: the current time in Asia/Bangkok.")
@click.option("--json", "as_json", is_flag=True, help='Print {"datetime": ISO-8601, "has_time": bool, "needs_confirmation": bool, "reason": str (only when it needs confirmation)}.')
def cli(text: str, now_text: str | None, as_json: bool) -> None:
    """Read a date/time such as "พรุ่งนี้ 9 โมง" or "15 ธ.ค. 69"; exit 1 when the text holds none."""
    from common.thai_datetime import TZ, format_thai, parse_when

    now = None
    if now_text:
        try:
            now = datetime.fromisoformat(now_text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise click.BadParameter(f"not an ISO-8601 date/time: {now_text}", param_hint="--now") from exc
        if now.tzinfo is None:
            now = now.replace(tzinfo=TZ)
    result = parse_when(text, now)
    if result is None:
        click.echo("no date or time found in the text", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False))
        return
    line = format_thai(result.datetime, with_time=result.has_time)
    if result.needs_confirmation:
        line += f"  (ควรยืนยัน: {result.reason})"
    click.echo(line)

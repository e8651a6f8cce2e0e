"""`bot laws obstacles`: laws and services ranked by citizens' obstacle reports (attached to `bot laws`)."""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import json

import click


@click.command(name="obstacles")
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON list (docs/open-data.md).")
@click.option("--demo", is_flag=True, help="The demo reports (bot demo seed) instead of real ones.")
@click.option("--limit", default=0, type=click.IntRange(0, 10000), help="Only the top N (0: all).")
def obstacles(as_json: bool, demo: bool, limit: int) -> None:
    """Laws and steps citizens and officials reported as obstacles, most reported first (export for law review)."""
    from storage.db import get_engine, session_scope
    from storage.migrate import upgrade
    from storage.obstacles import ranking

    engine = get_engine()
    upgrade(engine)
    with session_scope(engine) as s:
        rows = [r.as_json() for r in ranking(s, demo=demo, limit=limit or None)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("ยังไม่มีรายงานอุปสรรค")
        return
    for i, row in enumerate(rows, start=1):
        what = "กฎหมาย" if row["kind"] == "law" else "บริการ"
        click.echo(f"{i}. [{what}] {row['title']} — {row['reports']} รายงาน")
        if row["services_affected"]:
            click.echo(f"     บริการที่ได้รับผลกระทบ: {', '.join(row['services_affected'])}")
        for quote in row["sample_quotes"]:
            click.echo(f"     “{quote[:160]}”")

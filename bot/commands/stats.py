"""`bot stats`: public per-agency statistics (the same suppressed figures as /stats and the open data)."""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import json
from datetime import date

import click


def _fmt(value: object, unit: str = "") -> str:
    return "-" if value is None else f"{value}{unit}"


@click.command(name="stats")
@click.option("--agency", default=None, help="Only this agency (its canonical name).")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Requests received from the Monday of this date's week (YYYY-MM-DD).")
@click.option("--demo", "dataset", flag_value="demo", default=None, help="The demo data set (bot demo seed).")
@click.option("--real", "dataset", flag_value="real", help="Only real requests (the default once any exist).")
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON (docs/open-data.md).")
def cli(agency: str | None, since: object, dataset: str | None, as_json: bool) -> None:
    """Received, open, resolved, response and closing times, reopened, ratings per agency and service."""
    from storage.db import get_engine, session_scope
    from storage.migrate import upgrade
    from storage.stats import published

    engine = get_engine()
    upgrade(engine)
    start: date | None = since.date() if since is not None else None  # type: ignore[attr-defined]
    with session_scope(engine) as s:
        pub = published(s, dataset=dataset, since=start)
    if as_json:
        click.echo(json.dumps(pub.as_json(agency), ensure_ascii=False, indent=2))
        return
    rows = [a for a in pub.agencies if agency is None or a.agency == agency]
    click.echo(f"data set: {pub.dataset}  since: {pub.since or 'all'}  (cells under 5 requests merged or withheld)")
    if not rows:
        click.echo("no published figures" + (f" for {agency}" if agency else ""))
        return
    header = f"{'agency / service':48} {'recv':>5} {'open':>5} {'done':>5} {'done%':>6} {'1st h':>6} {'close h':>7} {'reop':>4} {'rating':>9} {'oldest d':>8}"
    click.echo(header)
    for a in rows:
        for name, f in [(a.agency, a.figures)] + [(f"  {s.service}", s.figures) for s in a.services]:
            rating = f"{_fmt(f.rating_avg)} ({f.ratings})"
            click.echo(f"{name[:48]:48} {f.received:>5} {f.open:>5} {f.resolved:>5} {_fmt(f.resolved_pct):>6} "
                       f"{_fmt(f.median_first_response_hours):>6} {_fmt(f.median_close_hours):>7} {f.reopened:>4} {rating:>9} "
                       f"{_fmt(f.oldest_open_days):>8}")
        if a.forwarded is not None:
            click.echo(f"  (ส่งต่อให้หน่วยงานอื่น {a.forwarded} เรื่อง)")

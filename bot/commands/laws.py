"""`bot laws import|seed|search`: the law catalog."""

from __future__ import annotations

import json

import click


def _engine():  # type: ignore[no-untyped-def]
    from storage.db import get_engine
    from storage.migrate import upgrade

    engine = get_engine()
    upgrade(engine)
    return engine


@click.group(name="laws")
def cli() -> None:
    """Thai law catalog and search."""


@cli.command(name="import")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--workers", default=2, show_default=True, help="Processes that tokenise section text.")
def import_(path: str, workers: int) -> None:
    """Import a corpus in the format of ../shared/data/thai-law (idempotent)."""
    from storage.db import session_scope
    from storage.laws.importer import import_corpus
    from storage.laws.seed import load_seed

    engine = _engine()
    with session_scope(engine) as s:
        load_seed(s)
    report = import_corpus(engine, path, workers=workers)
    click.echo(f"imported {report.laws} laws ({report.created} new, {report.updated} updated), "
               f"{report.sections} sections in {report.seconds:.1f} s")
    for line in report.skipped:
        click.echo(f"  skipped: {line}", err=True)


@cli.command()
def seed() -> None:
    """Load or refresh the built-in curated catalog."""
    from storage.db import session_scope
    from storage.laws.seed import load_seed

    with session_scope(_engine()) as s:
        count = load_seed(s)
    click.echo(f"{count} curated laws loaded")


@cli.command()
@click.argument("query")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {sysid, title, score, ...}.")
def search(query: str, limit: int, as_json: bool) -> None:
    """Ranked laws for a name, topic or everyday situation."""
    from storage.db import session_scope
    from storage.laws.search import search_laws

    with session_scope(_engine()) as s:
        hits = search_laws(s, query, limit=limit)
        rows = [h.as_json() for h in hits]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("ไม่พบกฎหมายที่ตรงกับคำค้น")
        return
    for i, row in enumerate(rows, start=1):
        sysid = f" [sysid {row['sysid']}]" if row["sysid"] else ""
        click.echo(f"{i}. {row['title']}{sysid}  (score {row['score']:.2f})")
        for section in row["sections"]:
            click.echo(f"     มาตรา {section['number']}: {section['snippet'][:120]}")


# `bot laws obstacles` (issue #24, open government) lives in its own module.
from bot.commands.obstacles import obstacles as _obstacles  # noqa: E402

cli.add_command(_obstacles)

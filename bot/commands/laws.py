"""`bot laws import|seed|search`: the law catalog."""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

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
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=True, file_okay=True))
@click.option("--workers", default=2, show_default=True, help="Processes that tokenise section text.")
def import_(path: str | None, workers: int) -> None:
    """Import a corpus folder (format of ../shared/data/thai-law) or its .tar.xz archive (idempotent).

    Without PATH, the corpus that ships with the product (storage/seed/thai-law.tar.xz).
    """
    from storage.laws.corpus import CORPUS_DATE, SHIPPED_ARCHIVE, import_path

    shipped = path is None or click.format_filename(path) == str(SHIPPED_ARCHIVE)
    report = import_path(_engine(), path or SHIPPED_ARCHIVE, workers=workers,
                         corpus_date=CORPUS_DATE if shipped else None)
    click.echo(f"imported {report.laws} laws ({report.created} new, {report.updated} updated), "
               f"{report.sections} sections in {report.seconds:.1f} s")
    for line in report.skipped:
        click.echo(f"  skipped: {line}", err=True)


@cli.command()
def status() -> None:
    """Laws, sections and the corpus archives imported into this database."""
    from sqlalchemy import func, select

    from storage.db import session_scope
    from storage.models.laws import Law, LawCorpusImport, LawSection

    with session_scope(_engine()) as s:
        laws = s.scalar(select(func.count()).select_from(Law))
        sections = s.scalar(select(func.count()).select_from(LawSection))
        imports = list(s.scalars(select(LawCorpusImport).order_by(LawCorpusImport.id)))
        click.echo(f"{laws} laws, {sections} sections")
        for row in imports:
            click.echo(f"  {row.imported_at:%Y-%m-%d %H:%M} {row.source} sha256 {row.checksum[:12]} "
                       f"corpus date {row.corpus_date or '-'}: {row.laws} laws, {row.sections} sections, {row.seconds:.0f} s")


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

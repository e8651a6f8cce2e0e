"""The law corpus that ships with the product, and importing it once.

`storage/seed/thai-law.tar.xz` holds the public-domain corpus of the Office of the
Council of State (671 acts as of 2021-06-20: `law_url_df.csv`, `groups.json`,
`texts/<sysid>.txt`). `ensure_corpus` imports it when the database has not yet
imported an archive with the same sha256 (recorded in `law_corpus_imports`), so
`bot run` loads it on a fresh database and skips it on every later start;
`import_path` accepts either such an archive or an unpacked folder.
"""

from __future__ import annotations

import hashlib
import logging
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, select

from storage.db import session_scope
from storage.laws.importer import ImportReport, import_corpus
from storage.laws.seed import SEED_DIR, load_seed
from storage.models.laws import LawCorpusImport

log = logging.getLogger(__name__)

SHIPPED_ARCHIVE = SEED_DIR / "thai-law.tar.xz"
# The date the shipped texts were collected (PyThaiNLP thai-law, commit 917f291).
CORPUS_DATE = date(2021, 6, 20)
_MAX_MEMBER_BYTES = 20_000_000


@dataclass
class CorpusStatus:
    imported: bool  # False: this archive was already in the database
    checksum: str
    report: ImportReport | None = None


def checksum(path: str | Path) -> str:
    """sha256 of an archive, or of a folder's law_url_df.csv, groups.json and texts (names and bytes)."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    files = [path / "law_url_df.csv", path / "groups.json", *sorted((path / "texts").glob("*.txt"))]
    for file in files:
        if file.is_file():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _corpus_root(folder: Path) -> Path:
    """The folder that holds law_url_df.csv (the archive may wrap it in one top folder)."""
    if (folder / "law_url_df.csv").is_file():
        return folder
    for candidate in sorted(folder.iterdir()):
        if candidate.is_dir() and (candidate / "law_url_df.csv").is_file():
            return candidate
    raise FileNotFoundError("the archive holds no law_url_df.csv")


@contextmanager
def unpacked(path: str | Path) -> Iterator[Path]:
    """A corpus folder for `path`: the folder itself, or an archive unpacked into a temporary folder."""
    path = Path(path)
    if path.is_dir():
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="thai-law-") as tmp, tarfile.open(path) as archive:
        members = []
        for member in archive.getmembers():
            name = Path(member.name)
            if not member.isfile() or name.is_absolute() or ".." in name.parts or member.size > _MAX_MEMBER_BYTES:
                continue  # only plain files inside the archive: no links, devices or path tricks
            if name.name in ("law_url_df.csv", "groups.json") or (name.parent.name == "texts" and name.suffix == ".txt"):
                members.append(member)
        archive.extractall(tmp, members=members, filter="data")
        yield _corpus_root(Path(tmp))


def import_path(engine: Engine, path: str | Path, *, workers: int = 2, source: str | None = None,
                corpus_date: date | None = None) -> ImportReport:
    """Import a corpus archive or folder (curated catalog first) and record its checksum."""
    digest = checksum(path)
    with session_scope(engine) as s:
        load_seed(s)
    with unpacked(path) as folder:
        report = import_corpus(engine, folder, workers=workers)
    with session_scope(engine) as s:
        s.add(LawCorpusImport(checksum=digest, source=source or str(path), corpus_date=corpus_date, laws=report.laws,
                              sections=report.sections, seconds=round(report.seconds, 2)))
    return report


def imported_checksums(engine: Engine) -> set[str]:
    with session_scope(engine) as s:
        return set(s.scalars(select(LawCorpusImport.checksum)))


def latest_import(engine: Engine) -> LawCorpusImport | None:
    with session_scope(engine) as s:
        row = s.scalar(select(LawCorpusImport).order_by(LawCorpusImport.id.desc()).limit(1))
        if row is not None:
            s.expunge(row)
        return row


def ensure_corpus(engine: Engine, archive: str | Path = SHIPPED_ARCHIVE, *, workers: int = 2,
                  echo: Callable[[str], object] | None = None) -> CorpusStatus:
    """Import the shipped corpus unless this archive (same sha256) is already in the database."""
    archive = Path(archive)
    if not archive.is_file():
        log.warning("law corpus archive %s is missing; laws will have no section text", archive)
        return CorpusStatus(False, "")
    digest = checksum(archive)
    if digest in imported_checksums(engine):
        return CorpusStatus(False, digest)
    if echo:
        echo(f"importing the law corpus ({archive.name}, first start only; takes a few minutes) ...")
    report = import_path(engine, archive, workers=workers, source=archive.name, corpus_date=CORPUS_DATE)
    if echo:
        echo(f"  laws: {report.laws} laws, {report.sections} sections in {report.seconds:.0f} s")
    return CorpusStatus(True, digest, report)


def corpus_date(session) -> date | None:  # type: ignore[no-untyped-def]
    """The date of the newest imported corpus (for "ข้อมูล ณ วันที่ ..."), None when none was imported."""
    return session.scalar(select(LawCorpusImport.corpus_date).order_by(LawCorpusImport.id.desc()).limit(1))


def ensure_corpus_at_startup(engine: Engine, echo: Callable[[str], object] = print) -> CorpusStatus | None:
    """`ensure_corpus` for `bot run`: a failed import is reported and the assistant starts with the curated catalog."""
    try:
        return ensure_corpus(engine, echo=echo)
    except Exception as exc:  # noqa: BLE001 (start-up must not die on a corrupt archive or a full disk)
        log.exception("law corpus import failed")
        echo(f"  laws: the corpus import failed ({exc.__class__.__name__}: {exc}); starting with the curated catalog only. "
             "Retry with `bot laws import`.")
        return None

"""Import a law corpus in the format of ../shared/data/thai-law.

`law_url_df.csv` has one row per (law, subject group); rows are merged into one law
per `sysid`. `texts/<sysid>.txt` is cleaned (blank lines, non-breaking spaces,
footnote markers such as [๑]) and split into sections (มาตรา ๑, มาตรา ๒/๑, มาตรา ๔ ทวิ)
whose numbers are stored in Arabic digits; the original wording is kept for display.
Bad rows and missing or unreadable texts are reported and skipped. Everything is
written in one transaction, so an import never half-commits; re-running it updates
laws in place (matched by sysid, then by normalised title: seed laws are enriched).
"""

from __future__ import annotations

import csv
import re
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, delete, select

from storage.db import session_scope
from storage.laws.text import UPDATE_MARK, bulk_terms, clean_title, joined_terms, title_key
from storage.models.laws import Law, LawSection

_FOOTNOTE = re.compile(r"\[[๐-๙0-9]{1,3}\]")
_SECTION = re.compile(r"^[ \t]*มาตรา[ \t]+([๐-๙0-9]+(?:/[๐-๙0-9]+)?(?:[ \t]*(?:ทวิ|ตรี|จัตวา|เบญจ|ฉ|สัตต|อัฏฐ|นว|ทศ))?)(?=[ \t\[]|$)", re.MULTILINE)
_YEAR = re.compile(r"(?:พ\.ศ\.|พุทธศักราช)\s*([0-9๐-๙]{4})")
_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_THAI = re.compile(r"[\u0e01-\u0e4e]")
MAX_SECTION_CHARS = 20000


@dataclass
class ImportReport:
    laws: int = 0
    created: int = 0
    updated: int = 0
    sections: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def clean_text(raw: str) -> str:
    text = raw.replace("\u00a0", " ").replace("\r\n", "\n").replace("\u200b", "")
    text = _FOOTNOTE.sub("", text)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def split_sections(text: str) -> list[tuple[str, str]]:
    """[(number in Arabic digits, section text)] in order; text before the first section is dropped."""
    matches = list(_SECTION.finditer(text))
    sections = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        number = " ".join(m.group(1).translate(_DIGITS).split())
        body = text[m.start() : end].strip()[:MAX_SECTION_CHARS]
        sections.append((number, body))
    return sections


def year_of(title: str) -> int | None:
    m = _YEAR.search(title)
    return int(m.group(1).translate(_DIGITS)) if m else None


@dataclass
class _Row:
    sysid: str
    title: str
    law_type: str
    url: str
    groups: list[str]
    consolidated: bool = False  # the title carried "(ฉบับ Update ล่าสุด)": the text with every amendment


def read_index(path: Path, report: ImportReport) -> dict[str, _Row]:
    rows: dict[str, _Row] = {}
    with (path / "law_url_df.csv").open(encoding="utf-8", newline="") as f:
        for line_no, row in enumerate(csv.DictReader(f), start=2):
            sysid = (row.get("sysid") or "").strip()
            title = clean_title(row.get("title") or "")
            if not sysid.isdigit() or not title or not _THAI.search(title):
                report.skipped.append(f"line {line_no}: bad row (sysid={sysid!r})")
                continue
            consolidated = bool(UPDATE_MARK.search(row.get("title") or ""))
            entry = rows.setdefault(sysid, _Row(sysid, title, (row.get("law_type") or "").strip(), (row.get("law_url") or "").strip(), [],
                                                consolidated))
            group = (row.get("law_group") or "").strip()
            if group and group not in entry.groups:
                entry.groups.append(group)
    return _one_text_per_law(rows, report)


def _one_text_per_law(rows: dict[str, _Row], report: ImportReport) -> dict[str, _Row]:
    """The corpus lists some acts twice: as enacted and consolidated ("ฉบับ Update ล่าสุด"), under
    different sysids but the same title. Both would land on one catalog row (matched by title), the
    last one read winning; keep the consolidated text (else the newest sysid) and merge the groups."""
    by_key: dict[str, list[_Row]] = {}
    for row in rows.values():
        by_key.setdefault(title_key(row.title), []).append(row)
    kept: dict[str, _Row] = {}
    for same in by_key.values():
        best = max(same, key=lambda r: (r.consolidated, int(r.sysid)))
        for other in same:
            if other is not best:
                best.groups.extend(g for g in other.groups if g not in best.groups)
                report.skipped.append(f"{other.sysid}: same law as {best.sysid} ({best.title}); the consolidated text is kept")
        kept[best.sysid] = best
    return {sysid: row for sysid, row in rows.items() if sysid in kept}


def _prepare(args: tuple[str, str]) -> tuple[str, list[tuple[str, str, str]] | None]:
    """(sysid, [(number, text, terms)]) for one text file; None when unreadable."""
    sysid, file_path = args
    try:
        raw = Path(file_path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return sysid, None
    if "not found" in raw[:2000].lower() and len(raw) < 5000:
        return sysid, None
    sections = split_sections(clean_text(raw))
    return sysid, [(number, body, bulk_terms(body)) for number, body in sections]


def import_corpus(engine: Engine, path: str | Path, *, workers: int = 2, limit: int | None = None) -> ImportReport:
    started = time.monotonic()
    path = Path(path)
    report = ImportReport()
    if not (path / "law_url_df.csv").is_file():
        raise FileNotFoundError(f"{path} has no law_url_df.csv")
    rows = read_index(path, report)
    if limit:
        rows = dict(list(rows.items())[:limit])
    jobs = []
    for sysid in rows:
        text_file = path / "texts" / f"{sysid}.txt"
        if text_file.is_file():
            jobs.append((sysid, str(text_file)))
        else:
            report.skipped.append(f"{sysid}: text file missing (law kept without sections)")
    prepared: dict[str, list[tuple[str, str, str]] | None] = {}
    if workers > 1 and len(jobs) > 4:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for sysid, sections in pool.map(_prepare, jobs, chunksize=4):
                prepared[sysid] = sections
    else:
        for job in jobs:
            sysid, sections = _prepare(job)
            prepared[sysid] = sections
    with session_scope(engine) as s:
        by_sysid = {law.sysid: law for law in s.scalars(select(Law).where(Law.sysid.is_not(None)))}
        by_key = {law.title_key: law for law in s.scalars(select(Law))}
        for sysid, row in rows.items():
            key = title_key(row.title)
            law = by_sysid.get(sysid) or by_key.get(key)
            if law is None:
                law = Law(sysid=sysid, title=row.title, title_key=key, aliases=[], keywords=[], groups=[], agency="", summary="", url="")
                s.add(law)
                report.created += 1
            else:
                report.updated += 1
            law.sysid = sysid
            law.from_corpus = True
            law.title = row.title if not law.from_seed else law.title
            law.title_key = key if not law.from_seed else law.title_key
            law.law_type = law.law_type or row.law_type
            law.year_be = law.year_be or year_of(row.title)
            law.groups = sorted(set(law.groups or []) | set(row.groups))
            law.url = law.url or row.url
            law.title_terms = joined_terms(law.title)
            law.keyword_terms = joined_terms(" ".join((law.keywords or []) + law.groups))
            s.flush()
            by_key[law.title_key] = law
            sections = prepared.get(sysid)
            if sysid in prepared and sections is None:
                report.skipped.append(f"{sysid}: text unreadable (law kept without sections)")
            if sections is not None:
                s.execute(delete(LawSection).where(LawSection.law_id == law.id))
                s.add_all(LawSection(law_id=law.id, position=i, number=num, text=body, terms=terms) for i, (num, body, terms) in enumerate(sections))
                report.sections += len(sections)
            report.laws += 1
    report.seconds = time.monotonic() - started
    return report

"""Law search benchmark: quality on our query set, latency, import time, database size.

Imports the full corpus (../shared/data/thai-law) into a fresh SQLite database, then
runs benchmarks/law_queries.yml through our search and through a plain baseline
(SQL LIKE on titles) and prints recall@1, recall@5 and MRR, overall and per kind,
the section hit rate ("<law> มาตรา N" shows that section of that law), how often
"no law fits" is right (questions labelled `kind: none` get no result, the others
keep theirs), the relevance-floor calibration grid, and p50/p95 latency over 1,000 queries.

Run: `.venv/bin/python -m benchmarks.laws [--corpus PATH|ARCHIVE] [--db PATH]`
(default corpus: the archive shipped in storage/seed/thai-law.tar.xz).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml
from sqlalchemy import select

from storage.db import make_engine, session_scope
from storage.laws import search as law_search
from storage.laws.corpus import SHIPPED_ARCHIVE, import_path
from storage.laws.search import search_laws
from storage.laws.sections import find_section
from storage.laws.seed import load_seed
from storage.laws.text import terms
from storage.migrate import upgrade
from storage.models.laws import Law

ROOT = Path(__file__).resolve().parent.parent
QUERIES = Path(__file__).with_name("law_queries.yml")
DEFAULT_CORPUS = SHIPPED_ARCHIVE


def like_baseline(session, query: str, limit: int = 5) -> list[str]:  # type: ignore[no-untyped-def]
    """Titles containing any query word (LIKE), most matching words first."""
    words = [w for w in terms(query, drop_stopwords=True) if len(w) > 1][:8]
    scores: dict[str, int] = defaultdict(int)
    for word in words:
        for title in session.scalars(select(Law.title).where(Law.title.like(f"%{word}%"))):
            scores[title] += 1
    return [t for t, _ in sorted(scores.items(), key=lambda kv: -kv[1])[:limit]]


def rank_of(titles: list[str], expected: list[str]) -> int | None:
    for i, title in enumerate(titles, start=1):
        if any(e in title for e in expected):
            return i
    return None


def report(name: str, ranks: dict[str, list[int | None]]) -> None:
    print(f"-- {name}")
    everything = [r for rs in ranks.values() for r in rs]
    for kind, rs in [*sorted(ranks.items()), ("all", everything)]:
        r1 = sum(1 for r in rs if r == 1) / len(rs)
        r5 = sum(1 for r in rs if r is not None and r <= 5) / len(rs)
        mrr = sum(1 / r for r in rs if r) / len(rs)
        print(f"   {kind:<10} n={len(rs):<3} recall@1 {r1:.3f}  recall@5 {r5:.3f}  MRR {mrr:.3f}")


def floor_outcome(raw: list[tuple[dict, list]], min_score: float, sure_score: float, dialect: str = "sqlite") -> tuple[int, int, int, int, list[str]]:
    """(none right, none total, answerable kept, answerable total, wrong ones) for one floor setting."""
    none_right = none_total = kept = total = 0
    wrong: list[str] = []
    saved = law_search.FLOORS[dialect]
    law_search.FLOORS[dialect] = (min_score, sure_score)
    try:
        for q, hits in raw:
            shown = [h for h in hits if hits and law_search.relevant(h, hits[0].relevance, dialect)]
            if q["kind"] == "none":
                none_total += 1
                none_right += not shown
                if shown:
                    wrong.append(f"{q['q']!r} (no law fits) got {shown[0].title!r}")
            else:
                total += 1
                good = bool(shown) and any(e in h.title for h in shown[:5] for e in q["expected"])
                kept += good
                if not good:
                    wrong.append(f"{q['q']!r} lost its law" + (f" (top {shown[0].title!r})" if shown else " (nothing shown)"))
    finally:
        law_search.FLOORS[dialect] = saved
    return none_right, none_total, kept, total, wrong


def print_floor(raw: list[tuple[dict, list]], dialect: str) -> None:
    min_score, sure_score = law_search.FLOORS[dialect]
    none_right, none_total, kept, total, wrong = floor_outcome(raw, min_score, sure_score, dialect)
    print(f"== relevance floor on {dialect} (score >= {sure_score}, or >= {min_score} with coverage >= "
          f"{law_search.MIN_COVERAGE}; >= {law_search.RELATIVE_FLOOR} x best; named laws always shown)")
    print(f"   'no law fits' right on {none_right}/{none_total} questions no law answers ({none_right / max(1, none_total):.3f}); "
          f"answerable questions keeping a right law in the top 5: {kept}/{total} ({kept / max(1, total):.3f}); "
          f"decision accuracy {(none_right + kept) / max(1, none_total + total):.3f}")
    for line in wrong:
        print(f"     {line}")
    # candidate floors: quantiles of the best unnamed score of every labelled question (bm25 and ts_rank differ in scale)
    tops = sorted(next((h.relevance for h in hits if not h.named), 0.0) for _, hits in raw)
    grid = sorted({round(tops[int(len(tops) * f)], 2) for f in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)})
    print("   calibration grid (decision accuracy; rows: sure score, columns: min score with coverage)")
    print("           " + "".join(f"{x:>8.2f}" for x in grid))
    for sure in [*grid, 1e9]:
        row = []
        for low in grid:
            nr, nt, k, t, _ = floor_outcome(raw, low, max(low, sure), dialect)
            row.append((nr + k) / max(1, nt + t))
        label = "never" if sure == 1e9 else f"{sure:.2f}"
        print(f"   {label:>7} " + "".join(f"{x:>8.3f}" for x in row))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--db", default=None, help="reuse this SQLite file or database URL (import skipped when it holds laws)")
    parser.add_argument("--latency-queries", type=int, default=1000)
    args = parser.parse_args()
    if args.db and "://" in args.db:  # a database URL (PostgreSQL): the same figures on that backend
        db_path = None
        engine = make_engine(args.db)
    else:
        db_path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="laws-bench-")) / "laws.db"
        engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    with session_scope(engine) as s:
        have = s.scalar(select(Law.id).where(Law.from_corpus.is_(True)).limit(1))
    print(f"== archive: {SHIPPED_ARCHIVE.name} {SHIPPED_ARCHIVE.stat().st_size / 1e6:.1f} MB")
    if have is None:
        with session_scope(engine) as s:
            load_seed(s)
        started = time.monotonic()
        result = import_path(engine, args.corpus)
        print(f"== import: {result.laws} laws, {result.sections} sections in {time.monotonic() - started:.1f} s; "
              f"skipped {len(result.skipped)}")
    if db_path is not None:
        print(f"== database size: {db_path.stat().st_size / 1e6:.1f} MB ({db_path})")
    else:
        print(f"== database: {engine.url.render_as_string(hide_password=True)}")
    queries = yaml.safe_load(QUERIES.read_text(encoding="utf-8"))
    answerable = [q for q in queries if q["kind"] not in ("none", "section")]
    ours: dict[str, list[int | None]] = defaultdict(list)
    base: dict[str, list[int | None]] = defaultdict(list)
    misses = []
    raw: list[tuple[dict, list]] = []  # (query, unfiltered hits) for the calibration grid
    with session_scope(engine) as s:
        search_laws(s, "ทดสอบการค้นหา")
        for q in answerable:
            titles = [h.title for h in search_laws(s, q["q"], limit=5)]
            rank = rank_of(titles, q["expected"])
            ours[q["kind"]].append(rank)
            base[q["kind"]].append(rank_of(like_baseline(s, q["q"]), q["expected"]))
            if rank != 1:
                misses.append((q["q"], rank, titles[:2]))
        for q in queries:
            if q["kind"] != "section":
                raw.append((q, search_laws(s, q["q"], limit=10, floor=False)))
        section_hits, section_misses = 0, []
        sections = [q for q in queries if q["kind"] == "section"]
        for q in sections:
            found = find_section(s, q["q"])
            ok = (found is not None and found.section is not None and found.section.number == q["section"]
                  and any(e in found.law_title for e in q["expected"]))
            section_hits += ok
            if not ok:
                section_misses.append((q["q"], found.law_title if found else None, found.section.number if found and found.section else None))
    print(f"== quality on {len(answerable)} answerable queries ({QUERIES.name}), with the relevance floor")
    report("smart search (FTS5 bm25 + expansion)", ours)
    report("baseline (SQL LIKE on titles)", base)
    if misses:
        print("   not first:")
        for q, rank, titles in misses:
            print(f"     {q!r}: rank {rank}; top {titles}")
    print(f"== sections: {section_hits}/{len(sections)} section queries show the right section of the right law "
          f"(hit rate {section_hits / max(1, len(sections)):.3f})")
    for q, title, number in section_misses:
        print(f"     {q!r}: got {title!r} section {number!r}")
    print_floor(raw, engine.dialect.name)
    timings = []
    with session_scope(engine) as s:
        for i in range(args.latency_queries):
            q = queries[i % len(queries)]["q"]
            started = time.perf_counter()
            search_laws(s, q, limit=5)
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    print(f"== latency over {len(timings)} queries: p50 {timings[len(timings) // 2]:.1f} ms, "
          f"p95 {timings[int(len(timings) * 0.95)]:.1f} ms, mean {statistics.mean(timings):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

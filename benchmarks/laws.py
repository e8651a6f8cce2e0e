"""Law search benchmark: quality on our query set, latency, import time, database size.

Imports the full corpus (../shared/data/thai-law) into a fresh SQLite database, then
runs benchmarks/law_queries.yml through our search and through a plain baseline
(SQL LIKE on titles) and prints recall@1, recall@5 and MRR, overall and per kind,
and p50/p95 latency over 1,000 queries.

Run: `.venv/bin/python -m benchmarks.laws [--corpus PATH] [--db PATH]`
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
from storage.laws.importer import import_corpus
from storage.laws.search import search_laws
from storage.laws.seed import load_seed
from storage.laws.text import terms
from storage.migrate import upgrade
from storage.models.laws import Law

ROOT = Path(__file__).resolve().parent.parent
QUERIES = Path(__file__).with_name("law_queries.yml")
DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "thai-law"


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--db", default=None, help="reuse this SQLite file (import skipped when it holds laws)")
    parser.add_argument("--latency-queries", type=int, default=1000)
    args = parser.parse_args()
    db_path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="laws-bench-")) / "laws.db"
    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    with session_scope(engine) as s:
        have = s.scalar(select(Law.id).where(Law.from_corpus.is_(True)).limit(1))
    if have is None:
        with session_scope(engine) as s:
            load_seed(s)
        started = time.monotonic()
        result = import_corpus(engine, args.corpus)
        print(f"== import: {result.laws} laws, {result.sections} sections in {time.monotonic() - started:.1f} s; "
              f"skipped {len(result.skipped)}")
    print(f"== database size: {db_path.stat().st_size / 1e6:.1f} MB ({db_path})")
    queries = yaml.safe_load(QUERIES.read_text(encoding="utf-8"))
    ours: dict[str, list[int | None]] = defaultdict(list)
    base: dict[str, list[int | None]] = defaultdict(list)
    misses = []
    with session_scope(engine) as s:
        search_laws(s, "ทดสอบการค้นหา")
        for q in queries:
            titles = [h.title for h in search_laws(s, q["q"], limit=5)]
            rank = rank_of(titles, q["expected"])
            ours[q["kind"]].append(rank)
            base[q["kind"]].append(rank_of(like_baseline(s, q["q"]), q["expected"]))
            if rank != 1:
                misses.append((q["q"], rank, titles[:2]))
    print(f"== quality on {len(queries)} queries ({QUERIES.name})")
    report("smart search (FTS5 bm25 + expansion)", ours)
    report("baseline (SQL LIKE on titles)", base)
    if misses:
        print("   not first:")
        for q, rank, titles in misses:
            print(f"     {q!r}: rank {rank}; top {titles}")
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

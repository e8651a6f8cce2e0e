"""Thai-aware ranked law search, done by the database's full-text engine.

The query is normalised (พ.ร.บ./พรบ. -> พระราชบัญญัติ, Thai digits, C.E. years as B.E.),
expanded (nicknames and aliases, typos matched against the alias vocabulary,
everyday situations mapped to legal topics), tokenised with PyThaiNLP and sent to
SQLite FTS5 (bm25, per-column weights) or PostgreSQL (ts_rank over weighted
tsvectors). Section hits add to their law's score and are returned as the law's
best sections.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from storage.laws.seed import english_topics, ensure_seeded, key_sections_for, situations
from storage.laws.text import clean_title, normalise, terms
from storage.models.laws import Law, LawSection

# Words so common in law text that they carry no signal for section search.
GENERIC = frozenset("พระราชบัญญัติ ประมวลกฎหมาย พระราชกำหนด มาตรา ความ ผู้ ให้ การ ตาม ใน ที่ ของ และ หรือ ซึ่ง ได้ เป็น ไม่ มี โดย".split())
_SECTION_QUERY = re.compile(r"มาตรา\s*([0-9]+(?:/[0-9]+)?)")
_LATIN = re.compile(r"[a-z]")

# The relevance floor, calibrated on benchmarks/law_queries.yml (questions with and without an
# answering law; `python -m benchmarks.laws` prints how often "no law fits" is right). A law is
# shown when the query names it, or when it covers enough of the query's concepts with a score
# above the floor; laws far below the best one are filler and are dropped too.
# Scores are the database's own: bm25 on SQLite, ts_rank on PostgreSQL, so each has its floors.
MIN_COVERAGE = 0.6  # share of the question's concepts the law must cover when its score is moderate
FLOORS: dict[str, tuple[float, float]] = {
    # dialect: (min score: below it a law is never shown unless named,
    #           sure score: at or above it the law is shown whatever the coverage (long situations))
    "sqlite": (15.0, 25.0),
    "postgresql": (0.23, 0.95),
}
RELATIVE_FLOOR = 0.3  # laws scoring below this share of the best shown law are filler
NAMED_BOOST = 2.0  # a name boost at least this strong (alias, title, close misspelling) means the query names the law


@dataclass
class SectionHit:
    number: str
    snippet: str


@dataclass
class LawHit:
    law_id: int
    sysid: str | None
    title: str
    law_type: str
    year_be: int | None
    aliases: list[str]
    summary: str
    url: str
    score: float
    sections: list[SectionHit] = field(default_factory=list)
    relevance: float = 0.0  # absolute combined score (score is relative to the best hit)
    coverage: float = 0.0  # share of the query's concepts this law's text covers
    named: bool = False  # the query names this law (title, alias or close misspelling)

    def as_json(self) -> dict[str, object]:
        return {
            "sysid": self.sysid, "title": self.title, "score": round(self.score, 4), "type": self.law_type,
            "year_be": self.year_be, "aliases": self.aliases, "summary": self.summary, "url": self.url,
            "sections": [{"number": s.number, "snippet": s.snippet} for s in self.sections],
            "law_id": self.law_id, "relevance": round(self.relevance, 3), "coverage": round(self.coverage, 3),
            "named": self.named,
        }


@dataclass(frozen=True)
class _Vocabulary:
    """Aliases and titles of every law, normalised without spaces, for exact and fuzzy hits."""

    names: tuple[tuple[str, int], ...]  # (normalised name, law id)
    words: tuple[str, ...]
    short: dict[str, frozenset[int]]  # short name (no law type, no year) -> law ids


_vocab_cache: dict[tuple[int, str], _Vocabulary] = {}


def _vocabulary(session: Session) -> _Vocabulary:
    marker = session.execute(text("SELECT count(*), max(updated_at) FROM laws")).one()
    key = (id(session.get_bind()), f"{marker[0]}:{marker[1]}")
    if key not in _vocab_cache:
        names: list[tuple[str, int]] = []
        words: set[str] = set()
        rows = session.execute(select(Law.id, Law.title, Law.aliases, Law.title_terms, Law.alias_terms))
        for law_id, title, aliases, title_terms, alias_terms in rows:
            for name in [clean_title(title), *(aliases or [])]:
                flat = normalise(name).replace(" ", "")
                if len(flat) >= 3:
                    names.append((flat, law_id))
            words.update(w for w in f"{title_terms} {alias_terms}".split() if len(w) >= 3)
        short: dict[str, set[int]] = {}
        for name, law_id in names:
            short.setdefault(_short_name(name), set()).add(law_id)
        _vocab_cache.clear()
        _vocab_cache[key] = _Vocabulary(tuple(names), tuple(sorted(words)), {k: frozenset(v) for k, v in short.items() if len(k) >= 3})
    return _vocab_cache[key]


_LAW_WORDS = re.compile(r"^(?:พระราชบัญญัติ|พระราชกำหนด|ประมวลกฎหมาย|กฎหมาย|ว่าด้วย)+|พศ\.?[0-9]{4}$|พ\.ศ\.[0-9]{4}$|[0-9]{4}$")


def _short_name(flat: str) -> str:
    """A name without its law type and year: 'พระราชบัญญัติคุ้มครองแรงงานพ.ศ.2541' -> 'คุ้มครองแรงงาน'."""
    previous = None
    while previous != flat:
        previous, flat = flat, _LAW_WORDS.sub("", flat)
    return flat


@dataclass
class _Expansion:
    words: list[str]  # terms sent to the full-text engine
    boosts: dict[int, float]  # law id -> name boost
    concepts: list[frozenset[str]]  # what the query asks about; each is covered by any of its strings


def _flat(text: str) -> str:
    return normalise(text).replace(" ", "")


def _expand(query: str, vocab: _Vocabulary) -> _Expansion:
    """Query terms (with English and situation topics, typo fixes), name boosts and concepts."""
    norm = normalise(query)
    named_flat = norm.replace(" ", "")  # names are looked for in the whole question, English included
    concepts: list[frozenset[str]] = []
    extra: list[str] = []
    if _LATIN.search(norm):
        for phrase, topics in english_topics():
            pattern = re.compile(r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])")
            if pattern.search(norm):
                norm = pattern.sub(" ", norm)
                extra.extend(topics)
                concepts.append(frozenset(_flat(t) for t in topics))
        norm = " ".join(norm.split())
    flat = norm.replace(" ", "")
    boosts: dict[int, float] = {}
    for name, law_id in vocab.names:
        if name in named_flat:  # the more distinctive the name (without "กฎหมาย", "พระราชบัญญัติ", year), the stronger
            boosts[law_id] = max(boosts.get(law_id, 0.0), 3.0 + min(len(_short_name(name)) or len(name), 40) / 20)
        elif len(flat) >= 6 and flat in name:
            boosts[law_id] = max(boosts.get(law_id, 0.0), 1.5)
    core = _short_name(flat)
    if len(core) >= 6 and core != flat:  # "กฎหมายภาษีที่ดิน": the name without the words for a law
        for name, law_id in vocab.names:
            if core in name:
                strong = _short_name(name).startswith(core)  # "ภาษีที่ดิน" begins "ภาษีที่ดินและสิ่งปลูกสร้าง"
                boosts[law_id] = max(boosts.get(law_id, 0.0), 3.0 + min(len(core), 40) / 20 if strong else 1.5)
    if not boosts:
        if 5 <= len(core) <= 40:  # a misspelt name: compare the whole query with every short alias and title
            for match in difflib.get_close_matches(core, list(vocab.short), n=2, cutoff=0.8):
                for law_id in vocab.short[match]:
                    boosts[law_id] = max(boosts.get(law_id, 0.0), 2.0)
    matched_phrases: list[str] = []
    for phrases, topics in situations():
        hits = [p for p in phrases if p and p in flat]
        if hits:
            matched_phrases.extend(hits)
            extra.extend(topics)
            situation = frozenset(_flat(t) for t in topics) | frozenset(hits)
            concepts.extend([situation, situation])  # a curated citizen situation weighs as two plain words
    words = terms(norm, drop_stopwords=True)
    query_words = list(words)
    for topic in extra:
        words.extend(terms(topic, drop_stopwords=True))
    known = _dictionary()
    for word in query_words:  # a word neither in the catalog nor in the Thai dictionary may be a typo
        if word in GENERIC or word.isdigit() or any(word in p for p in matched_phrases):
            continue
        fixed = []
        if len(word) >= 4 and word not in known and word not in vocab.words:
            fixed = difflib.get_close_matches(word, vocab.words, n=1, cutoff=0.84)
            words.extend(fixed)
        concepts.append(frozenset([word, *fixed]))
    return _Expansion(list(dict.fromkeys(words)), boosts, concepts)


@lru_cache(maxsize=1)
def _dictionary() -> frozenset[str]:
    from pythainlp.corpus import thai_words

    return frozenset(thai_words())


def _fts_query(words: list[str]) -> str:
    return " OR ".join('"' + w.replace('"', "") + '"' for w in words)


def _law_scores_sqlite(session: Session, words: list[str]) -> dict[int, float]:
    if not words:
        return {}
    rows = session.execute(
        text("SELECT rowid, bm25(law_fts, 10.0, 8.0, 3.0, 1.0) FROM law_fts WHERE law_fts MATCH :q ORDER BY 2 LIMIT 100"),
        {"q": _fts_query(words)},
    )
    return {law_id: -rank for law_id, rank in rows}


def _section_scores_sqlite(session: Session, words: list[str]) -> list[tuple[int, int, float]]:
    words = [w for w in words if w not in GENERIC]
    if not words:
        return []
    rows = session.execute(
        text("SELECT s.law_id, s.id, bm25(law_section_fts) AS r FROM law_section_fts JOIN law_sections s ON s.id = law_section_fts.rowid "
             "WHERE law_section_fts MATCH :q ORDER BY r LIMIT 300"),
        {"q": _fts_query(words)},
    )
    return [(law_id, section_id, -rank) for law_id, section_id, rank in rows]


def _ts_query(words: list[str]) -> str:
    cleaned = [re.sub(r"[&|!():*'\\<>\s]", "", w) for w in words]
    return " | ".join(f"'{w}'" for w in cleaned if w)


def _law_scores_pg(session: Session, words: list[str]) -> dict[int, float]:
    query = _ts_query(words)
    if not query:
        return {}
    rows = session.execute(
        text("SELECT id, ts_rank(search_vector, q, 1) * 10 FROM laws, to_tsquery('simple', :q) q WHERE search_vector @@ q "
             "ORDER BY 2 DESC LIMIT 100"),
        {"q": query},
    )
    return {law_id: float(rank) for law_id, rank in rows}


def _section_scores_pg(session: Session, words: list[str]) -> list[tuple[int, int, float]]:
    query = _ts_query([w for w in words if w not in GENERIC])
    if not query:
        return []
    rows = session.execute(
        text("SELECT law_id, id, ts_rank(search_vector, q, 1) * 10 FROM law_sections, to_tsquery('simple', :q) q "
             "WHERE search_vector @@ q ORDER BY 3 DESC LIMIT 300"),
        {"q": query},
    )
    return [(law_id, section_id, float(rank)) for law_id, section_id, rank in rows]


def _snippet(body: str, words: list[str], width: int = 160) -> str:
    flat = body.replace("\n", " ")
    positions = [flat.find(w) for w in words if len(w) > 1 and flat.find(w) >= 0]
    start = max(0, min(positions) - 40) if positions else 0
    piece = flat[start : start + width].strip()
    return ("…" if start else "") + piece + ("…" if start + width < len(flat) else "")


def _haystack(law: Law, section_terms: list[str]) -> str:
    """The law's own words (already normalised and tokenised at import), without spaces, for concept look-ups."""
    parts = [law.title_terms, law.alias_terms, law.keyword_terms, law.summary_terms, *(t[:6000] for t in section_terms)]
    return "".join(" ".join(parts).split())


def _coverage(concepts: list[frozenset[str]], haystack: str) -> float:
    if not concepts:
        return 0.0
    return sum(1 for c in concepts if any(w and w in haystack for w in c)) / len(concepts)


def relevant(hit: LawHit, top_relevance: float, dialect: str = "sqlite") -> bool:
    """The relevance floor: the law is named, or it covers the question and scores high enough."""
    if hit.named:
        return True
    min_score, sure_score = FLOORS.get(dialect, FLOORS["sqlite"])
    if hit.relevance < RELATIVE_FLOOR * top_relevance or hit.relevance < min_score:
        return False
    return hit.relevance >= sure_score or hit.coverage >= MIN_COVERAGE


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def search_laws(session: Session, query: str, limit: int = 10, *, floor: bool = True) -> list[LawHit]:
    """Laws ranked for `query` (empty list for an empty query, or when no law fits above the floor).

    `floor=False` returns the raw ranking (calibration and diagnostics).
    """
    query = " ".join(_CONTROL.sub(" ", query).split())[:500]  # PostgreSQL refuses NUL in any text parameter
    if not query:
        return []
    ensure_seeded(session)
    vocab = _vocabulary(session)
    expansion = _expand(query, vocab)
    words, boosts = expansion.words, expansion.boosts
    # section search: the question's own words and the first few topic words (each extra word costs a scan of the index)
    asked = [w for w in terms(query, drop_stopwords=True) if w not in GENERIC and w in words][:6]
    own_words = asked + [w for w in words if w not in GENERIC and w not in asked][: 8 - len(asked)]
    postgres = session.get_bind().dialect.name == "postgresql"
    law_scores = (_law_scores_pg if postgres else _law_scores_sqlite)(session, words)
    section_rows = (_section_scores_pg if postgres else _section_scores_sqlite)(session, own_words)
    wanted_section = _SECTION_QUERY.search(normalise(query))
    best_sections: dict[int, list[tuple[float, int]]] = {}
    for law_id, section_id, score in section_rows:
        best_sections.setdefault(law_id, []).append((score, section_id))
    combined: dict[int, float] = {}
    for law_id in set(law_scores) | set(best_sections) | set(boosts):
        section_part = sorted((s for s, _ in best_sections.get(law_id, [])), reverse=True)[:3]
        combined[law_id] = (
            law_scores.get(law_id, 0.0)
            + 0.35 * sum(section_part)
            + 6.0 * boosts.get(law_id, 0.0)
        )
    ranked = sorted(((k, v) for k, v in combined.items() if v > 0), key=lambda kv: kv[1], reverse=True)[: max(limit, 10)]
    if not ranked:
        return []
    top = ranked[0][1] or 1.0
    laws = {law.id: law for law in session.scalars(select(Law).where(Law.id.in_([law_id for law_id, _ in ranked])))}
    wanted_ids = [sid for law_id, _ in ranked for _, sid in sorted(best_sections.get(law_id, []), reverse=True)[:3]]
    section_by_id = {sec.id: sec for sec in session.scalars(select(LawSection).where(LawSection.id.in_(wanted_ids)))} if wanted_ids else {}
    hits = []
    for law_id, score in ranked:
        law = laws[law_id]
        section_ids = [sid for _, sid in sorted(best_sections.get(law_id, []), reverse=True)[:3]]
        sections: list[SectionHit] = []
        if wanted_section:
            exact = session.scalar(select(LawSection).where(LawSection.law_id == law_id, LawSection.number == wanted_section.group(1)).limit(1))
            if exact is not None:
                sections.append(SectionHit(exact.number, _snippet(exact.text, [], 200)))
        found = [section_by_id[sid] for sid in section_ids if sid in section_by_id]
        curated = key_sections_for(query, law.title)
        if curated:  # the sections that answer this situation, ahead of the ones that merely share words
            key_rows = list(session.scalars(select(LawSection).where(LawSection.law_id == law_id, LawSection.number.in_(curated))))
            key_rows.sort(key=lambda sec: curated.index(sec.number))
            found = key_rows + [sec for sec in found if sec.number not in curated]
        for sec in found:
            if all(h.number != sec.number for h in sections):
                sections.append(SectionHit(sec.number, _snippet(sec.text, words)))
        boost = boosts.get(law_id, 0.0)
        hits.append(LawHit(law.id, law.sysid, clean_title(law.title), law.law_type, law.year_be, list(law.aliases or []),
                           law.summary, law.url, max(0.0, min(1.0, score / top)) if top > 0 else 0.0, sections[:3],
                           relevance=score, coverage=_coverage(expansion.concepts, _haystack(law, [sec.terms for sec in found])),
                           named=boost >= NAMED_BOOST))
    if floor:
        best = hits[0].relevance
        hits = [h for h in hits if relevant(h, best, "postgresql" if postgres else "sqlite")]
        if hits and hits[0].relevance < best:  # the best-scoring law fell below the floor: rescale
            top = hits[0].relevance
            for h in hits:
                h.score = max(0.0, min(1.0, h.relevance / top))
    return hits[:limit]

"""The project's curated law catalog (storage/seed/laws.yml) and situation map.

Loaded on a fresh install (the first search finds an empty catalog), by
`bot laws seed` and before every corpus import; loading again updates in place.
Imported corpus laws with the same normalised title are the same row.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.laws.text import joined_terms, normalise, title_key
from storage.models.laws import Law

SEED_DIR = Path(__file__).resolve().parent.parent / "seed"


@lru_cache(maxsize=1)
def seed_laws() -> list[dict[str, Any]]:
    path = SEED_DIR / "laws.yml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) or [] if path.exists() else []


@lru_cache(maxsize=1)
def situations() -> list[tuple[list[str], list[str]]]:
    """[(normalised phrases, topics)] from storage/seed/law_situations.yml."""
    path = SEED_DIR / "law_situations.yml"
    if not path.exists():
        return []
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [([normalise(p).replace(" ", "") for p in e["phrases"]], list(e["topics"])) for e in entries]


@lru_cache(maxsize=1)
def key_sections() -> list[tuple[list[str], dict[str, list[str]]]]:
    """[(normalised phrases, {title part: [section numbers]})] for situations with curated answering sections."""
    path = SEED_DIR / "law_situations.yml"
    if not path.exists():
        return []
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [([normalise(p).replace(" ", "") for p in e["phrases"]], {k: [str(n) for n in v] for k, v in e["key_sections"].items()})
            for e in entries if e.get("key_sections")]


def key_sections_for(query: str, title: str) -> list[str]:
    """Curated answering sections of the law titled `title` for the situation in `query`, best first."""
    flat = normalise(query).replace(" ", "")
    numbers: list[str] = []
    for phrases, by_law in key_sections():
        if any(p in flat for p in phrases):
            for part, wanted in by_law.items():
                if part in title:
                    numbers.extend(n for n in wanted if n not in numbers)
    return numbers


@lru_cache(maxsize=1)
def english_topics() -> list[tuple[str, list[str]]]:
    """[(lower-case English phrase, Thai topics)] from storage/seed/law_english.yml, longest phrase first."""
    path = SEED_DIR / "law_english.yml"
    if not path.exists():
        return []
    pairs = [(" ".join(str(p).lower().split()), list(e["th"])) for e in yaml.safe_load(path.read_text(encoding="utf-8")) or []
             for p in e["en"]]
    return sorted(pairs, key=lambda pair: -len(pair[0]))


def load_seed(session: Session) -> int:
    """Insert or update every seed law; returns how many."""
    existing = {law.title_key: law for law in session.scalars(select(Law))}
    count = 0
    for entry in seed_laws():
        key = title_key(entry["title"])
        law = existing.get(key)
        if law is None:
            law = Law(title=entry["title"], title_key=key, aliases=[], keywords=[], groups=[])
            session.add(law)
            existing[key] = law
        law.title = entry["title"]
        law.law_type = entry.get("type", "") or law.law_type or ""
        law.year_be = entry.get("year_be") or law.year_be
        law.aliases = [str(a) for a in entry.get("aliases") or []]
        law.keywords = [str(k) for k in entry.get("keywords") or []]
        law.groups = sorted(set(law.groups or []) | set(entry.get("groups") or []))
        law.agency = entry.get("agency", "") or ""
        law.summary = " ".join(str(entry.get("summary", "")).split())
        law.url = entry.get("url", "") or law.url or ""
        law.from_seed = True
        law.title_terms = joined_terms(law.title)
        law.alias_terms = joined_terms(" ; ".join(law.aliases))
        law.keyword_terms = joined_terms(" ".join(law.keywords + law.groups))
        law.summary_terms = joined_terms(law.summary)
        count += 1
    session.flush()
    return count


def ensure_seeded(session: Session) -> None:
    if not session.scalar(select(func.count()).select_from(Law)):
        load_seed(session)

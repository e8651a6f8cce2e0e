"""Services <-> laws: which laws each catalog service rests on (storage/seed/service_laws.yml).

The mapping is curated data read from the seed file and matched to the law catalog by
normalised title, so it survives a re-import of the law corpus (law ids may change).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.laws.text import title_key
from storage.models.laws import Law

SEED = Path(__file__).resolve().parent / "seed" / "service_laws.yml"


@dataclass(frozen=True)
class LawRef:
    law_id: int
    title: str
    sections: tuple[str, ...]
    url: str


@lru_cache(maxsize=1)
def _raw() -> dict[str, list[dict[str, object]]]:
    return yaml.safe_load(SEED.read_text(encoding="utf-8")) or {}


@lru_cache(maxsize=1)
def mapping() -> dict[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    """service name -> ((law title, sections), ...) as curated."""
    return {service: tuple((str(e["law"]), tuple(str(s) for s in e.get("sections") or ())) for e in entries)  # type: ignore[union-attr]
            for service, entries in _raw().items()}


def corpus_only() -> set[str]:
    """Titles that only the imported corpus holds (not the curated seed)."""
    return {str(e["law"]) for entries in _raw().values() for e in entries if e.get("corpus")}


def _laws_by_key(session: Session, titles: set[str]) -> dict[str, Law]:
    keys = {title_key(t): t for t in titles}
    return {keys[law.title_key]: law for law in session.scalars(select(Law).where(Law.title_key.in_(list(keys))))}


def laws_for_service(session: Session, service: str) -> list[LawRef]:
    entries = mapping().get(service, ())
    found = _laws_by_key(session, {t for t, _ in entries})
    return [LawRef(found[t].id, found[t].title, sections, found[t].url) for t, sections in entries if t in found]


def services_for_law(session: Session, law: Law) -> list[tuple[str, tuple[str, ...]]]:
    """(service, sections) of every service that rests on `law`."""
    out = []
    for service, entries in mapping().items():
        for title, sections in entries:
            if title_key(title) == law.title_key:
                out.append((service, sections))
    return sorted(out)

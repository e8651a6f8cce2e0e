"""The service catalog: agencies and services from storage/seed/, and finding a service.

`load_catalog` upserts the seed (start-up and `bot services seed`); loading again
updates in place and never drops rows an operator added. `find_services` picks the
service a citizen means from the NLU's `service` entity or their own words: exact
name, alias, words contained in the message, then close spellings.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.laws.text import normalise_chars, terms
from storage.models.services import Agency, Service

SEED_DIR = Path(__file__).resolve().parent / "seed"
FUZZY_CUTOFF = 0.78
_NOISE = re.compile(r"[\s\-_.,!?'\"()/]+")
_FILLERS = re.compile(
    r"(ครับ|ค่ะ|คะ|นะ|หน่อย|อยาก|ต้องการ|ขอ|ทำ|ใช้|เอกสาร|อะไรบ้าง|อะไร|ยังไง|อย่างไร|ต้อง|บ้าง|เรื่อง|การ|แจ้ง|ยื่น|คำร้อง|ช่วย)"
)


def key(text: str) -> str:
    """Lower case, Thai digits as Arabic, the two-glyph ำ joined, no spaces or punctuation."""
    return _NOISE.sub("", normalise_chars(text or "").lower())


@lru_cache(maxsize=1)
def seed_agencies() -> list[dict[str, Any]]:
    path = SEED_DIR / "agencies.yml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("agencies", []) if path.exists() else []


@lru_cache(maxsize=1)
def seed_services() -> list[dict[str, Any]]:
    path = SEED_DIR / "services.yml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("services", []) if path.exists() else []


def in_person_only(name: str) -> bool:
    """A service that needs the person at the office (photo, fingerprints, signatures before the registrar):
    `in_person: true` in the seed catalog. Nothing to file by chat for it."""
    return name in _in_person()


@lru_cache(maxsize=1)
def _in_person() -> frozenset[str]:
    return frozenset(str(entry["name"]) for entry in seed_services() if entry.get("in_person"))


def load_catalog(session: Session) -> tuple[int, int]:
    """Insert or update every seed agency and service; returns (agencies, services)."""
    agencies = {a.name: a for a in session.scalars(select(Agency))}
    for entry in seed_agencies():
        row = agencies.get(entry["name"]) or Agency(name=entry["name"])
        row.abbreviations = [str(a) for a in entry.get("abbreviations") or []]
        row.aliases = [str(a) for a in entry.get("aliases") or []]
        row.english_name = entry.get("english")
        row.kind = str(entry.get("type") or "department")
        row.parent = entry.get("parent")
        row.ministry = str(entry.get("ministry") or "")
        row.contacts = [
            {k: str(v) for k, v in contact.items() if k in ("type", "value", "source", "note")}
            for contact in entry.get("contacts") or []
            if contact.get("value") and contact.get("source")  # no source, no number
        ]
        row.phone = general_phone(row.contacts)
        row.website = entry.get("website")
        session.add(row)
    services = {s.name: s for s in session.scalars(select(Service))}
    for entry in seed_services():
        row = services.get(entry["name"]) or Service(name=entry["name"])
        row.kind = entry.get("kind", "document")
        row.agency = entry["agency"]
        row.aliases = [str(a) for a in entry.get("aliases") or []]
        row.summary = str(entry.get("summary") or "")
        row.documents = [str(d) for d in entry.get("documents") or []]
        row.fee = str(entry.get("fee") or "")
        row.duration = str(entry.get("duration") or "")
        row.duration_days = int(entry.get("duration_days") or 7)
        row.where_to = str(entry.get("where") or "")
        row.how = str(entry.get("how") or "")
        row.url = entry.get("url")
        row.needs_location = bool(entry.get("needs_location"))
        row.match_text = "|".join(key(x) for x in [row.name, *row.aliases])
        session.add(row)
    session.flush()
    return len(seed_agencies()), len(seed_services())


def general_phone(contacts: list[dict[str, str]]) -> str | None:
    """The first contact a citizen may call about a service: never an emergency number."""
    for contact in contacts or []:
        if contact.get("type") != "emergency" and contact.get("value") and contact.get("source"):
            return str(contact["value"])
    return None


def ensure_catalog(session: Session) -> None:
    if not session.scalar(select(func.count()).select_from(Service)):
        load_catalog(session)


@dataclass(frozen=True)
class ServiceMatch:
    services: list[Service]
    how: str  # exact, alias, contained, fuzzy, none

    @property
    def single(self) -> Service | None:
        return self.services[0] if len(self.services) == 1 else None


def _names(service: Service) -> list[str]:
    return [k for k in service.match_text.split("|") if k]


def find_services(session: Session, *, entity: str | None = None, text: str | None = None, limit: int = 5) -> ServiceMatch:
    """The service(s) a citizen means; several when it is ambiguous, none when nothing fits."""
    ensure_catalog(session)
    catalog = list(session.scalars(select(Service).order_by(Service.id)))
    for probe in (entity, text):
        if not probe or not key(probe):
            continue
        wanted = key(probe)
        exact = [s for s in catalog if key(s.name) == wanted]
        if exact:
            return ServiceMatch(exact, "exact")
        by_alias = [s for s in catalog if wanted in _names(s)]
        if by_alias:
            return ServiceMatch(by_alias[:limit], "alias")
    if text:
        found = _contained(catalog, key(text))
        if found:
            return ServiceMatch(found[:limit], "contained")
        found = _words(catalog, text)
        if found:
            return ServiceMatch(found[:limit], "words")
    for probe in (entity, text):
        if probe:
            found = _fuzzy(catalog, key(_FILLERS.sub("", probe)))
            if found:
                return ServiceMatch(found[:limit], "fuzzy")
    return ServiceMatch([], "none")


def _contained(catalog: list[Service], wanted: str) -> list[Service]:
    """Services whose name or an alias occurs in the message; the longest mention wins."""
    hits: list[tuple[int, Service]] = []
    for service in catalog:
        lengths = [len(n) for n in _names(service) if len(n) >= 3 and n in wanted]
        if lengths:
            hits.append((max(lengths), service))
    if not hits:
        return []
    best = max(length for length, _ in hits)
    # a mention that is part of a longer one ("ไฟฟ้า" inside "ขอติดตั้งไฟฟ้าใหม่") does not compete
    return [s for length, s in sorted(hits, key=lambda h: -h[0]) if length == best]


_GENERIC = frozenset("ขอ ทำ ใบ การ ของ ที่ ไม่ ได้ ใหม่ บัตร แจ้ง".split())


def _words(catalog: list[Service], text: str) -> list[Service]:
    """Services one of whose names has all its words in the message, in any order
    ("ไฟถนนหน้าบ้านดับ" -> ไฟถนนดับ); the name with most words matched wins."""
    said = set(terms(text))
    hits: list[tuple[int, Service]] = []
    for service in catalog:
        best = 0
        for name in [service.name, *service.aliases]:
            words = {w for w in terms(name) if w.strip()}
            meaningful = words - _GENERIC
            if len(words) >= 2 and meaningful and words <= said:
                best = max(best, len(words))
        if best:
            hits.append((best, service))
    if not hits:
        return []
    top = max(n for n, _ in hits)
    return [s for n, s in hits if n == top]


def _fuzzy(catalog: list[Service], wanted: str) -> list[Service]:
    if len(wanted) < 3:
        return []
    scored: list[tuple[float, Service]] = []
    for service in catalog:
        best = max((difflib.SequenceMatcher(None, wanted, n).ratio() for n in _names(service)), default=0.0)
        if best >= FUZZY_CUTOFF:
            scored.append((best, service))
    scored.sort(key=lambda item: -item[0])
    if len(scored) > 1 and scored[0][0] - scored[1][0] >= 0.08:
        return [scored[0][1]]
    return [s for _, s in scored]


def get_service(session: Session, name: str) -> Service | None:
    ensure_catalog(session)
    return session.scalar(select(Service).where(Service.name == name))

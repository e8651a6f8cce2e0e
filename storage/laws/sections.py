"""Sections of a law: "<law> มาตรา N" lookups and the best sections of one law for a topic.

A section reference is written in many ways: "มาตรา 341", "มาตรา ๓๔๑", "ม.341", "ม. 4 ทวิ",
"section 341", or a bare number after a code's short name ("ป.อ. 326"). The law is the best
named match for the rest of the question (ป.อาญา / ประมวลกฎหมายอาญา / กฎหมายอาญา all work
through the catalog's aliases); when the question names no law, the caller may pass the laws
the conversation was about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from storage.laws.search import GENERIC, _expand, _fts_query, _ts_query, _vocabulary, search_laws
from storage.laws.seed import key_sections_for
from storage.laws.text import clean_title, normalise, terms
from storage.models.laws import Law, LawSection

_SUFFIX = r"(?:ทวิ|ตรี|จัตวา|เบญจ|ฉ|สัตต|อัฏฐ|นว|ทศ)"
_NUMBER = rf"([0-9]{{1,4}}(?:\s*/\s*[0-9]{{1,3}})?)(?:\s*({_SUFFIX})(?![ก-๙]))?"
_REFERENCE = re.compile(rf"(?:มาตรา(?:\s*ที่)?|ม\.|section|sec\.|s\.)\s*{_NUMBER}")
# A bare number right after a code's short name: "ป.อ. 326", "ป.พ.พ. 1382" (normalised to the full title).
_CODE_NUMBER = re.compile(rf"(ประมวลกฎหมาย[ก-๙]+|ประมวลรัษฎากร)\s+{_NUMBER}(?![0-9])")
_FILLER = re.compile(r"ว่าไง|ว่ายังไง|ว่าอย่างไร|ว่าอะไร|เขียนว่า(?:อะไร|ไง)?|คืออะไร|บอกว่า(?:อะไร)?|ขอดู|ขออ่าน|อ่าน|ดู|เนื้อหา|ข้อความ|"
                     r"ครับ|ค่ะ|คะ|นะ|หน่อย|ของ|ใน|what does|say|says|of the|of")


@dataclass
class SectionRef:
    number: str  # Arabic digits as stored: "341", "2/1", "4 ทวิ"
    rest: str  # the question without the reference: names the law, if anything
    explicit: bool = True  # written "มาตรา"/"section"; "ม.3" or "ป.อ. 326" only count next to a law's name


@dataclass
class SectionText:
    law_id: int
    law_title: str
    url: str
    number: str
    text: str


def parse_section_ref(query: str) -> SectionRef | None:
    """The section a question asks for, or None."""
    norm = normalise(query)
    match = _REFERENCE.search(norm) or _CODE_NUMBER.search(norm)
    if match is None:
        return None
    number_group = 1 if match.re is _REFERENCE else 2
    number = re.sub(r"\s+", "", match.group(number_group))
    suffix = match.group(number_group + 1)
    if suffix:
        number = f"{number} {suffix}"
    if match.re is _REFERENCE:
        rest = norm[: match.start()] + " " + norm[match.end() :]
    else:
        rest = norm[: match.start(2)] + " " + norm[match.end() :]
    rest = " ".join(_FILLER.sub(" ", rest).split())
    explicit = match.re is _REFERENCE and not match.group(0).startswith("ม.")
    return SectionRef(number, rest, explicit)


def section_text(session: Session, law_id: int, number: str) -> SectionText | None:
    law = session.get(Law, law_id)
    if law is None:
        return None
    section = session.scalar(select(LawSection).where(LawSection.law_id == law_id, LawSection.number == number)
                             .order_by(LawSection.position).limit(1))
    if section is None:
        return None
    return SectionText(law.id, clean_title(law.title), law.url, section.number, section.text)


@dataclass
class SectionLookup:
    ref: SectionRef
    law_id: int | None  # the law the question names (or the conversation's), None when unknown
    law_title: str
    section: SectionText | None  # None: that law has no such section in the catalog


def find_section(session: Session, query: str, *, context_law_ids: list[int] | None = None) -> SectionLookup | None:
    """None when the question names no section; else the law and, when it has it, the section text."""
    ref = parse_section_ref(query)
    if ref is None:
        return None
    candidates: list[int] = []
    if terms(ref.rest, drop_stopwords=True):
        hits = search_laws(session, ref.rest, limit=5)
        named = [hit.law_id for hit in hits if hit.named]
        if not named and not ref.explicit:
            return None  # "เด็ก ม.3" is a school grade, not a section
        candidates = named or [hit.law_id for hit in hits]  # a named law is the one meant, even without that section
    if not candidates:
        if not ref.explicit:
            return None
        candidates = list(context_law_ids or [])
    for law_id in candidates:
        found = section_text(session, law_id, ref.number)
        if found is not None:
            return SectionLookup(ref, law_id, found.law_title, found)
    if candidates:
        law = session.get(Law, candidates[0])
        return SectionLookup(ref, candidates[0], clean_title(law.title) if law else "", None)
    return SectionLookup(ref, None, "", None)


def best_sections(session: Session, law_id: int, query: str, limit: int = 3) -> list[LawSection]:
    """The sections of one law that best match `query` (its first sections when nothing matches)."""
    words = [w for w in terms(query, drop_stopwords=True) if w not in GENERIC]
    if query.strip():
        words = list(dict.fromkeys(words + [w for w in _expand(query, _vocabulary(session)).words if w not in GENERIC]))
    ids: list[int] = []
    if words:
        if session.get_bind().dialect.name == "postgresql":
            q = _ts_query(words)
            if q:
                ids = list(session.scalars(text(
                    "SELECT id FROM law_sections, to_tsquery('simple', :q) q WHERE law_id = :law AND search_vector @@ q "
                    "ORDER BY ts_rank(search_vector, q, 1) DESC LIMIT :n"), {"q": q, "law": law_id, "n": limit}))
        else:
            ids = list(session.scalars(text(
                "SELECT f.rowid FROM law_section_fts f JOIN law_sections s ON s.id = f.rowid "
                "WHERE law_section_fts MATCH :q AND s.law_id = :law ORDER BY bm25(law_section_fts) LIMIT :n"),
                {"q": _fts_query(words), "law": law_id, "n": limit}))
    law = session.get(Law, law_id)
    curated = key_sections_for(query, law.title) if law is not None else []
    if curated:
        key_rows = sorted(session.scalars(select(LawSection).where(LawSection.law_id == law_id, LawSection.number.in_(curated))),
                          key=lambda sec: curated.index(sec.number))
        ids = [sec.id for sec in key_rows] + [i for i in ids if i not in {sec.id for sec in key_rows}]
        ids = ids[:limit]
    if ids:
        rows = {s.id: s for s in session.scalars(select(LawSection).where(LawSection.id.in_(ids)))}
        return [rows[i] for i in ids if i in rows]
    return list(session.scalars(select(LawSection).where(LawSection.law_id == law_id).order_by(LawSection.position).limit(limit)))

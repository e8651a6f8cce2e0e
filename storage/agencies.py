"""The agency catalog: which agency an official (or a citizen) means, and who staffs it.

`resolve_agency(session, text)` reads a target as people write it ("กรมโยธาฯ",
"ยผ.", "DPT", "กทม.", "เขตราชเทวี", "กรมทางหลวงชนบธ" with a typo) and answers with
one of four outcomes (docs/agencies.md):

- EXACT: the official name, an abbreviation or an alias (after normalising spaces,
  dots, ฯ, a leading "กรม"/"สำนักงาน" and polite particles at the end), a unique
  name that starts with what was written before a "ฯ", or one close spelling scoring
  at least AUTO_ACCEPT. Safe to act on.
- CONFIRM: one close spelling scoring CONFIRM_AT..AUTO_ACCEPT, the only name that
  starts with the target ("กรมพัฒนาธุรกิจ"), or the one name found inside a longer
  target ("สำนักงานที่ดินจังหวัด..."): ask "did you mean ...?".
- CHOICE: several agencies fit (an abbreviation two agencies share, two close spellings,
  up to MAX_CANDIDATES names starting with the target: "การประปา").
- NONE: nothing fits, or the target is generic ("กรม", "หน่วยงาน"): never guessed; the
  closest names come along so the official can pick one.

The thresholds were measured on the labelled targets in
tests/services/test_agency_resolution.py (see docs/agencies.md for the numbers).
`forward_request` (storage.requests) accepts only an agency of this catalog: use
`catalog_agency()` to check a name.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models.officials import GroupLink, Official
from storage.models.services import Agency
from storage.services import ensure_catalog

# One close spelling at or above AUTO_ACCEPT is taken as meant; CONFIRM_AT..AUTO_ACCEPT
# asks first; below CONFIRM_AT it is not offered as "the" match (only among the closest).
AUTO_ACCEPT = 0.92
CONFIRM_AT = 0.80
# Two candidates closer than this to each other are a choice, not a guess.
AMBIGUITY_MARGIN = 0.04
# "Closest matches" shown with NONE: at most this many, each at least this similar.
SUGGEST_AT = 0.55
MAX_CANDIDATES = 5
# The score reported for a name that merely starts with the target ("กรมพัฒนาธุรกิจ").
PARTIAL_SCORE = CONFIRM_AT

# The one-stop desk for agencies nobody staffs yet: requests routed to an agency with no
# linked group reach its groups, it lists and may act on requests at agencies with no group
# and no active official, and storage.handoff sends it the handoffs nobody else would answer.
FALLBACK_DESK = "สำนักงานพัฒนารัฐบาลดิจิทัล"

EXACT = "exact"
CONFIRM = "confirm"
CHOICE = "choice"
NONE = "none"

_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_ID = re.compile(r"^\s*#\s*(\d{1,9})\s*$")
_PARTICLES = re.compile(r"(?:\s*(?:ครับผม|ครับ|คับ|ค่ะ|คะ|ค่า|จ้ะ|จ้า|นะคะ|นะ|ด้วย|หน่อย|ฮะ))+\s*$")
_LEADING = re.compile(r"^\s*(?:ส่งต่อ(?:ไป)?(?:ให้|ยัง|ที่)?|ส่งไป(?:ให้|ยัง|ที่)?|ส่งให้|ไปให้|ไปยัง|ไปที่|ให้|ไป|ถึง|ยัง|to)\s*", re.IGNORECASE)
_NOISE = re.compile(r"[\s\-_.,!?'\"“”‘’()\[\]/:;]+")
_PREFIXES = ("สำนักงาน", "กรม")
# Words that name a kind of body, not a body: never matched, never guessed from.
GENERIC = frozenset(
    {
        "", "กรม", "สำนักงาน", "สำนัก", "หน่วยงาน", "หน่วยงานอื่น", "หน่วยงานที่เกี่ยวข้อง", "หน่วยงานรัฐ", "หน่วยงานราชการ",
        "ส่วนราชการ", "ราชการ", "ทางราชการ", "ภาครัฐ", "รัฐ", "กระทรวง", "กอง", "ศูนย์", "เขต", "สำนักงานเขต", "จังหวัด",
        "ศาลากลาง", "ศาลากลางจังหวัด", "สำนักงานจังหวัด", "การ", "องค์การ", "บริษัท", "ที่เกี่ยวข้อง", "อื่น", "อื่นๆ",
        "เจ้าหน้าที่", "ฝ่าย", "แผนก", "department", "office", "agency", "ministry",
    }
)


@lru_cache(maxsize=16384)
def normalise(text: str) -> str:
    """Lower case, Thai digits as Arabic, no ฯ, spaces, dots or punctuation, no polite ending."""
    # not bot.nlu.thai_text.normalise: it folds "ททท" (emphasis) into "ท", and ททท. is an agency
    text = (text or "").translate(_THAI_DIGITS).replace("\u0e4d\u0e32", "\u0e33").lower().replace("ฯลฯ", "").replace("ฯ", "")
    text = _PARTICLES.sub("", text)
    return _NOISE.sub("", text)


def core(key: str) -> str:
    """A normalised name without its leading "สำนักงาน"/"กรม" ("กรมโยธา" -> "โยธา")."""
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def is_generic(text: str) -> bool:
    """True for a word that names a kind of body ("กรม", "หน่วยงาน"), not one body."""
    key = normalise(_LEADING.sub("", text or ""))
    return key in GENERIC or core(key) in GENERIC or len(core(key)) < 2 and not key.isascii()


@dataclass(frozen=True)
class Candidate:
    agency_id: int
    name: str
    score: float  # 1.0 for a name, abbreviation or alias


@dataclass(frozen=True)
class Resolution:
    """What a target names: see the module docstring for the four outcomes."""

    outcome: str  # EXACT, CONFIRM, CHOICE, NONE
    query: str
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)
    how: str = ""  # id, name, alias, prefix (before a ฯ), partial, fuzzy, contained, generic, empty, unknown

    @property
    def agency(self) -> Candidate | None:
        """The agency meant (EXACT) or to be confirmed (CONFIRM)."""
        return self.candidates[0] if self.outcome in (EXACT, CONFIRM) and self.candidates else None

    @property
    def is_exact(self) -> bool:
        return self.outcome == EXACT


@dataclass(frozen=True)
class _Index:
    keys: dict[str, frozenset[int]]  # normalised name/abbreviation/alias -> agencies
    cores: dict[str, frozenset[int]]  # the same without "กรม"/"สำนักงาน"
    names: dict[int, str]


def _index(session: Session) -> _Index:
    """Keys of every catalog agency (normalising is cached, so rebuilding per call is cheap)."""
    keys: dict[str, set[int]] = {}
    cores: dict[str, set[int]] = {}
    names: dict[int, str] = {}
    for agency_id, name, abbreviations, aliases in session.execute(
        select(Agency.id, Agency.name, Agency.abbreviations, Agency.aliases).order_by(Agency.id)
    ):
        names[agency_id] = name
        for written in [name, *(abbreviations or []), *(aliases or [])]:
            key = normalise(written)
            if key in GENERIC:
                continue
            keys.setdefault(key, set()).add(agency_id)
            if core(key) not in GENERIC and len(core(key)) >= 2:
                cores.setdefault(core(key), set()).add(agency_id)
    return _Index({k: frozenset(v) for k, v in keys.items()}, {k: frozenset(v) for k, v in cores.items()}, names)


def _ranked(index: _Index, ids: frozenset[int] | set[int], score: float = 1.0) -> tuple[Candidate, ...]:
    return tuple(Candidate(i, index.names[i], score) for i in sorted(ids, key=lambda i: index.names[i]))


def _similar(index: _Index, key: str) -> list[Candidate]:
    """Every agency scored by its closest name/abbreviation/alias (full key or core), best first."""
    probe_core = core(key)
    best: dict[int, float] = {}
    matcher = difflib.SequenceMatcher(autojunk=False)
    for table, probe in ((index.keys, key), (index.cores, probe_core)):
        if len(probe) < 2:
            continue
        matcher.set_seq2(probe)
        for written, ids in table.items():
            if abs(len(written) - len(probe)) > max(len(written), len(probe)) * 0.6:
                continue  # cannot reach SUGGEST_AT
            matcher.set_seq1(written)
            if matcher.real_quick_ratio() < SUGGEST_AT or matcher.quick_ratio() < SUGGEST_AT:
                continue
            score = matcher.ratio()
            for agency_id in ids:
                if score > best.get(agency_id, 0.0):
                    best[agency_id] = score
    ranked = sorted(best.items(), key=lambda item: (-item[1], index.names[item[0]]))
    return [Candidate(i, index.names[i], round(s, 3)) for i, s in ranked]


def resolve_agency(session: Session, text: str) -> Resolution:
    """The catalog agency `text` names (see the module docstring); reads the catalog, changes nothing."""
    query = (text or "").strip()
    index = _index(session)
    if not index.names:
        ensure_catalog(session)
        index = _index(session)
    by_id = _ID.match(query)
    if by_id:
        agency_id = int(by_id.group(1))
        if agency_id in index.names:
            return Resolution(EXACT, query, _ranked(index, {agency_id}), "id")
        return Resolution(NONE, query, (), "unknown")
    if not normalise(query):
        return Resolution(NONE, query, (), "empty")
    abbreviated = "ฯ" in query
    probes = [query]
    stripped = _LEADING.sub("", query)
    if stripped != query:
        probes.append(stripped)
    for probe in probes:
        if is_generic(probe):
            continue
        key = normalise(probe)
        ids = index.keys.get(key) or index.cores.get(core(key))
        if ids:
            how = "name" if any(normalise(index.names[i]) == key for i in ids) else "alias"
            return Resolution(EXACT if len(ids) == 1 else CHOICE, query, _ranked(index, ids), how)
        if abbreviated:  # "กรมอุทยานฯ": a name that starts with what came before the ฯ
            head = core(key)
            ids = {i for k, v in index.cores.items() if k.startswith(head) for i in v} if len(head) >= 2 else set()
            if 0 < len(ids) <= MAX_CANDIDATES:
                return Resolution(EXACT if len(ids) == 1 else CHOICE, query, _ranked(index, ids)[:MAX_CANDIDATES], "prefix")
    probe = probes[-1]
    if is_generic(probe):
        return Resolution(NONE, query, (), "generic")
    key = normalise(probe)
    if len(core(key)) < 3:
        return Resolution(NONE, query, (), "unknown")
    scored = _similar(index, key)
    top = [c for c in scored if c.score >= CONFIRM_AT]
    close = [c for c in top if top[0].score - c.score < AMBIGUITY_MARGIN]
    # names that start with the target ("กรมการค้า", "การประปา"): candidates, never taken as meant
    partial: set[int] = set()
    if len(core(key)) >= 4:
        partial = {i for k, v in index.keys.items() if k.startswith(key) for i in v}
        partial |= {i for k, v in index.cores.items() if k.startswith(core(key)) for i in v}
    partial -= {c.agency_id for c in close}
    if len(close) == 1 and close[0].score >= AUTO_ACCEPT and not partial:
        return Resolution(EXACT, query, (close[0],), "fuzzy")
    found = close + list(_ranked(index, partial, PARTIAL_SCORE))
    how = "fuzzy" if close else "partial"
    if len(found) == 1:
        return Resolution(CONFIRM, query, tuple(found), how)
    if 1 < len(found) <= MAX_CANDIDATES:
        return Resolution(CHOICE, query, tuple(found), how)
    # a name inside a longer target ("กรมทางหลวงชนบทจังหวัดขอนแก่น"): the longest such names, to confirm
    inside = [(len(k), i) for k, v in index.keys.items() if len(k) >= 5 and k in key for i in v]
    if inside:
        longest = max(n for n, _ in inside)
        ids = {i for n, i in inside if n == longest}
        if len(ids) <= MAX_CANDIDATES:
            return Resolution(CONFIRM if len(ids) == 1 else CHOICE, query, _ranked(index, ids, PARTIAL_SCORE), "contained")
    closest = found or [c for c in scored if c.score >= SUGGEST_AT]
    return Resolution(NONE, query, tuple(closest[:MAX_CANDIDATES]), "unknown")


def catalog_agency(session: Session, name: str) -> Agency | None:
    """The catalog row whose official name is exactly `name` (no aliases, no guessing)."""
    return session.scalar(select(Agency).where(Agency.name == name))


def staffing(session: Session, name: str) -> tuple[int, int]:
    """(linked group chats, active officials) of an agency: (0, 0) means nobody would see its requests."""
    groups = session.scalar(select(func.count()).select_from(GroupLink).where(GroupLink.agency == name)) or 0
    officials = session.scalar(
        select(func.count()).select_from(Official).where(Official.agency == name, Official.active.is_(True))
    ) or 0
    return int(groups), int(officials)


def is_staffed(session: Session, name: str) -> bool:
    return any(staffing(session, name))


def unstaffed_agencies(session: Session, names: set[str]) -> set[str]:
    """Of `names`, those with no linked group and no active official."""
    if not names:
        return set()
    linked = set(session.scalars(select(GroupLink.agency).where(GroupLink.agency.in_(names))))
    staffed = set(session.scalars(select(Official.agency).where(Official.agency.in_(names), Official.active.is_(True))))
    return names - linked - staffed


def get_agency(session: Session, name: str) -> Agency | None:
    """The agency `name` names exactly (official name, abbreviation or alias); None otherwise.

    Never a guess: a generic word ("กรม"), a misspelling or an ambiguous abbreviation is
    None. For what to tell an official in those cases use resolve_agency.
    """
    ensure_catalog(session)
    agency = session.scalar(select(Agency).where(Agency.name == name))
    if agency is not None:
        return agency
    found = resolve_agency(session, name)
    if found.outcome == EXACT and found.how != "fuzzy" and found.agency is not None:
        return session.get(Agency, found.agency.agency_id)
    return None

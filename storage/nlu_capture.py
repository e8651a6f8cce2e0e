"""NLU capture: what NLU made of each user message, masked, pseudonymous, purged in time.

- `capture_values()` turns one message and Rasa's parse summary into a row: the
  sender becomes a keyed pseudonym (HMAC-SHA256 of `<channel>:<user id>`), Thai
  national ID numbers, phone numbers, e-mail addresses and other long digit runs
  are masked, entity offsets are moved to the masked text.
- `insert_capture()` writes it on the caller's connection (the gateway does so in
  the transaction that stores Rasa's answer) and marks the sender's previous
  message as contradicted when this one is a deny or a restart.
- `review_queue()` lists what deserves an admin's look (fallback, low confidence,
  contradicted, flagged) grouped by near-duplicates and ranked by how often such
  messages occur; `resolve()` records the admin's decision.
- `purge_expired()` enforces NLU_CAPTURE_RETENTION_DAYS; `erase_captures()` serves
  PDPA erasure (storage.privacy.erase).

Callers own the transaction. Nothing here logs message text.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.orm import Session

from storage.masking import MASKS, Masked, mask_entities, mask_personal_data  # noqa: F401 - re-exported (moved there)
from storage.models.base import utcnow
from storage.models.nlu_capture import CAPTURE_ANNOTATED, CAPTURE_DISCARDED, CAPTURE_NEW, NluCapture

logger = logging.getLogger(__name__)

SECRET_ENV = "NLU_PSEUDONYM_SECRET"
SECRET_FILE = "nlu_pseudonym.key"
FALLBACK_INTENT = "nlu_fallback"
LOW_CONFIDENCE = 0.6  # below this (and above the fallback threshold) a message is worth a look
CONTRADICTING_INTENTS = frozenset({"deny", "restart"})
CONTRADICTION_WINDOW = timedelta(minutes=10)
SIMILARITY = 0.6  # token-set Jaccard at or above which two messages count as the same need
MAX_TEXT = 2000

# ---------------------------------------------------------------- pseudonyms


def pseudonym_secret(var_dir: Path | None = None, *, create: bool = True) -> bytes | None:
    """The key for pseudonyms: NLU_PSEUDONYM_SECRET, else a random key kept in `<var>/nlu_pseudonym.key`.

    Several machines sharing one database must set NLU_PSEUDONYM_SECRET to the same value.
    """
    configured = os.environ.get(SECRET_ENV, "").strip()
    if configured:
        return configured.encode()
    if var_dir is None:
        from bot.settings import get_settings

        var_dir = get_settings().var_dir
    path = Path(var_dir) / SECRET_FILE
    for _ in range(50):
        try:
            key = path.read_bytes().strip()
        except FileNotFoundError:
            if not create:
                return None
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue  # another process is creating it
            key = secrets.token_hex(32).encode()
            with os.fdopen(fd, "wb") as f:
                f.write(key)
            return key
        if key:
            return key
        time.sleep(0.01)  # created a moment ago, not written yet
    raise RuntimeError(f"{path} is empty")


def pseudonym(person_key: str, secret: bytes) -> str:
    """A stable pseudonym for `<channel>:<user id>` that nobody without the secret can link back."""
    return hmac.new(secret, person_key.encode(), hashlib.sha256).hexdigest()[:32]


def person_key(conversation: str, metadata: dict[str, Any]) -> str:
    """`<channel>:<user id>` of the person who spoke, read as actions.identity.speaker_of reads it."""
    sender_channel, _, rest = conversation.partition(":")
    channel = str(metadata.get("channel") or sender_channel.split("-")[0] or "web")
    chat_id = str(metadata.get("chat_id") or rest or conversation)
    user_id = str(metadata.get("user_id") or chat_id)
    return f"{channel}:{user_id}"


def pseudonym_for(person: str, var_dir: Path | None = None) -> str | None:
    """The pseudonym captures of `person` carry; None when no key exists yet (then nothing was captured)."""
    try:
        secret = pseudonym_secret(var_dir, create=False)
    except (OSError, RuntimeError) as exc:  # unreadable key: the caller's other work (e.g. erasure) goes on
        logger.warning("cannot read the NLU pseudonym key (%s)", type(exc).__name__)
        return None
    return pseudonym(person, secret) if secret else None


# ---------------------------------------------------------------- normalisation

_POLITE_TAIL = re.compile(r"(?:\s*(?:นะคะ|นะครับ|ครับผม|ครับ|คับ|ค่ะ|คะ|ค่า|จ้า|จ้ะ|จ๊ะ|ฮะ|นะ|น้า))+$")
_THAI_GAP = re.compile(r"(?<=[\u0e00-\u0e7f])\s+(?=[\u0e00-\u0e7f])")
_NOT_WORD = re.compile(r"[^\w<>\u0e00-\u0e7f]+")


def normalise(text: str) -> str:
    """Text reduced to what matters for grouping: no case, Arabic digits, no typed-out emphasis, no
    punctuation, no polite particles at the end, no spaces between Thai words."""
    from bot.nlu.thai_text import normalise as thai_normalise

    text = thai_normalise(text).lower()
    text = _NOT_WORD.sub(" ", text).strip()
    text = _POLITE_TAIL.sub("", text).strip()
    text = _THAI_GAP.sub("", text)  # spaces between Thai words are a matter of taste
    return re.sub(r"\s+", " ", text)


def norm_key(text: str) -> str:
    return hashlib.blake2b(normalise(text).encode(), digest_size=16).hexdigest()


_PARTICLES = frozenset({"ครับ", "คับ", "ค่ะ", "คะ", "ค่า", "จ้า", "จ้ะ", "นะ", "น้า", "ฮะ", "หน่อย", "ด้วย", "ที", "ครับผม", "<", ">"})


def token_set(text: str) -> frozenset[str]:
    """Words of the normalised text (PyThaiNLP segmentation), without polite particles."""
    from bot.nlu.thai_text import tokenize

    return frozenset(p.text for p in tokenize(normalise(text)) if p.text not in _PARTICLES)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


# ---------------------------------------------------------------- capture (the gateway's hot path)


def _summary(nlu: dict[str, Any]) -> tuple[str | None, float, list[dict[str, Any]], list[dict[str, Any]]]:
    intent = nlu.get("intent")
    intent = str(intent)[:64] if isinstance(intent, str) and intent else None
    try:
        confidence = float(nlu.get("confidence") or 0.0)
    except (TypeError, ValueError):
        confidence = 0.0
    entities = [e for e in nlu.get("entities") or [] if isinstance(e, dict)]
    ranking = [
        {"name": str(r.get("name"))[:64], "confidence": round(float(r.get("confidence") or 0.0), 4)}
        for r in (nlu.get("ranking") or [])[:3]
        if isinstance(r, dict) and r.get("name") and isinstance(r.get("confidence"), (int, float))
    ]
    return intent, max(0.0, min(1.0, confidence)), entities, ranking


def capture_values(
    *, text: str, conversation: str, metadata: dict[str, Any], nlu: dict[str, Any], secret: bytes, now: datetime | None = None,
) -> dict[str, Any] | None:
    """The row to store for one message Rasa parsed (None: nothing worth keeping)."""
    text = text.strip()[:MAX_TEXT]  # Rasa strips the message; its entity offsets refer to the stripped text
    if not text or not isinstance(nlu, dict):
        return None
    intent, confidence, entities, ranking = _summary(nlu)
    masked = mask_personal_data(text)
    channel = person_key(conversation, metadata).partition(":")[0]
    return {
        "captured_at": now or utcnow(),
        "channel": channel[:16],
        "chat_type": str(metadata.get("chat_type") or "private")[:16],
        "sender": pseudonym(person_key(conversation, metadata), secret),
        "text": masked.text,
        "norm_key": norm_key(masked.text),
        "intent": intent,
        "confidence": confidence,
        "entities": mask_entities(masked, entities),
        "ranking": ranking,
        "via_payload": text.startswith("/"),
        "contradicted": False,
        "flagged": False,
        "status": CAPTURE_NEW,
    }


def insert_capture(conn: Connection, values: dict[str, Any]) -> None:
    """Store a capture; a deny or restart marks the sender's message just before it as contradicted."""
    table = NluCapture.__table__
    if values.get("intent") not in CONTRADICTING_INTENTS:
        conn.execute(insert(table), values)  # parameters, not .values(): a cached statement, a third of the cost
        return
    new_id = conn.execute(insert(table).returning(table.c.id), values).scalar_one()
    previous = conn.execute(
        select(table.c.id, table.c.via_payload, table.c.intent, table.c.captured_at)
        .where(table.c.sender == values["sender"], table.c.id < new_id)
        .order_by(table.c.id.desc()).limit(1)
    ).first()
    if previous is None or previous.via_payload or previous.intent in CONTRADICTING_INTENTS or previous.intent == "affirm":
        return
    if values["captured_at"] - previous.captured_at > CONTRADICTION_WINDOW:
        return
    conn.execute(update(table).where(table.c.id == previous.id).values(contradicted=True))


# ---------------------------------------------------------------- retention and erasure


def purge_expired(session: Session, retention_days: int, now: datetime | None = None) -> int:
    """Delete captures older than the retention period; 0 days keeps nothing."""
    cutoff = (now or utcnow()) - timedelta(days=max(0, retention_days))
    return session.execute(delete(NluCapture).where(NluCapture.captured_at < cutoff)).rowcount or 0


def count_captures(session: Session, pseudonym_: str | None) -> int:
    """How many captures of one person are kept (PDPA access)."""
    if not pseudonym_:
        return 0
    return session.scalar(select(func.count()).select_from(NluCapture).where(NluCapture.sender == pseudonym_)) or 0


def erase_captures(session: Session, pseudonym_: str | None) -> int:
    """Delete every capture of one person (PDPA erasure)."""
    if not pseudonym_:
        return 0
    return session.execute(delete(NluCapture).where(NluCapture.sender == pseudonym_)).rowcount or 0


# ---------------------------------------------------------------- admin side


def flag(session: Session, capture_id: int) -> bool:
    """An official or admin asks for this message to be reviewed."""
    return bool(session.execute(update(NluCapture).where(NluCapture.id == capture_id, NluCapture.status == CAPTURE_NEW)
                                .values(flagged=True)).rowcount)


def resolve(session: Session, ids: list[int], *, status: str, resolution: dict[str, Any] | None = None) -> int:
    """Record an admin's decision (annotated or discarded) for the given captures still waiting."""
    if status not in (CAPTURE_ANNOTATED, CAPTURE_DISCARDED):
        raise ValueError(f"unknown status {status!r}")
    if not ids:
        return 0
    return session.execute(
        update(NluCapture).where(NluCapture.id.in_(ids), NluCapture.status == CAPTURE_NEW)
        .values(status=status, resolution=resolution, resolved_at=utcnow())
    ).rowcount or 0


def recent(session: Session, limit: int = 50) -> list[NluCapture]:
    """The latest captured messages (for flagging), newest first; button payloads left out."""
    return list(session.scalars(select(NluCapture).where(NluCapture.via_payload.is_(False))
                                .order_by(NluCapture.id.desc()).limit(limit)))


def counts(session: Session) -> dict[str, int]:
    return {status: n for status, n in session.execute(select(NluCapture.status, func.count()).group_by(NluCapture.status))}


@dataclass
class ReviewGroup:
    """Near-duplicate messages that deserve one decision."""

    ids: list[int]
    text: str  # the most common wording (masked)
    entities: list[dict[str, Any]]  # predicted entities of that wording, offsets into `text`
    count: int  # messages of the group in the queue
    occurrences: int  # all captured messages with the same wordings (queue or not)
    reasons: dict[str, int]
    intents: dict[str, int]
    confidence: float  # mean predicted confidence
    last_seen: datetime
    variants: list[str] = field(default_factory=list)  # other wordings, most common first

    @property
    def id(self) -> int:
        return self.ids[0]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "ids": self.ids, "text": self.text, "entities": self.entities, "count": self.count,
            "occurrences": self.occurrences, "reasons": self.reasons, "intents": self.intents,
            "confidence": round(self.confidence, 3), "last_seen": self.last_seen.isoformat(), "variants": self.variants,
        }


def _reasons(row: NluCapture, low_confidence: float) -> list[str]:
    reasons = []
    if row.intent in (None, FALLBACK_INTENT):
        reasons.append("fallback")
    elif row.confidence < low_confidence:
        reasons.append("low_confidence")
    if row.contradicted:
        reasons.append("contradicted")
    if row.flagged:
        reasons.append("flagged")
    return reasons


def review_candidates(session: Session, *, low_confidence: float = LOW_CONFIDENCE, max_rows: int = 5000) -> list[NluCapture]:
    stmt = (
        select(NluCapture)
        .where(
            NluCapture.status == CAPTURE_NEW,
            NluCapture.via_payload.is_(False),
            (NluCapture.intent.is_(None)) | (NluCapture.intent == FALLBACK_INTENT) | (NluCapture.confidence < low_confidence)
            | NluCapture.contradicted.is_(True) | NluCapture.flagged.is_(True),
        )
        .order_by(NluCapture.id.desc())
        .limit(max_rows)
    )
    return list(session.scalars(stmt))


def group_rows(rows: list[NluCapture], threshold: float = SIMILARITY) -> list[list[list[NluCapture]]]:
    """Clusters of exact groups: rows with the same normalised text form an exact group; exact groups
    whose word sets are similar enough (Jaccard >= threshold) join the cluster of the largest one."""
    exact: dict[str, list[NluCapture]] = {}
    for row in rows:
        exact.setdefault(row.norm_key, []).append(row)
    ordered = sorted(exact.values(), key=lambda g: (-len(g), -max(r.id for r in g)))
    clusters: list[tuple[frozenset[str], list[list[NluCapture]]]] = []
    for group in ordered:
        words = token_set(group[0].text)
        best, best_score = None, 0.0
        for i, (rep, _) in enumerate(clusters):
            score = similarity(words, rep)
            if score >= threshold and score > best_score:
                best, best_score = i, score
        if best is None:
            clusters.append((words, [group]))
        else:
            clusters[best][1].append(group)
    return [members for _, members in clusters]


def occurrence_counts(session: Session, keys: set[str]) -> dict[str, int]:
    """How many captured messages (queue or not) share each normalised wording."""
    counted: dict[str, int] = {}
    key_list = sorted(keys)
    for start in range(0, len(key_list), 500):
        chunk = key_list[start : start + 500]
        counted.update({key: n for key, n in session.execute(
            select(NluCapture.norm_key, func.count()).where(NluCapture.norm_key.in_(chunk), NluCapture.via_payload.is_(False))
            .group_by(NluCapture.norm_key)
        )})
    return counted


def review_queue(
    session: Session, *, low_confidence: float = LOW_CONFIDENCE, threshold: float = SIMILARITY, limit: int = 50, max_rows: int = 5000,
) -> list[ReviewGroup]:
    """What admins should look at first: groups of similar messages, most frequent first."""
    rows = review_candidates(session, low_confidence=low_confidence, max_rows=max_rows)
    occurrences = occurrence_counts(session, {row.norm_key for row in rows})
    return build_queue(rows, occurrences, low_confidence=low_confidence, threshold=threshold, limit=limit)


def build_queue(
    rows: list[NluCapture], occurrences: dict[str, int], *, low_confidence: float = LOW_CONFIDENCE, threshold: float = SIMILARITY,
    limit: int = 50,
) -> list[ReviewGroup]:
    """Group and rank candidate rows (no database work: the gateway runs this off its storage lane)."""
    clusters = group_rows(rows, threshold)
    groups: list[ReviewGroup] = []
    for cluster in clusters:
        members = [row for exact in cluster for row in exact]
        head = max(cluster[0], key=lambda r: (len(r.entities or []), r.id))  # most common wording: richest, then newest
        reasons: Counter[str] = Counter()
        for row in members:
            reasons.update(_reasons(row, low_confidence))
        groups.append(ReviewGroup(
            ids=[head.id] + sorted((r.id for r in members if r.id != head.id), reverse=True),
            text=head.text,
            entities=list(head.entities or []),
            count=len(members),
            occurrences=sum(occurrences.get(exact[0].norm_key, len(exact)) for exact in cluster),
            reasons=dict(reasons),
            intents=dict(Counter(r.intent or FALLBACK_INTENT for r in members).most_common()),
            confidence=sum(r.confidence for r in members) / len(members),
            last_seen=max(r.captured_at for r in members),
            variants=[max(exact, key=lambda r: r.id).text for exact in cluster[1:6]],
        ))
    groups.sort(key=lambda g: (-g.occurrences, -g.count, -int("flagged" in g.reasons), -g.last_seen.timestamp()))
    return groups[:limit]


def find_group(session: Session, capture_id: int, **kwargs: Any) -> ReviewGroup | None:
    """The queue group holding `capture_id` (None when it is not in the queue)."""
    for group in review_queue(session, limit=10**6, **kwargs):
        if capture_id in group.ids:
            return group
    return None


__all__ = [
    "build_queue", "capture_values", "count_captures", "counts", "erase_captures", "find_group", "flag", "group_rows",
    "insert_capture", "mask_entities", "mask_personal_data", "Masked", "norm_key", "normalise", "occurrence_counts",
    "person_key", "pseudonym", "pseudonym_for", "pseudonym_secret", "purge_expired", "recent", "resolve", "review_candidates",
    "review_queue", "ReviewGroup", "similarity", "token_set",
]

"""The admins' review of captured messages (storage.nlu_capture): what deserves a look, and their decisions.

`review_queue()` lists what deserves an admin's look (fallback, low confidence, contradicted,
flagged) grouped by near-duplicates and ranked by how often such messages occur; `resolve()`
records the admin's decision; `flag()` is an official's or admin's request for a look.
Callers own the transaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from common.thai_text import tokenize
from storage.models.base import utcnow
from storage.models.nlu_capture import CAPTURE_ANNOTATED, CAPTURE_DISCARDED, CAPTURE_NEW, NluCapture
from storage.nlu_capture import normalise

FALLBACK_INTENT = "nlu_fallback"
LOW_CONFIDENCE = 0.6  # below this (and above the fallback threshold) a message is worth a look
SIMILARITY = 0.6  # token-set Jaccard at or above which two messages count as the same need

# ---------------------------------------------------------------- similarity

_PARTICLES = frozenset({"ครับ", "คับ", "ค่ะ", "คะ", "ค่า", "จ้า", "จ้ะ", "นะ", "น้า", "ฮะ", "หน่อย", "ด้วย", "ที", "ครับผม", "<", ">"})


def token_set(text: str) -> frozenset[str]:
    """Words of the normalised text (PyThaiNLP segmentation), without polite particles."""
    return frozenset(p.text for p in tokenize(normalise(text)) if p.text not in _PARTICLES)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


# ---------------------------------------------------------------- decisions


def latest_capture_from(session: Session, sender: str) -> int | None:
    """The id of the latest captured typed message (not a button) of a pseudonymous sender."""
    return session.scalar(select(NluCapture.id).where(NluCapture.sender == sender, NluCapture.via_payload.is_(False))
                          .order_by(NluCapture.id.desc()).limit(1))


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
    "FALLBACK_INTENT", "LOW_CONFIDENCE", "SIMILARITY", "build_queue", "counts", "find_group", "flag", "group_rows",
    "latest_capture_from", "occurrence_counts", "recent", "resolve", "review_candidates", "review_queue", "ReviewGroup",
    "similarity", "token_set",
]

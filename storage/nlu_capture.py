"""NLU capture: what NLU made of each user message, masked, pseudonymous, purged in time.

- `capture_values()` turns one message and Rasa's parse summary into a row: the
  sender becomes a keyed pseudonym (HMAC-SHA256 of `<channel>:<user id>`), Thai
  national ID numbers, phone numbers, e-mail addresses and other long digit runs
  are masked, entity offsets are moved to the masked text.
- `insert_capture()` writes it on the caller's connection (the gateway does so in
  the transaction that stores Rasa's answer) and marks the sender's previous
  message as contradicted when this one is a deny or a restart.
- The admins' review queue over these rows is storage.nlu_review; the keyed
  pseudonyms are storage.pseudonyms.
- `purge_expired()` enforces NLU_CAPTURE_RETENTION_DAYS; `erase_captures()` serves
  PDPA erasure (storage.privacy.erase).

Callers own the transaction. Nothing here logs message text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.orm import Session

from common.thai_text import normalise as thai_normalise
from storage.masking import MASKS, Masked, mask_entities, mask_personal_data  # noqa: F401 - re-exported (moved there)
from storage.models.base import utcnow
from storage.models.nlu_capture import CAPTURE_NEW, NluCapture
from storage.pseudonyms import SECRET_ENV, SECRET_FILE, person_key, pseudonym, pseudonym_for, pseudonym_secret

CONTRADICTING_INTENTS = frozenset({"deny", "restart"})
CONTRADICTION_WINDOW = timedelta(minutes=10)
MAX_TEXT = 2000



# ---------------------------------------------------------------- normalisation

_POLITE_TAIL = re.compile(r"(?:\s*(?:นะคะ|นะครับ|ครับผม|ครับ|คับ|ค่ะ|คะ|ค่า|จ้า|จ้ะ|จ๊ะ|ฮะ|นะ|น้า))+$")
_THAI_GAP = re.compile(r"(?<=[\u0e00-\u0e7f])\s+(?=[\u0e00-\u0e7f])")
_NOT_WORD = re.compile(r"[^\w<>\u0e00-\u0e7f]+")


def normalise(text: str) -> str:
    """Text reduced to what matters for grouping: no case, Arabic digits, no typed-out emphasis, no
    punctuation, no polite particles at the end, no spaces between Thai words."""
    text = thai_normalise(text).lower()
    text = _NOT_WORD.sub(" ", text).strip()
    text = _POLITE_TAIL.sub("", text).strip()
    text = _THAI_GAP.sub("", text)  # spaces between Thai words are a matter of taste
    return re.sub(r"\s+", " ", text)


def norm_key(text: str) -> str:
    return hashlib.blake2b(normalise(text).encode(), digest_size=16).hexdigest()


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


__all__ = [
    "SECRET_ENV", "SECRET_FILE", "capture_values", "count_captures", "erase_captures", "insert_capture", "mask_entities",
    "mask_personal_data", "Masked", "norm_key", "normalise", "person_key", "pseudonym", "pseudonym_for", "pseudonym_secret",
    "purge_expired",
]

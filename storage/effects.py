"""Side effects done once per user message: the `action_effects` table (storage/models/effects.py).

An action that changes something (files a request, cancels it, starts a handoff...) records
what it answered under (action, conversation, message id) in the same transaction as the
change. The unique key makes a second attempt for the same message fail at commit, so the
change can never be made twice, even by two attempts running at once; the loser reads
the winner's answer. See docs/idempotency.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models.base import utcnow
from storage.models.effects import ActionEffect

# How long an answer is kept for a message that may be asked again. The gateway gives up on
# a message after about half an hour of retries (connectors/worker.py MAX_ATTEMPTS); a
# message Rasa has saved is answered from its tracker, never from here.
KEEP = timedelta(days=2)
MAX_KEY = 255


@dataclass(frozen=True)
class EffectKey:
    action: str
    conversation: str
    message_id: str

    def usable(self) -> bool:
        return bool(self.action and self.conversation and self.message_id) and max(
            len(self.action), len(self.conversation), len(self.message_id)) <= MAX_KEY


@dataclass(frozen=True)
class Effect:
    events: list[dict[str, Any]]
    responses: list[dict[str, Any]]


def _where(key: EffectKey) -> Any:
    return (ActionEffect.action == key.action) & (ActionEffect.conversation == key.conversation) & (
        ActionEffect.message_id == key.message_id)


def find_effect(session: Session, key: EffectKey) -> Effect | None:
    """What the action answered when it handled this message before, or None."""
    result = session.scalar(select(ActionEffect.result).where(_where(key)))
    if result is None:
        return None
    return Effect(events=list(result.get("events") or []), responses=list(result.get("responses") or []))


def record_effect(session: Session, key: EffectKey, effect: Effect) -> None:
    """Add the row; it is flushed now, so a duplicate key fails here (IntegrityError) when the database already knows it."""
    session.add(ActionEffect(action=key.action, conversation=key.conversation, message_id=key.message_id,
                             result={"events": effect.events, "responses": effect.responses}))
    session.flush()


def purge_effects(session: Session, now: datetime | None = None, keep: timedelta = KEEP) -> int:
    """Forget answers older than `keep` (their messages are long answered or given up on)."""
    cutoff = (now or utcnow()) - keep
    return session.execute(delete(ActionEffect).where(ActionEffect.created_at < cutoff)).rowcount or 0


def erase_effects(session: Session, conversations: Iterable[str]) -> int:
    """PDPA erasure: the stored answers of these conversations (they may quote the person's request)."""
    names = sorted(set(conversations))
    if not names:
        return 0
    return session.execute(delete(ActionEffect).where(ActionEffect.conversation.in_(names))).rowcount or 0


__all__ = ["KEEP", "Effect", "EffectKey", "erase_effects", "find_effect", "purge_effects", "record_effect"]

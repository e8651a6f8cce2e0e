"""A citizen's message while their conversation is with officials: relayed, not sent to Rasa.

The gateway worker calls these where it would ask Rasa (connectors/worker.py); storage.handoff
holds the handoff records and the outbox rows that carry the relayed text to the agency's groups.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import Engine

from common.clock import now
from storage.db import session_scope
from storage.ratelimits import Limit, hit_once
from storage.handoff import BACK_TO_BOT, active_handoff, has_open_handoff, open_conversations, relay_from_citizen, release_handoff

Relayed = Literal["relayed", "released", "closed", "throttled", "throttled_quiet"]
# Relayed messages are urgent (they bypass quiet hours): one person must not flood an agency's group.
RELAY_THROTTLED = ("ขออภัยครับ ช่วงนี้มีข้อความส่งถึงเจ้าหน้าที่ถี่เกินไป ผมขอพักการส่งต่อไว้ครู่หนึ่ง "
                   "เจ้าหน้าที่ยังเห็นข้อความก่อนหน้าของคุณแล้ว รบกวนรอสักครู่แล้วค่อยส่งเพิ่มนะครับ")


def open_handoffs(engine: Engine) -> set[str]:
    """The conversations handed to officials right now."""
    with session_scope(engine) as s:
        return open_conversations(s)


def with_officials(engine: Engine, conversation: str) -> bool:
    """Whether this conversation is handed to officials now (read from the store for every message:
    no per-process cache, so every gateway sees a handoff the moment it starts)."""
    with session_scope(engine) as s:
        return has_open_handoff(s, conversation)


def relay(engine: Engine, conversation: str, text: str, event_id: int, limits: dict[str, Limit] | None = None) -> Relayed:
    """'relayed', 'released' (the citizen asked for the bot back), 'closed' (no handoff any more), or
    'throttled' (over a relay limit: say RELAY_THROTTLED) / 'throttled_quiet' (over it and already told)."""
    with session_scope(engine) as s:
        if BACK_TO_BOT.match(text):
            handoff = active_handoff(s, conversation)
            if handoff is None:
                return "closed"
            release_handoff(s, None, handoff.id)
            return "released"
        if limits:
            handoff = active_handoff(s, conversation)
            if handoff is None:
                return "closed"
            verdict = hit_once(s, f"relay:{event_id}", [(limits.get("relays"), conversation),
                                                          (limits.get("agency_relays"), f"agency:{handoff.agency}")], now())
            if not verdict.allowed:
                return "throttled" if verdict.first_refusal else "throttled_quiet"
        return "relayed" if relay_from_citizen(s, conversation, text, event_id) else "closed"

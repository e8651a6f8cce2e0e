"""A citizen's message while their conversation is with officials: relayed, not sent to Rasa.

The gateway worker calls these where it would ask Rasa (connectors/worker.py); storage.handoff
holds the handoff records and the outbox rows that carry the relayed text to the agency's groups.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import Engine

from storage.db import session_scope
from storage.handoff import BACK_TO_BOT, active_handoff, open_conversations, relay_from_citizen, release_handoff

Relayed = Literal["relayed", "released", "closed"]


def open_handoffs(engine: Engine) -> set[str]:
    """The conversations handed to officials right now."""
    with session_scope(engine) as s:
        return open_conversations(s)


def relay(engine: Engine, conversation: str, text: str, event_id: int) -> Relayed:
    """'relayed', 'released' (the citizen asked for the bot back) or 'closed' (no handoff any more)."""
    with session_scope(engine) as s:
        if BACK_TO_BOT.match(text):
            handoff = active_handoff(s, conversation)
            if handoff is None:
                return "closed"
            release_handoff(s, None, handoff.id)
            return "released"
        return "relayed" if relay_from_citizen(s, conversation, text, event_id) else "closed"

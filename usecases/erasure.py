"""PDPA erasure, carried out by the gateway after the confirming turn has finished.

Why here and not in the action: while an action runs, Rasa holds the conversation's
lock and, at the end of the turn, its SQL tracker store appends every event beyond
the count it finds stored, so tracker rows deleted from inside the action came back
(the whole session, phone number included). The action therefore only records the
decision: among its messages is one custom message `{"pdpa_erase": {...}}`, followed
by what to tell the person. When the gateway sees it in Rasa's answer:

1. Rasa forgets the person (`POST /webhooks/gateway/erase`, engine/privacy.py): their
   1:1 conversation and their turns in every group conversation, each under Rasa's
   lock, now free because the turn is over;
2. storage forgets them (storage.privacy.erase, one transaction): requests become
   anonymous statistics; inbound events (the confirming one too, so finishing it
   re-links nothing), web messages, outbox rows, NLU captures, handoffs, follow state;
3. the person is told, with the action's words when both steps worked and with an
   honest note otherwise. The marker message is never delivered.

The person is the speaker of the confirming message (its metadata), never an id the
marker carries. The confirming event is marked (`pdpa_erasing`) before anything is erased:
should the gateway stop half way, the event is still open when it restarts, and the worker
finishes the erasure from the mark instead of asking Rasa again (which, with the tracker
already erased, would not know the message any more).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from common.ids import parse_sender_id
from storage.db import session_scope
from storage.models.channels import InboundEvent
from storage.privacy import conversations_of, erase
from storage.requests import Citizen

logger = logging.getLogger(__name__)

MARKER = "pdpa_erase"
ERASING = "pdpa_erasing"  # set on the confirming event while the erasure runs: a restart finishes it
RASA_ATTEMPTS = 3
DONE_TEXT = "ลบข้อมูลส่วนบุคคลของคุณเรียบร้อยแล้วครับ ระบบไม่มีข้อมูลที่เชื่อมโยงถึงคุณแล้ว หากกลับมาใช้บริการอีก ยินดีช่วยเสมอครับ"
PARTIAL_TEXT = (
    "ลบข้อมูลที่ระบบของหน่วยงานเก็บไว้เรียบร้อยแล้วครับ แต่ยังลบบันทึกการสนทนาในระบบผู้ช่วยไม่สำเร็จ "
    "ขออภัยในความไม่สะดวก กรุณาพิมพ์ \"ลบข้อมูลของฉัน\" อีกครั้งในภายหลัง หรือติดต่อเจ้าหน้าที่ได้เลยครับ"
)
FAILED_TEXT = (
    "ขออภัยครับ ตอนนี้ระบบยังลบข้อมูลของคุณไม่สำเร็จ ข้อมูลยังไม่ถูกลบ "
    "กรุณาพิมพ์ \"ลบข้อมูลของฉัน\" อีกครั้งในภายหลัง หรือติดต่อเจ้าหน้าที่ได้เลยครับ"
)

# (channel, user id, conversations) -> {sender id: events deleted}; raises when Rasa cannot do it
EraseInRasa = Callable[[str, str, list[str]], Awaitable[dict[str, int]]]


@dataclass(frozen=True)
class Person:
    channel: str
    user_id: str
    conversation: str  # where they confirmed (their 1:1 chat)

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.user_id}"


@dataclass(frozen=True)
class Outcome:
    replies: list[dict[str, Any]]  # what to tell the person (the marker removed)
    rasa_erased: bool
    stored_erased: bool
    conversations: tuple[str, ...] = ()


def requested(replies: list[dict[str, Any]]) -> bool:
    """Does Rasa's answer carry the action's erasure decision?"""
    return any(isinstance(r.get("custom"), dict) and MARKER in r["custom"] for r in replies)


def without_marker(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = []
    for reply in replies:
        custom = reply.get("custom")
        if isinstance(custom, dict) and MARKER in custom:
            rest = {k: v for k, v in custom.items() if k != MARKER}
            if not reply.get("text") and not reply.get("buttons") and not rest:
                continue
            reply = {**reply, "custom": rest or None}
        kept.append(reply)
    return kept


def interrupted(metadata: dict[str, Any]) -> bool:
    """Was an erasure started for this event and cut short (the gateway stopped)? Then finish it, without asking Rasa."""
    return metadata.get(ERASING) is True


def _mark_erasing(engine: Engine, event_id: int) -> None:
    with session_scope(engine) as session:
        event = session.get(InboundEvent, event_id)
        if event is not None:
            event.metadata_ = {**(event.metadata_ or {}), ERASING: True}


def person_of(conversation: str, metadata: dict[str, Any]) -> Person:
    """The speaker of the confirming message, read as actions.identity.speaker_of reads it."""
    parsed = parse_sender_id(conversation)
    channel = str(metadata.get("channel") or parsed.channel)
    chat_id = str(metadata.get("chat_id") or parsed.chat_id or conversation)
    return Person(channel=channel, user_id=str(metadata.get("user_id") or parsed.user_id or chat_id), conversation=conversation)


def _conversations(engine: Engine, person: Person) -> list[str]:
    with session_scope(engine) as session:
        return conversations_of(session, person.channel, person.user_id, person.conversation)


def _erase_stored(engine: Engine, person: Person, conversations: list[str], up_to_event: int | None) -> None:
    citizen = Citizen(key=person.key, channel=person.channel, reply_to=person.user_id)
    with session_scope(engine) as session:
        erase(session, citizen, person.conversation, conversations=conversations, up_to_event=up_to_event)
    if engine.dialect.name == "sqlite":
        # secure_delete overwrote the rows in the database file; old page images can still sit in the
        # write-ahead log until a checkpoint copies them back: do it now (best effort, readers may hold it).
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception as exc:  # noqa: BLE001 - the next automatic checkpoint does it
            logger.info("erasure: WAL checkpoint postponed (%s)", type(exc).__name__)


async def carry_out(
    engine: Engine, erase_in_rasa: EraseInRasa, person: Person, replies: list[dict[str, Any]], *,
    event_id: int | None = None, retry_delay: float = 1.0,
) -> Outcome:
    """Erase the person everywhere, then say so (the replies to deliver instead of Rasa's)."""
    told = without_marker(replies) or [_text(DONE_TEXT)]
    try:
        if event_id is not None:
            await asyncio.to_thread(_mark_erasing, engine, event_id)
        conversations = await asyncio.to_thread(_conversations, engine, person)
    except Exception as exc:  # noqa: BLE001 - nothing erased yet: say so, nothing half done
        logger.error("erasure: could not read the person's conversations (%s)", type(exc).__name__)
        return Outcome([_text(FAILED_TEXT)], rasa_erased=False, stored_erased=False)
    rasa_erased = False
    for attempt in range(RASA_ATTEMPTS):
        try:
            await erase_in_rasa(person.channel, person.user_id, conversations)
            rasa_erased = True
            break
        except Exception as exc:  # noqa: BLE001 - Rasa down or refusing: try again, then report honestly
            logger.warning("erasure: Rasa did not erase (attempt %d: %s)", attempt + 1, type(exc).__name__)
            if attempt + 1 < RASA_ATTEMPTS:
                await asyncio.sleep(retry_delay * 2**attempt)
    try:
        await asyncio.to_thread(_erase_stored, engine, person, conversations, event_id)
        stored_erased = True
    except Exception as exc:  # noqa: BLE001
        logger.error("erasure: storage not erased (%s)", type(exc).__name__)
        stored_erased = False
    if rasa_erased and stored_erased:
        # A group message of theirs that was being answered while Rasa erased may have been saved after
        # its conversation was done; one more pass, now that its stored event is gone, catches it.
        try:
            await erase_in_rasa(person.channel, person.user_id, conversations)
        except Exception as exc:  # noqa: BLE001 - the first pass succeeded; this one is a sweep
            logger.info("erasure: second pass in Rasa skipped (%s)", type(exc).__name__)
    if rasa_erased and stored_erased:
        replies_out = told
    elif stored_erased:
        replies_out = [_text(PARTIAL_TEXT)]
    else:
        replies_out = [_text(FAILED_TEXT)]
    logger.info("erasure: %d conversation(s); rasa %s, storage %s", len(conversations), "ok" if rasa_erased else "FAILED",
                "ok" if stored_erased else "FAILED")
    return Outcome(replies_out, rasa_erased, stored_erased, tuple(conversations))


def _text(text: str) -> dict[str, Any]:
    return {"text": text, "buttons": [], "custom": None}


__all__ = [
    "DONE_TEXT", "ERASING", "FAILED_TEXT", "MARKER", "PARTIAL_TEXT", "Outcome", "Person", "carry_out", "interrupted", "person_of",
    "requested", "without_marker",
]

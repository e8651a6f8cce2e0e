"""Deciding the answer to one stored message, once: where a message is handled.

An official's command runs here (usecases.admin_commands), a conversation handed to officials
is relayed here (usecases.handoff_relay), and everything else is asked of Rasa under a stable
message id. What this returns is then only delivered (connectors.worker): a retried send never
decides again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from common import clock as app_clock
from connectors.dbcall import db
from common.ids import COMMAND_TEXT
from connectors.payloads import rasa_message
from connectors.rasa_client import RasaAnswer, RasaClient
from connectors.replies import normalise
from common.wording.emergency import emergency_reply
from common.wording.handoff import BOT_IS_BACK
from storage.db import session_scope
from storage.inbound import Event
from storage.ratelimits import Limit, Verdict, hit_once
from storage.nlu_capture import capture_values
from usecases.admin_commands import answer_command
from usecases.emergency import detect as detect_emergency
from usecases.handoff_relay import RELAY_THROTTLED, relay, with_officials

logger = logging.getLogger(__name__)

Replies = list[dict[str, Any]]


def text_reply(text: str) -> dict[str, Any]:
    return {"text": text, "buttons": [], "custom": None}


SLOW_DOWN = ("ขออภัยครับ ตอนนี้มีข้อความเข้ามาถี่มาก ผมขอพักรับข้อความสักครู่ "
             "รบกวนรอประมาณหนึ่งนาทีแล้วส่งมาใหม่นะครับ ข้อความที่ส่งมาระหว่างนี้ผมจะยังไม่ได้ตอบครับ")


UNREADABLE = "ขออภัยครับ ผมอ่านข้อความนี้ไม่ออก รบกวนพิมพ์เป็นข้อความอีกครั้งนะครับ"


def truncated_note(limit: int) -> str:
    return f"ข้อความยาวเกินไป ผมอ่านเฉพาะ {limit:,} ตัวอักษรแรกนะครับ"


def _private(event: Event) -> bool:
    """A one-to-one chat (officials' groups talk about cases; their words are not emergencies)."""
    return str(event.metadata.get("chat_type") or "private") == "private"


def message_id(event: Event) -> str:
    """The id Rasa knows this message by: the same however often it is asked."""
    return f"{event.channel}-{event.id}-{int(event.received_at.timestamp() * 1_000_000)}"


class Answerer:
    """Turns a stored event into neutral replies (and Rasa's reading of it, for NLU capture)."""

    def __init__(self, engine: Engine, rasa: RasaClient, *, started_at: datetime, stats: dict[str, int], max_text: int = 2000,
                 log_text: bool = False, capture_secret: bytes | None = None, limits: dict[str, Limit] | None = None) -> None:
        self.engine = engine
        self.rasa = rasa
        self.started_at = started_at
        self.stats = stats
        self.max_text = max_text
        self.log_text = log_text
        self.capture_secret = capture_secret  # None: NLU capture off
        self._asked: set[int] = set()  # events sent to Rasa by this gateway and not finished yet
        self.limits = limits or {}  # storage.ratelimits: messages per person / per group chat

    async def answer(self, event: Event, while_waiting: Callable[[Event], Awaitable[None]]) -> tuple[Replies, dict[str, Any] | None]:
        """(replies, NLU's reading of the message when Rasa parsed it); raises when Rasa cannot answer now."""
        if event.kind in ("message", "admin_command") and self.limits:
            verdict = await db(self.engine, self._count, event)
            if not verdict.allowed:  # a flood: told once per window, then the rest stays unanswered
                self.stats["rate_limited"] = self.stats.get("rate_limited", 0) + 1
                return ([text_reply(SLOW_DOWN)] if verdict.first_refusal else []), None
        if event.kind == "admin_command":
            return [text_reply(await db(self.engine, answer_command, self.engine, event))], None
        replies: Replies = []
        if event.metadata.get("truncated"):
            replies.append(text_reply(truncated_note(self.max_text)))
        if event.kind != "message":
            return replies, None
        if not event.text.strip():  # only control or formatting characters: nothing left to read, but say so
            return replies + [text_reply(UNREADABLE)], None
        # A danger to life gets its emergency number first, decided here without Rasa (usecases/emergency.py):
        # it cannot wait on the model or on a Rasa that is slow or down. Never logged (sensitive).
        emergency = detect_emergency(event.text[: self.max_text]) if _private(event) else None
        if emergency is not None:
            self.stats["emergency_replies"] = self.stats.get("emergency_replies", 0) + 1
            replies.append(emergency_reply(emergency.categories))
        if await self._with_officials(event):  # officials see the message too (after the number, not instead of it)
            relayed = await db(self.engine, relay, self.engine, event.conversation, event.text[: self.max_text], event.id, self.limits)
            if relayed == "relayed":
                self.stats["relayed_to_officials"] += 1
                return replies, None
            if relayed in ("throttled", "throttled_quiet"):
                return replies + ([text_reply(RELAY_THROTTLED)] if relayed == "throttled" else []), None
            if relayed == "released":
                return replies + [text_reply(BOT_IS_BACK)], None
        if emergency is not None:  # the number and what to do is the whole answer: Rasa's would only dilute it
            return replies, None
        if self.log_text:
            logger.debug("event %d to Rasa (%d characters)", event.id, len(event.text or ""))
        slow = asyncio.create_task(while_waiting(event))
        resumed = self._resumed(event)
        self._asked.add(event.id)
        try:
            # a typed "/intent{...}" is words unless a button's shape; an officials' command is its intent
            text, added = rasa_message(event.text[: self.max_text])
            metadata = {**{k: v for k, v in event.metadata.items() if k != COMMAND_TEXT}, **added}
            answer: RasaAnswer = await self.rasa.ask(event.conversation, text, metadata,
                                                     message_id=message_id(event), resumed=resumed)
        finally:
            slow.cancel()
        return replies + normalise(answer.messages), answer.nlu

    def _count(self, event: Event) -> Verdict:
        """Count this message against the sender's and their group chat's limits (one transaction)."""
        person = f"{event.metadata.get('channel') or event.channel}:{event.metadata.get('user_id') or event.conversation}"
        checks = [(self.limits.get("messages"), person)]
        if str(event.metadata.get("chat_type") or "private") != "private":
            checks.append((self.limits.get("group_messages"), event.conversation))
        with session_scope(self.engine) as s:  # once per event, however often (and by whichever gateway) it is handled
            return hit_once(s, f"message:{event.id}", checks, app_clock.now())

    def capture(self, event: Event, nlu: dict[str, Any] | None) -> dict[str, Any] | None:
        """The NLU capture row for this message, or None (capture off, a button, a command)."""
        if nlu is None or self.capture_secret is None or event.kind != "message":
            return None
        return capture_values(text=event.text[: self.max_text], conversation=event.conversation, metadata=event.metadata,
                              nlu=nlu, secret=self.capture_secret)

    def finished(self, event_id: int) -> None:
        self._asked.discard(event_id)

    def may_have_been_asked(self, event_id: int) -> None:
        """Another gateway may have asked Rasa about this event (its claim was taken over): ask as resumed."""
        self._asked.add(event_id)

    def _resumed(self, event: Event) -> bool:
        """Might Rasa have seen this event already? (an earlier attempt, or an earlier gateway)"""
        return event.attempts > 0 or event.received_at < self.started_at or event.id in self._asked

    async def _with_officials(self, event: Event) -> bool:
        """Is this conversation handed to officials? Asked of the store for every message (whichever gateway
        handles it, a handoff counts from its first moment: no cached view, no race with a just-started handoff)."""
        try:
            return await db(self.engine, with_officials, self.engine, event.conversation, quick=True)
        except Exception:  # noqa: BLE001 - a missing table (old database) or a blip: answer as usual
            return False

"""The worker's memory of freshly stored events: never a message skipped, repeated or reordered.

The worker takes the next event of a conversation from what this gateway's webhooks
just stored instead of reading it back, but only while it knows every open event of
that conversation; these tests try the ways that knowledge could be wrong.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

import connectors.worker as worker_module
from connectors.rasa_client import RasaAnswer, RasaUnavailable
from connectors.worker import Worker
from storage.db import session_scope
from storage.inbound import Event, store_new_event
from storage.models.channels import InboundEvent

pytestmark = pytest.mark.timeout(60)


class StubRasa:
    """Answers 'ตอบ: <text>' after a short pause; can be switched off."""

    def __init__(self, delay: float = 0.005) -> None:
        self.delay = delay
        self.up = True
        self.asked: list[tuple[str, str]] = []

    async def ask(self, sender: str, text: str, metadata: dict[str, Any], message_id: str | None = None,
                  resumed: bool = False) -> RasaAnswer:
        await asyncio.sleep(self.delay)
        if not self.up:
            raise RasaUnavailable("down")
        self.asked.append((sender, text))
        return RasaAnswer([{"recipient_id": sender, "text": f"ตอบ: {text}"}])


@pytest.fixture
def engine(sqlite_engine):
    return sqlite_engine


def _store(engine, conversation: str, text: str) -> Event:
    event = store_new_event(engine, channel="line", external_id=f"{conversation}-{text}", conversation=conversation, text=text,
                            metadata={"channel": "line", "chat_id": conversation, "chat_type": "private"}, reply_token=None)
    assert event is not None
    return event


async def _settle(worker: Worker, engine, expected: int, timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        with session_scope(engine) as s:
            done = len(s.scalars(select(InboundEvent.id).where(InboundEvent.state == "done")).all())
        if done >= expected and not worker._running:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"only {done} of {expected} events done")


def _worker(engine, rasa: StubRasa, delivered: list[tuple[str, str]]) -> Worker:
    async def deliver(event: Event, replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        delivered.extend((event.conversation, r["text"]) for r in replies)
        return []

    return Worker(engine, rasa, deliver, poll_interval=0.05)  # type: ignore[arg-type]


async def test_fresh_events_are_answered_in_order_once_without_reading_them_back(engine, monkeypatch) -> None:
    reads: list[str] = []
    real_next_open = worker_module.next_open_event

    def counting_next_open(engine_: Any, conversation: str) -> Event | None:
        reads.append(conversation)
        return real_next_open(engine_, conversation)

    monkeypatch.setattr(worker_module, "next_open_event", counting_next_open)
    rasa, delivered = StubRasa(), []
    worker = _worker(engine, rasa, delivered)
    worker.start()
    try:
        for round_ in range(5):
            for conversation in ("line:Ua", "line:Ub", "line:Uc"):
                worker.stored([await asyncio.to_thread(_store, engine, conversation, f"ข้อความ {round_}")])
            await asyncio.sleep(0.01)
        await _settle(worker, engine, 15)
    finally:
        await worker.stop()
    for conversation in ("line:Ua", "line:Ub", "line:Uc"):
        assert [t for c, t in delivered if c == conversation] == [f"ตอบ: ข้อความ {i}" for i in range(5)]
    assert len(rasa.asked) == 15
    # each conversation was read from the store once, to learn it had nothing older open; then memory served it
    assert len(reads) <= 6, reads


async def test_an_event_the_worker_was_not_handed_is_still_answered(engine) -> None:
    rasa, delivered = StubRasa(), []
    worker = _worker(engine, rasa, delivered)
    worker.start()
    try:
        worker.stored([await asyncio.to_thread(_store, engine, "line:Ua", "หนึ่ง")])
        await _settle(worker, engine, 1)
        # the conversation is now known to the worker; an event reaches the store some other way
        await asyncio.to_thread(_store, engine, "line:Ua", "สอง")
        await _settle(worker, engine, 2)
        worker.stored(["line:Ua"])  # a caller that only names the conversation
        await asyncio.to_thread(_store, engine, "line:Ua", "สาม")
        worker.stored(["line:Ua"])
        await _settle(worker, engine, 3)
    finally:
        await worker.stop()
    assert delivered == [("line:Ua", "ตอบ: หนึ่ง"), ("line:Ua", "ตอบ: สอง"), ("line:Ua", "ตอบ: สาม")]


async def test_a_retry_keeps_later_messages_behind_it(engine, monkeypatch) -> None:
    monkeypatch.setattr(worker_module, "backoff", lambda attempts: __import__("datetime").timedelta(seconds=0.2))
    rasa, delivered = StubRasa(), []
    worker = _worker(engine, rasa, delivered)
    worker.start()
    try:
        worker.stored([await asyncio.to_thread(_store, engine, "line:Ua", "ก่อน")])
        await _settle(worker, engine, 1)
        rasa.up = False
        worker.stored([await asyncio.to_thread(_store, engine, "line:Ua", "หนึ่ง")])
        await asyncio.sleep(0.1)
        worker.stored([await asyncio.to_thread(_store, engine, "line:Ua", "สอง")])  # arrives while "หนึ่ง" waits for Rasa
        await asyncio.sleep(0.3)
        rasa.up = True
        await _settle(worker, engine, 3)
    finally:
        await worker.stop()
    assert delivered == [("line:Ua", "ตอบ: ก่อน"), ("line:Ua", "ตอบ: หนึ่ง"), ("line:Ua", "ตอบ: สอง")]
    assert [t for _, t in rasa.asked] == ["ก่อน", "หนึ่ง", "สอง"]


async def test_when_rasa_answers_again_messages_from_the_outage_do_not_wait_out_their_backoff(engine, monkeypatch) -> None:
    """A message that met a Rasa outage waits (here) 10 minutes for its next try; once Rasa answers
    anyone again, it goes at once: after an outage nobody waits out a backoff."""
    monkeypatch.setattr(worker_module, "backoff", lambda attempts: __import__("datetime").timedelta(minutes=10))
    rasa, delivered = StubRasa(), []
    worker = _worker(engine, rasa, delivered)
    worker.start()
    try:
        rasa.up = False
        worker.stored([await asyncio.to_thread(_store, engine, "line:Ua", "ระหว่างล่ม")])
        while not worker.stats["rasa_failures"]:
            await asyncio.sleep(0.02)
        rasa.up = True
        worker.stored([await asyncio.to_thread(_store, engine, "line:Ub", "หลังกลับมา")])
        await _settle(worker, engine, 2, timeout=15)
    finally:
        await worker.stop()
    assert sorted(delivered) == [("line:Ua", "ตอบ: ระหว่างล่ม"), ("line:Ub", "ตอบ: หลังกลับมา")]


async def test_events_stored_while_the_store_is_being_asked_are_not_lost(engine) -> None:
    """Many conversations, messages arriving while earlier ones are finished: every one answered once, in order."""
    rasa, delivered = StubRasa(delay=0.001), []
    worker = _worker(engine, rasa, delivered)
    worker.start()
    conversations = [f"line:U{i}" for i in range(8)]

    async def talk(conversation: str) -> None:
        for n in range(12):
            worker.stored([await asyncio.to_thread(_store, engine, conversation, f"m{n}")])
            await asyncio.sleep(0.002 * (n % 3))

    try:
        await asyncio.gather(*(talk(c) for c in conversations))
        await _settle(worker, engine, 8 * 12)
    finally:
        await worker.stop()
    for conversation in conversations:
        assert [t for c, t in delivered if c == conversation] == [f"ตอบ: m{n}" for n in range(12)]


async def test_a_late_hand_over_of_an_event_already_handled_from_the_store_is_dropped(engine) -> None:
    """A webhook's hand-over can come after the worker found the event in the store (storage waited in a thread)."""
    rasa, delivered = StubRasa(), []
    worker = _worker(engine, rasa, delivered)
    worker.start()
    try:
        worker.stored([await asyncio.to_thread(_store, engine, "line:Ua", "หนึ่ง")])
        await _settle(worker, engine, 1)
        late = await asyncio.to_thread(_store, engine, "line:Ua", "สอง")  # stored; its hand-over is still on the way
        await _settle(worker, engine, 2)  # the periodic scan found it in the store and handled it
        worker.stored([late])  # ...and now the hand-over arrives
        await asyncio.sleep(0.3)
        await _settle(worker, engine, 2)
    finally:
        await worker.stop()
    assert delivered == [("line:Ua", "ตอบ: หนึ่ง"), ("line:Ua", "ตอบ: สอง")]
    assert [t for _, t in rasa.asked] == ["หนึ่ง", "สอง"]

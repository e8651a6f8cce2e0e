"""The worker with claims (several gateways), two workers in one process sharing a database."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from typing import Any

import pytest
from sqlalchemy import Engine

from connectors.rasa_client import RasaAnswer
from connectors.worker import Worker
from storage import claims
from storage.inbound import Event, counts_by_state, store_new_event

pytestmark = pytest.mark.timeout(90)


async def _until(condition: Any, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


class Rasa:
    """Answers after a short wait, recording what it was asked; `hang` makes it never answer."""

    def __init__(self, name: str, log: list[tuple[str, str, str, bool]]) -> None:
        self.name, self.log, self.hang = name, log, False

    async def ask(self, sender: str, text: str, metadata: dict[str, Any], message_id: str | None = None,
                  resumed: bool = False) -> RasaAnswer:
        self.log.append((self.name, sender, message_id or "", resumed))
        if self.hang:
            await asyncio.Event().wait()
        await asyncio.sleep(0.005)
        return RasaAnswer([{"recipient_id": sender, "text": f"ตอบ: {text}"}])


def _store(engine: Engine, conversation: str, n: int) -> Event:
    event = store_new_event(engine, channel="line", external_id=f"{conversation}-{n}", conversation=conversation, text=f"ข้อความ {n}",
                            metadata={"chat_id": conversation, "chat_type": "private"})
    assert event is not None
    return event


def _workers(engine: Engine, delivered: list[tuple[str, Event]], log: list[tuple[str, str, str, bool]]) -> tuple[Worker, Worker]:
    def deliver_as(name: str):  # type: ignore[no-untyped-def]
        async def deliver(event: Event, replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
            delivered.append((name, event))
            return []

        return deliver

    a = Worker(engine, Rasa("a", log), deliver_as("a"), poll_interval=0.05, claims=True, owner="gw-a")  # type: ignore[arg-type]
    b = Worker(engine, Rasa("b", log), deliver_as("b"), poll_interval=0.05, claims=True, owner="gw-b")  # type: ignore[arg-type]
    return a, b


async def test_two_workers_share_conversations_in_order_once(db_engine: Engine) -> None:
    delivered: list[tuple[str, Event]] = []
    log: list[tuple[str, str, str, bool]] = []
    a, b = _workers(db_engine, delivered, log)
    a.start()
    b.start()
    try:
        for n in range(5):
            for c in range(8):
                event = _store(db_engine, f"line:U{c}", n)
                (a if (c + n) % 2 else b).stored([event])  # each message announced by one gateway, alternately
        await _until(lambda: len(delivered) >= 40)
        await asyncio.sleep(0.2)  # a duplicate would be delivered now
    finally:
        await a.stop()
        await b.stop()
    assert len(delivered) == 40
    assert max(Counter(e.id for _, e in delivered).values()) == 1, "each event delivered once"
    assert max(Counter(m for _, _, m, _ in log).values()) == 1, "each message asked of Rasa once"
    per_conversation: dict[str, list[str]] = defaultdict(list)
    for _, event in delivered:
        per_conversation[event.conversation].append(event.text)
    assert all(texts == [f"ข้อความ {n}" for n in range(5)] for texts in per_conversation.values()), "in order"
    assert counts_by_state(db_engine) == {"done": 40}
    assert claims.holders(db_engine) == {}


async def test_events_stored_by_another_gateway_are_picked_up(db_engine: Engine) -> None:
    delivered: list[tuple[str, Event]] = []
    log: list[tuple[str, str, str, bool]] = []
    a, _ = _workers(db_engine, delivered, log)
    a.start()
    try:
        for n in range(3):
            _store(db_engine, "line:Uelsewhere", n)  # stored by a gateway that died before handling them: nobody announces them
        await _until(lambda: len(delivered) == 3)
    finally:
        await a.stop()
    assert [e.text for _, e in delivered] == ["ข้อความ 0", "ข้อความ 1", "ข้อความ 2"]
    assert [resumed for *_, resumed in log] == [False, False, False]


async def test_a_stopped_gateways_conversation_is_taken_over_and_asked_as_resumed(db_engine: Engine) -> None:
    delivered: list[tuple[str, Event]] = []
    log: list[tuple[str, str, str, bool]] = []
    a, b = _workers(db_engine, delivered, log)
    a.answerer.rasa.hang = True  # type: ignore[attr-defined]
    a.start()
    event = _store(db_engine, "line:Uhang", 0)
    a.stored([event])
    await _until(lambda: len(log) == 1)
    assert claims.holders(db_engine) == {"line:Uhang": "gw-a"}
    b.start()
    try:
        await asyncio.sleep(0.2)
        assert len(log) == 1, "held by a: b leaves it"
        await a.stop()  # puts its claims back
        await _until(lambda: len(delivered) == 1)
    finally:
        await b.stop()
    (_, _, first_id, first_resumed), (who, _, second_id, second_resumed) = log
    assert who == "b" and first_id == second_id
    assert (first_resumed, second_resumed) == (False, True), "a may have reached Rasa: asked again as resumed"
    assert delivered[0][0] == "b"

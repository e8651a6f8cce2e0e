"""A message Rasa may already have handled is asked again as `resumed`, with the same message id."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

import connectors.worker as worker_module
from connectors.rasa_client import RasaAnswer, RasaUnavailable
from connectors.worker import Worker
from storage.inbound import Event, store_new_event

pytestmark = pytest.mark.timeout(60)


async def _until(condition: Any, timeout: float = 4.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)


class TimingOutRasa:
    """Handles the first attempt but the answer never arrives (a timeout), then answers normally."""

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, bool]] = []

    async def ask(self, sender: str, text: str, metadata: dict[str, Any], message_id: str | None = None,
                  resumed: bool = False) -> RasaAnswer:
        self.calls.append((message_id, resumed))
        if len(self.calls) == 1:
            raise RasaUnavailable("TimeoutError")
        return RasaAnswer([{"recipient_id": sender, "text": f"ตอบ: {text}"}])


async def test_a_timed_out_attempt_is_asked_again_as_resumed_with_the_same_id(sqlite_engine, monkeypatch) -> None:
    monkeypatch.setattr(worker_module, "backoff", lambda attempts: timedelta(seconds=0.1))
    engine = sqlite_engine
    delivered: list[str] = []

    async def deliver(event: Event, replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        delivered.extend(r["text"] for r in replies)
        return []

    rasa = TimingOutRasa()
    worker = Worker(engine, rasa, deliver, poll_interval=0.05)  # type: ignore[arg-type]
    worker.start()
    try:
        event = store_new_event(engine, channel="line", external_id="t1", conversation="line:Ua", text="สวัสดี",
                                metadata={"chat_id": "Ua", "chat_type": "private"})
        assert event is not None
        worker.stored([event])
        await _until(lambda: delivered)
    finally:
        await worker.stop()
    (first_id, first_resumed), (second_id, second_resumed) = rasa.calls
    assert first_id and first_id == second_id
    assert (first_resumed, second_resumed) == (False, True)
    assert delivered == ["ตอบ: สวัสดี"]


async def test_an_event_left_by_an_earlier_gateway_is_resumed(sqlite_engine) -> None:
    engine = sqlite_engine
    left = store_new_event(engine, channel="line", external_id="old", conversation="line:Ub", text="ค้างไว้",
                           metadata={"chat_id": "Ub", "chat_type": "private"})
    assert left is not None
    calls: list[tuple[str | None, bool]] = []

    class Rasa:
        async def ask(self, sender: str, text: str, metadata: dict[str, Any], message_id: str | None = None,
                      resumed: bool = False) -> RasaAnswer:
            calls.append((message_id, resumed))
            return RasaAnswer([{"recipient_id": sender, "text": "ตอบ"}])

    async def deliver(event: Event, replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return []

    worker = Worker(engine, Rasa(), deliver, poll_interval=0.05)  # type: ignore[arg-type]
    worker.start()
    try:
        fresh = store_new_event(engine, channel="line", external_id="new", conversation="line:Uc", text="ใหม่",
                                metadata={"chat_id": "Uc", "chat_type": "private"})
        assert fresh is not None
        worker.stored([fresh])
        await _until(lambda: len(calls) == 2)
    finally:
        await worker.stop()
    assert sorted(resumed for _, resumed in calls) == [False, True]  # the old one resumed, the new one not
    assert worker.message_id(left) in {mid for mid, resumed in calls if resumed}

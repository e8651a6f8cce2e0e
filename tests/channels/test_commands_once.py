"""An official's command runs once per message: where the message is handled, never on the delivery path."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import connectors.answering as answering_module
from connectors.app import make_deliver
from connectors.channel import DeliveryError
from connectors.gateway_state import GatewayState
from connectors.worker import Worker
from storage.db import session_scope
from storage.inbound import Event, store_new_event
from storage.officials import find_official, register_official
from tests.channels.conftest import make_settings

pytestmark = pytest.mark.timeout(60)


class NeverAsked:
    async def ask(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a command never reaches Rasa")


class FlakyChannel:
    """Fails the first send (a 5xx or a timeout on the platform's side), then accepts."""

    def __init__(self) -> None:
        self.attempts: list[list[str]] = []

    async def deliver(self, event: Event, replies: list[dict[str, Any]], tag: str = "reply") -> None:
        self.attempts.append([r["text"] for r in replies])
        if len(self.attempts) == 1:
            raise DeliveryError("Telegram 502", retry_after=0.0)


async def test_a_retried_delivery_sends_the_same_answer_and_never_runs_the_command_again(tmp_path, sqlite_engine, monkeypatch) -> None:
    engine = sqlite_engine
    with session_scope(engine) as s:
        register_official(s, channel="telegram", user_id="111", agency="กรมสรรพากร", role="admin")
    runs: list[str] = []
    real = answering_module.answer_command

    def counting(engine_: Any, event: Event) -> str:
        runs.append(event.text)
        return real(engine_, event)

    monkeypatch.setattr(answering_module, "answer_command", counting)
    channel = FlakyChannel()
    holder: dict[str, GatewayState] = {}
    worker = Worker(engine, NeverAsked(), make_deliver(holder), poll_interval=0.05)  # type: ignore[arg-type]
    holder["state"] = GatewayState(settings=make_settings(tmp_path), engine=engine, worker=worker, channels={"telegram": channel})
    worker.start()
    try:
        event = store_new_event(engine, channel="telegram", external_id="cmd-1", conversation="telegram:-100", kind="admin_command",
                                text="/register 222 กรมสรรพากร coordinator",
                                metadata={"channel": "telegram", "chat_id": "-100", "chat_type": "group", "user_id": "111",
                                          "display_name": "สมชาย"})
        assert event is not None
        done = worker.waiter(event.id)
        worker.stored([event])
        await asyncio.wait_for(done.wait(), timeout=20)
    finally:
        await worker.stop()
    assert runs == ["/register 222 กรมสรรพากร coordinator"]  # once, although the reply was sent twice
    assert len(channel.attempts) == 2 and channel.attempts[0] == channel.attempts[1]
    assert "ลงทะเบียน 222 เป็นเจ้าหน้าที่ กรมสรรพากร (สิทธิ์ coordinator) แล้วครับ" in channel.attempts[1]
    with session_scope(engine) as s:
        assert find_official(s, "telegram", "222").role == "coordinator"

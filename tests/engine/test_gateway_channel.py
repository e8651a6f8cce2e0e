"""The gateway input channel: NLU's reading of a message comes back with the bot's messages."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from engine.channel import GatewayInput, nlu_summary

PARSE = {
    "text": "ต่อใบขับขี่ที่ขนส่ง",
    "intent": {"name": "ask_service_info", "confidence": 0.93},
    "entities": [{"entity": "service", "start": 3, "end": 11, "value": "ใบขับขี่", "extractor": "DIETClassifier", "confidence_entity": 0.9}],
    "intent_ranking": [{"name": "ask_service_info", "confidence": 0.93}, {"name": "request_service", "confidence": 0.05},
                       {"name": "search_law", "confidence": 0.01}, {"name": "greet", "confidence": 0.01}],
}


class StubProcessor:
    def __init__(self) -> None:
        self.parsed: list[str] = []

    async def parse_message(self, message: Any, tracker: Any = None) -> dict[str, Any]:
        self.parsed.append(message.text)
        return dict(PARSE, text=message.text)


class StubAgent:
    def __init__(self) -> None:
        self.processor = StubProcessor()
        self.handled: list[Any] = []

    async def handle_message(self, message: Any) -> None:
        self.handled.append(message)
        await message.output_channel.send_text_message(message.sender_id, "ตอบแล้วครับ")


def test_summary_keeps_intent_confidence_entities_and_top_three() -> None:
    summary = nlu_summary(PARSE)
    assert summary == {
        "intent": "ask_service_info", "confidence": 0.93,
        "entities": [{"entity": "service", "start": 3, "end": 11, "value": "ใบขับขี่", "extractor": "DIETClassifier"}],
        "ranking": [{"name": "ask_service_info", "confidence": 0.93}, {"name": "request_service", "confidence": 0.05},
                    {"name": "search_law", "confidence": 0.01}],
    }
    assert nlu_summary(None) is None


def test_with_include_nlu_the_message_is_parsed_once_and_rasa_gets_the_parse() -> None:
    agent = StubAgent()
    body = {"sender": "line:U1", "message": "ต่อใบขับขี่ที่ขนส่ง", "metadata": {"channel": "line"}, "include_nlu": True}
    answer = asyncio.run(GatewayInput().answer(body, body["metadata"], agent, agent.handle_message))
    assert answer["messages"] == [{"recipient_id": "line:U1", "text": "ตอบแล้วครับ"}]
    assert answer["nlu"]["intent"] == "ask_service_info"
    assert agent.processor.parsed == ["ต่อใบขับขี่ที่ขนส่ง"]
    handled = agent.handled[0]
    assert handled.parse_data["intent"]["name"] == "ask_service_info"  # Rasa uses it instead of parsing again
    assert handled.metadata == {"channel": "line"} and handled.input_channel == "gateway"


def test_without_the_flag_the_answer_is_the_rest_channel_list() -> None:
    agent = StubAgent()
    body = {"sender": "line:U1", "message": "สวัสดี"}
    answer = asyncio.run(GatewayInput().answer(body, None, agent, agent.handle_message))
    assert answer == [{"recipient_id": "line:U1", "text": "ตอบแล้วครับ"}]
    assert agent.processor.parsed == [] and agent.handled[0].parse_data is None


def test_no_model_loaded_still_answers_without_nlu() -> None:
    agent = StubAgent()
    agent.processor = None  # type: ignore[assignment]
    body = {"sender": "line:U1", "message": "สวัสดี", "include_nlu": True}
    answer = asyncio.run(GatewayInput().answer(body, None, agent, agent.handle_message))
    assert answer["nlu"] is None and len(answer["messages"]) == 1


def test_the_trained_assistant_answers_with_its_parse(trained_model: Path) -> None:
    """The real processor: one parse per message, and Rasa answers as without the flag."""
    from rasa.core.agent import load_agent

    async def run() -> tuple[Any, int]:
        agent = await load_agent(model_path=str(trained_model))
        calls = 0
        original = agent.processor.parse_message

        async def counting(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            return await original(*args, **kwargs)

        agent.processor.parse_message = counting  # type: ignore[method-assign]
        body = {"sender": "web:engine-test", "message": "สวัสดีครับ", "include_nlu": True,
                "metadata": {"channel": "web", "user_id": "engine-test", "chat_id": "engine-test", "chat_type": "private"}}
        return await GatewayInput().answer(body, body["metadata"], agent, agent.handle_message), calls

    answer, calls = asyncio.run(run())
    assert answer["nlu"]["intent"] == "greet" and answer["nlu"]["confidence"] > 0.5
    assert answer["messages"] and calls == 1


class StubTracker:
    def __init__(self, events: list[Any]) -> None:
        self.events = events


class StubTrackerStore:
    def __init__(self, events: list[Any]) -> None:
        self.tracker = StubTracker(events)

    async def retrieve(self, sender_id: str) -> StubTracker:
        return self.tracker


def _agent_that_handled_m1() -> StubAgent:
    from rasa.core.lock_store import InMemoryLockStore
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

    agent = StubAgent()
    agent.tracker_store = StubTrackerStore([  # type: ignore[attr-defined]
        UserUttered("ก่อนหน้า", message_id="m0"),
        BotUttered("คำตอบเก่า"),
        UserUttered("ต่อใบขับขี่ที่ขนส่ง", intent=PARSE["intent"], parse_data=PARSE, message_id="m1"),
        ActionExecuted("action_service_info"),
        BotUttered("ต่อใบขับขี่ใช้เอกสารดังนี้ครับ", data={"buttons": [{"title": "ยื่นคำร้อง", "payload": "/request_service"}]}),
        BotUttered(None, data={"custom": {"type": "cards", "cards": []}}),
        UserUttered("ถัดไป", message_id="m2"),
        BotUttered("ไม่ใช่คำตอบของ m1"),
    ])
    agent.lock_store = InMemoryLockStore()  # type: ignore[attr-defined]
    return agent


def test_a_resumed_message_rasa_already_handled_is_answered_from_the_tracker() -> None:
    agent = _agent_that_handled_m1()
    body = {"sender": "line:U1", "message": "ต่อใบขับขี่ที่ขนส่ง", "include_nlu": True, "message_id": "m1", "resumed": True}
    answer = asyncio.run(GatewayInput().answer(body, None, agent, agent.handle_message))
    assert agent.handled == [] and agent.processor.parsed == []  # not handled, not even parsed again
    assert answer["messages"] == [
        {"recipient_id": "line:U1", "text": "ต่อใบขับขี่ใช้เอกสารดังนี้ครับ", "buttons": [{"title": "ยื่นคำร้อง", "payload": "/request_service"}]},
        {"recipient_id": "line:U1", "custom": {"type": "cards", "cards": []}},
    ]
    assert answer["nlu"]["intent"] == "ask_service_info"


def test_a_resumed_message_rasa_never_saw_and_a_new_one_are_handled() -> None:
    agent = _agent_that_handled_m1()
    for body in ({"sender": "line:U1", "message": "ใหม่", "message_id": "m9", "resumed": True},
                 {"sender": "line:U1", "message": "ต่อใบขับขี่ที่ขนส่ง", "message_id": "m1", "resumed": False}):
        answer = asyncio.run(GatewayInput().answer(body, None, agent, agent.handle_message))
        assert answer == [{"recipient_id": "line:U1", "text": "ตอบแล้วครับ"}]
    assert [m.message_id for m in agent.handled] == ["m9", "m1"]  # not resumed: handled, whatever the tracker holds


def test_the_trained_assistant_handles_a_resumed_message_once(trained_model: Path) -> None:
    from rasa.core.agent import load_agent
    from rasa.shared.core.events import UserUttered

    async def run() -> tuple[Any, Any, int]:
        agent = await load_agent(model_path=str(trained_model))
        body = {"sender": "web:engine-resume", "message": "สวัสดีครับ", "include_nlu": True, "message_id": "web-1-170",
                "metadata": {"channel": "web", "user_id": "engine-resume", "chat_id": "engine-resume", "chat_type": "private"}}
        first = await GatewayInput().answer(body, body["metadata"], agent, agent.handle_message)
        again = await GatewayInput().answer(dict(body, resumed=True), body["metadata"], agent, agent.handle_message)
        tracker = await agent.tracker_store.retrieve("web:engine-resume")
        users = [e for e in tracker.events if isinstance(e, UserUttered)]
        return first, again, len(users)

    first, again, user_messages = asyncio.run(run())
    assert first["messages"] and again["messages"] == first["messages"]
    assert again["nlu"]["intent"] == first["nlu"]["intent"] == "greet"
    assert user_messages == 1

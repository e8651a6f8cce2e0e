"""The emergency answer: the number first, tap-to-call on every channel, decided without Rasa."""

from __future__ import annotations

import re
from typing import Any

import pytest

from common.wording.emergency import emergency_reply
from connectors.answering import Answerer
from connectors.render_line import to_line_messages
from connectors.render_telegram import to_telegram_messages
from connectors.replies import as_plain_text
from storage.inbound import store_new_event
from tests.clock import on_day

NUMBERS = {"fire": "199", "medical": "1669", "suicide": "1323", "domestic": "191", "violence": "191"}


@pytest.mark.parametrize(("category", "number"), NUMBERS.items())
def test_the_text_starts_with_the_right_number(category: str, number: str) -> None:
    reply = emergency_reply((category,))
    first_number = re.search(r"\d{3,4}", reply["text"])
    assert first_number is not None and first_number.group() == number
    calls = reply["custom"]["cards"][0]["calls"]
    assert calls[0]["number"] == number


def test_line_renders_tap_to_call_buttons_before_anything_else() -> None:
    messages = to_line_messages([emergency_reply(("fire", "medical"))])
    assert messages[0].text.startswith("🚒 โทร 199")
    flex = messages[1].contents.to_dict()
    first = flex["contents"][0]["footer"]["contents"][0]["action"]
    assert first == {"type": "uri", "label": "โทร 199 ดับเพลิง", "uri": "tel:199"}
    second_card = flex["contents"][1]["footer"]["contents"][0]["action"]
    assert second_card["uri"] == "tel:1669"


def test_telegram_and_plain_text_show_the_numbers_as_text() -> None:
    reply = emergency_reply(("suicide",))
    (text, _markup), = to_telegram_messages([reply])
    assert "1323" in text and "📞 โทร 1323" in text
    assert "02 113 6789" in as_plain_text(reply)


class RasaDown:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def ask(self, conversation: str, text: str, *args: Any, **kwargs: Any) -> Any:
        self.asked.append(text)
        raise ConnectionError("Rasa is down")


async def _nothing(event: Any) -> None:
    return None


async def test_an_emergency_is_answered_even_when_rasa_is_down(sqlite_engine) -> None:
    rasa = RasaDown()
    answerer = Answerer(sqlite_engine, rasa, started_at=on_day(0, 12),  # type: ignore[arg-type]
                        stats={"relayed_to_officials": 0})
    event = store_new_event(sqlite_engine, channel="line", external_id="e-1", conversation="line:U1",
                            text="ไฟไหม้บ้านข้างๆ ช่วยด้วย", metadata={"channel": "line", "chat_type": "private", "user_id": "U1"})
    assert event is not None
    replies, nlu = await answerer.answer(event, _nothing)
    assert "199" in replies[0]["text"] and nlu is None
    assert rasa.asked == []  # decided without Rasa: nothing to wait for
    assert answerer.stats["emergency_replies"] == 1


async def test_other_messages_still_go_to_rasa_and_groups_are_not_read_for_emergencies(sqlite_engine) -> None:
    rasa = RasaDown()
    answerer = Answerer(sqlite_engine, rasa, started_at=on_day(0, 12),  # type: ignore[arg-type]
                        stats={"relayed_to_officials": 0})
    for i, (text, chat_type) in enumerate([("กฎหมายเกี่ยวกับไฟไหม้ป่ามีไหม", "private"), ("ไฟไหม้บ้านข้างๆ ช่วยด้วย", "group")]):
        event = store_new_event(sqlite_engine, channel="line", external_id=f"n-{i}", conversation=f"line:C{i}", text=text,
                                metadata={"channel": "line", "chat_type": chat_type, "user_id": "U2"})
        assert event is not None
        with pytest.raises(ConnectionError):
            await answerer.answer(event, _nothing)
    assert rasa.asked == ["กฎหมายเกี่ยวกับไฟไหม้ป่ามีไหม", "ไฟไหม้บ้านข้างๆ ช่วยด้วย"]


async def test_in_a_handoff_the_number_comes_first_and_the_officials_still_get_the_message(sqlite_engine) -> None:
    from sqlalchemy import select

    from storage.db import session_scope
    from storage.handoff import start_handoff
    from storage.models.outbox import Outbox
    from storage.officials import link_group, register_official
    from storage.requests import Citizen

    agency = "สำนักงานพัฒนารัฐบาลดิจิทัล"
    with session_scope(sqlite_engine) as s:
        register_official(s, channel="telegram", user_id="77", agency=agency)
        link_group(s, channel="telegram", chat_id="-1009", agency=agency)
        start_handoff(s, Citizen("line:U9", "line", "U9"), "line:U9")
    rasa = RasaDown()
    answerer = Answerer(sqlite_engine, rasa, started_at=on_day(0, 12), stats={"relayed_to_officials": 0})  # type: ignore[arg-type]
    event = store_new_event(sqlite_engine, channel="line", external_id="h-1", conversation="line:U9",
                            text="มีคนถือมีดไล่ฟันคนหน้าบ้าน", metadata={"channel": "line", "chat_type": "private", "user_id": "U9"})
    assert event is not None
    replies, _ = await answerer.answer(event, _nothing)
    assert replies[0]["text"].startswith("🚓 โทร 191") and rasa.asked == []
    with session_scope(sqlite_engine) as s:
        relayed = s.scalars(select(Outbox).where(Outbox.kind == "handoff_message")).all()
        assert len(relayed) == 1 and "ถือมีด" in relayed[0].payload["text"]

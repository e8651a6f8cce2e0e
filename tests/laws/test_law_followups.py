"""search_law in the conversation: results are remembered, "อันที่สอง" opens one, vague queries get a question."""

from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import db
from actions.laws import ActionSearchLaw, follow_up_pick
from storage.laws.importer import import_corpus
from storage.db import session_scope
from storage.laws.seed import load_seed
from tests.laws.test_catalog import make_corpus


@pytest.mark.parametrize(("text", "pick"), [
    ("อันที่สอง", 2), ("ขอดูมาตราที่เกี่ยวข้อง", 1), ("ฉบับที่ 3", 3), ("ข้อ ๒", 2), ("ดูมาตราที่เกี่ยวข้องของอันที่สามครับ", 3),
    ("มาตราที่เกี่ยวข้องกับการเลิกจ้าง", None), ("มาตรา 14 พ.ร.บ.คอม", None), ("PDPA", None),
])
def test_follow_up_words(text: str, pick: int | None) -> None:
    assert follow_up_pick(text) == pick


def _tracker(text: str, slots: dict | None = None, entities: list | None = None) -> Tracker:
    latest = {"text": text, "intent": {"name": "search_law", "confidence": 0.9}, "entities": entities or [], "metadata": {}}
    return Tracker("line:U1", dict(slots or {}), latest, [], False, None, {}, "action_listen")


def _run(t: Tracker) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = ActionSearchLaw().run(dispatcher, t, {})
    return dispatcher.messages, events


def test_results_are_remembered_and_a_follow_up_opens_one(sqlite_engine, tmp_path) -> None:
    with session_scope(sqlite_engine) as s:
        load_seed(s)
    import_corpus(sqlite_engine, make_corpus(tmp_path / "corpus"), workers=1)
    db.use_engine(sqlite_engine)
    try:
        messages, events = _run(_tracker("นายจ้างไม่จ่ายค่าชดเชยตอนเลิกจ้าง"))
        results = messages[0]["custom"]["cards"]
        slots = {e["name"]: e["value"] for e in events}
        assert len(slots["law_results"]) == len(results) and slots["law_query"] == "นายจ้างไม่จ่ายค่าชดเชยตอนเลิกจ้าง"
        assert results[1]["buttons"][0]["payload"] == '/search_law{"law_id": "%d", "law_topic": "นายจ้างไม่จ่ายค่าชดเชยตอนเลิกจ้าง"}' % slots["law_results"][1]

        messages, events = _run(_tracker("ขอดูมาตราที่เกี่ยวข้อง", slots))
        opened = messages[0]["custom"]["cards"][0]
        assert messages[0]["response"] == "utter_law_sections" and opened["title"] == results[0]["title"] and events == []
        assert any(line.startswith("มาตรา 118") for line in opened["lines"])

        button = _tracker("/search_law", slots, entities=[{"entity": "law_topic", "value": "ฉบับที่ 2"}])
        assert _run(button)[0][0]["custom"]["cards"][0]["title"] == results[1]["title"]
        assert _run(_tracker("อันที่ 9", slots))[0][0]["response"] == "utter_law_pick_out_of_range"
        assert _run(_tracker("กฎหมาย"))[0][0]["response"] == "utter_ask_law_query"  # too vague to search
        assert _run(_tracker("อันที่สอง"))[0][0]["response"] == "utter_ask_law_query"  # nothing to refer to yet
    finally:
        db.use_engine(None)

"""Typed `/intent{...}` payloads (issue #17): only our buttons' shapes reach Rasa as intents; the rest is words.

The allow-list (connectors/payloads.py) is checked against every button payload written in the code,
so a new button that is not allowed fails here rather than silently turning into text.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from actions.laws import law_payload
from actions.officials import reminder_payload
from common.settings import PROJECT_ROOT
from connectors.payloads import BUTTON_PAYLOADS, COMMAND_INTENTS, as_user_text, domain_intents, is_button_payload, rasa_message
from connectors.telegram import command_to_text
from storage.inbound import short_payload
from tests.fuzz.harness import gateway, line_body, telegram_body

pytestmark = pytest.mark.timeout(120)
BANGKOK = timezone(timedelta(hours=7))

SAMPLES = {"request_id": "REQ-000123", "task_id": "T-42", "time": "2026-12-01T17:00:00+07:00", "request_status": "in_progress",
           "task_status": "cancelled", "agency": "#12!", "service": "ใบขับขี่", "law_topic": "ภาษีที่ดิน", "law_id": "12", "law_section": "341"}
_QUOTED = re.compile(r"""(?P<q>['"])(?P<p>/[a-z_]+(?:\{.*?\})?)(?P=q)""")
_PLACEHOLDER = re.compile(r'"(?P<key>\w+)": "(?:%s|\{\w+\})"')


def _payloads_in_code() -> set[str]:
    """Every literal payload `/<domain intent>[{...}]` in actions/, common/, connectors/, usecases/ and bot/domain/."""
    intents = domain_intents() or frozenset()
    found: set[str] = set()
    files = [*PROJECT_ROOT.glob("actions/*.py"), *PROJECT_ROOT.glob("common/*.py"), *PROJECT_ROOT.glob("connectors/*.py"),
             *PROJECT_ROOT.glob("usecases/*.py"), *PROJECT_ROOT.glob("bot/domain/*.yml"), PROJECT_ROOT / "connectors/line_rich_menu.json"]
    for path in files:
        if path.name == "payloads.py":
            continue
        for match in _QUOTED.finditer(path.read_text(encoding="utf-8")):
            payload = match.group("p")
            if payload[1:].split("{")[0] in intents and "{...}" not in payload:  # not a docstring's "/x{...}"
                found.add(_PLACEHOLDER.sub(lambda m: f'"{m["key"]}": "{SAMPLES[m["key"]]}"', payload))
    return found


def rasa_would_unpack(text: str) -> bool:
    """Rasa's own test (yaml_story_reader.unpack_regex_message): "/" + a domain intent before any "{" or "@"."""
    stripped = text.strip()
    match = re.match(r"^/(?P<intent>[^{@]+)", stripped)
    return bool(match) and match.group("intent").strip() in (domain_intents() or ())


def test_every_button_payload_in_the_code_is_accepted() -> None:
    payloads = _payloads_in_code()
    assert len(payloads) >= 20  # the scan found the buttons (not an empty list that passes trivially)
    assert any("update_task_status{" in p for p in payloads) and any("update_request_status{" in p for p in payloads)
    built = [law_payload(12, "ภาษีที่ดิน", "341"), law_payload(12), "/report_obstacle" + json.dumps({"law_topic": "ประมวลกฎหมายอาญา"}, ensure_ascii=False),
             command_to_text("/start"), reminder_payload(datetime(2026, 12, 1, 9, tzinfo=BANGKOK), 'ส่งแผน{งบ} "ประมาณ"\n' + "ก" * 300)]
    refused = [p for p in [*payloads, *built] if not is_button_payload(p) or as_user_text(p) != p]
    assert refused == []
    used = {p[1:].split("{")[0] for p in [*payloads, *built]}
    assert used <= set(BUTTON_PAYLOADS) and set(BUTTON_PAYLOADS) <= used | {"list_tasks"}  # no intent allowed that no button sends


@pytest.mark.parametrize("typed", [
    '/request_service{"service": {"a": 1}}',  # a dict into the service slot, kept for later sessions
    '/request_service{"service": ["ไฟถนนดับ", "ขยะ"]}',
    '/check_request_status{"request_id": "REQ-000001", "law_id": "1"}',  # an entity this button never carries
    '/search_law{"law_id": "12"} แล้วก็ภาษีด้วย',  # trailing words
    "/affirm@0.99",
    "/greet",  # a domain intent no button sends
    '/delete_my_data{"request_id": "REQ-000001"}',
    '/report_obstacle{"law_topic": "ภาษี\\u0000"}',  # NUL through a JSON escape
    '/update_task_status{"task_id": "T-1", "time": "9999-12-31T23:59"}',
    '/set_reminder{"time": "2026-01-01T99:00"}',
    '/search_law{"law_id": "²"}',
    '/rate_service{"request_id": "' + "9" * 40 + '"}',
    '/ask_service_info{"service": "' + "ก" * 300 + '"}',
    "  //affirm{\"x\": 1}",
])
def test_typed_payloads_outside_the_buttons_become_words(typed: str) -> None:
    text = as_user_text(typed)
    assert rasa_would_unpack(typed) or typed.strip().startswith("//")
    assert text and not rasa_would_unpack(text)  # Rasa reads words, never this intent
    assert not is_button_payload(typed)


@pytest.mark.parametrize("typed", ["/newtask ร่าง TOR ภายในศุกร์", "/tasks", "/remind พรุ่งนี้ 9 โมง ประชุม", "สวัสดี", "/", "/ ", "1/2"])
def test_commands_and_ordinary_text_pass_unchanged(typed: str) -> None:
    assert as_user_text(typed) == typed


@pytest.mark.parametrize(("typed", "intent", "words"), [
    ("/newtask เตรียมข้อมูลผู้เสียภาษีตัวอย่าง", "create_task", "เตรียมข้อมูลผู้เสียภาษีตัวอย่าง"),
    ("/newtask@thgov_bot  ร่าง {TOR} \"ด่วน\"", "create_task", 'ร่าง {TOR} "ด่วน"'),
    ("/remind พรุ่งนี้ 9 โมง ยื่นภาษี", "set_reminder", "พรุ่งนี้ 9 โมง ยื่นภาษี"),
    ("/tasks", "list_tasks", ""),
    ("/TASKS ของฉัน", "list_tasks", "ของฉัน"),
])
def test_officials_commands_are_their_intent_with_their_words_verbatim(typed: str, intent: str, words: str) -> None:
    text, metadata = rasa_message(typed)
    assert text == f"/{intent}" and is_button_payload(text) == (intent in BUTTON_PAYLOADS)
    assert metadata == {"command_text": words}
    assert set(COMMAND_INTENTS.values()) <= (domain_intents() or set())


@pytest.mark.parametrize("typed", ['/create_task{"task_title": "แอบสร้างงาน"}', "/create_task", '/list_tasks{"task_title": "x"}',
                                   '/set_reminder{"time": "2026-12-01T09:00:00+07:00", "task_title": {"a": 1}}', "/newtaskx ร่าง"])
def test_a_typed_command_payload_is_not_a_command(typed: str) -> None:
    """Only the gateway builds a command's payload (from "/newtask …"): typed, it is words, with no command words."""
    text, metadata = rasa_message(typed)
    assert metadata == {} and text == as_user_text(typed)
    assert not rasa_would_unpack(text) or is_button_payload(text)
    assert not text.startswith("/create_task")


def test_through_the_gateway_on_every_channel(tmp_path: Path) -> None:
    evil = '/request_service{"service": {"a": 1}}'
    with gateway(tmp_path) as gw:
        assert gw.chat(evil, chat_id="p1").status_code == 200
        assert gw.line_post(line_body(evil, event_id="01PAYLOAD00000000000000001")).status_code == 200
        assert gw.telegram_post(telegram_body(evil, update_id=88001)).status_code == 200
        gw.wait_for(lambda: len(gw.rasa.received) == 3)
        # conversations run side by side, so the three arrive in any order: tell them by their sender
        by_channel = {str(r["sender"]).split(":")[0].split("-")[0]: r["message"] for r in gw.rasa.received[:3]}
        assert by_channel["web"] == by_channel["line"] == 'request_service{"service": {"a": 1}}', by_channel
        assert not any(rasa_would_unpack(r["message"]) for r in gw.rasa.received)  # Telegram: an unknown command's words

        # our own buttons still work: a web chat button, a LINE postback, a Telegram callback through a short key
        button = law_payload(57, "ภาษีที่ดินและสิ่งปลูกสร้าง", "37")
        assert len(button.encode()) > 64  # goes through storage.inbound.short_payload on Telegram
        gw.chat(button, chat_id="p2")
        postback = {"type": "postback", "postback": {"data": button}}
        postback_body = json.loads(line_body("x", event_id="01PAYLOAD00000000000000002"))
        postback_body["events"][0].pop("message")
        postback_body["events"][0].update(postback)
        assert gw.line_post(json.dumps(postback_body, ensure_ascii=False).encode()).status_code == 200
        key = short_payload(gw.engine, button)
        callback = {"update_id": 88002, "callback_query": {"id": "cq1", "chat_instance": "ci", "data": key,
                                                           "from": {"id": 5001, "is_bot": False, "first_name": "สมชาย"},
                                                           "message": {"message_id": 9, "date": 1700000000, "chat": {"id": 5001, "type": "private"},
                                                                       "text": "ผลค้นหา"}}}
        assert gw.telegram_post(json.dumps(callback).encode()).status_code == 200
        gw.wait_for(lambda: len(gw.rasa.received) == 6)
        assert [r["message"] for r in gw.rasa.received[3:]] == [button] * 3

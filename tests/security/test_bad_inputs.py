"""Inputs that gave a 500 or a silent bot (issue #17): each answered with a 4xx or read as nothing, never a crash."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine

from actions.official_parsing import parse_deadline
from bot.nlu_admin.training_data import DataError, add_example, example_problems
from common.ids import parse_request_id, parse_task_id
from common.numbers import parse_number
from common.thai_datetime import parse_when
from storage.db import session_scope
from storage.laws.search import search_laws
from tests.fuzz.harness import gateway, line_body, telegram_body
from tests.nlu_admin.conftest import capture

pytestmark = pytest.mark.timeout(120)
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=timezone.utc)
DEEP = b"[" * 100_000 + b"]" * 100_000  # json.loads raises RecursionError on this, not ValueError


@pytest.fixture
def gw(tmp_path: Path):
    data = tmp_path / "nlu_data"
    data.mkdir()
    (data / "general.yml").write_text('version: "3.1"\n\nnlu:\n  - intent: greet\n    examples: |\n      - สวัสดี\n', encoding="utf-8")
    with gateway(tmp_path, nlu_data=data, max_body_bytes=1_000_000) as g:
        yield g


# ---------------------------------------------------------------- deeply nested JSON


def test_deeply_nested_json_is_a_400_everywhere(gw) -> None:
    assert gw.chat_post(DEEP).status_code == 400
    assert gw.chat_post(b'{"text": ' + DEEP + b"}").status_code == 400
    assert gw.line_post(DEEP).status_code == 400
    assert gw.telegram_post(DEEP).status_code == 400
    for path in ("/admin/api/annotate", "/admin/api/discard", "/admin/api/flag"):
        assert gw.admin("POST", path, content=DEEP).status_code == 400, path
    assert gw.rasa.received == []


def test_web_chat_fields_of_the_wrong_type_are_refused(gw) -> None:
    assert gw.chat_post(json.dumps({"chat_id": "w1", "text": {"a": [1, 2]}}).encode()).status_code == 400
    assert gw.chat_post(json.dumps({"chat_id": "w1", "text": "x", "display_name": ["x"]}).encode()).status_code == 400
    for bad in ({"latitude": 1e999, "longitude": 1}, {"latitude": "nan", "longitude": 1}, {"latitude": 91, "longitude": 1},
                {"latitude": True, "longitude": 1}, {"latitude": {"x": 1}, "longitude": 1}):
        body = json.dumps({"chat_id": "w1", "text": "x", "location": bad}).replace("Infinity", "1e999").encode()
        assert gw.chat_post(body).status_code == 400, bad


# ---------------------------------------------------------------- numbers


def test_polling_after_a_huge_or_odd_number_is_a_400(gw) -> None:
    for after in (str(10**21), "²", "١٢", "-1", "1e3", " 1"):
        response = gw.client.get("/api/chat/messages", params={"chat_id": "w1", "after": after}, headers=_dev())
        assert response.status_code == 400, after
    assert gw.client.get("/api/chat/messages", params={"chat_id": "w1", "after": "0"}, headers=_dev()).status_code == 200


def test_superscript_digits_as_ids_are_not_numbers(gw) -> None:
    first = capture(gw.engine, "ขอต่อใบขับขี่", "nlu_fallback", 0.3)
    refused = gw.admin("POST", "/admin/api/discard", json={"ids": ["²", "①", str(10**21), 10**21]})
    assert refused.status_code == 400  # none of them is an id: "ไม่พบข้อความที่เลือก"
    assert gw.admin("POST", "/admin/api/discard", json={"ids": [str(first), "²"]}).json()["resolved"] == 1
    for path in ("/laws/²", "/laws/" + "9" * 30, "/laws?decade=²", "/laws?page=²", "/laws/1?page=²"):
        assert gw.client.get(path).status_code < 500, path
    assert parse_task_id("²") is None and parse_task_id("T-²") is None and parse_request_id("REQ-²²²²²²") is None
    assert parse_task_id("๔๒") == 42 and parse_number("๑๒") == 12 and parse_number("²") is None
    assert parse_number(str(10**21)) is None and parse_number(True) is None and parse_number("12", thai=False) == 12


def test_rating_of_a_superscript_digit_is_no_rating() -> None:
    from actions.requests import _rating

    class Tracker:
        latest_message = {"text": "ให้ ²", "entities": [{"entity": "rating", "value": "²"}]}

        def get_slot(self, name: str) -> None:
            return None

    assert _rating(Tracker()) is None


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize("text", ["2026-01-01T99:00", "2026-01-01T23:99", "0001-01-01T00:00", "9999-12-31T23:59", "9999-12-31",
                                  "1 ม.ค. 0001", "31 ธ.ค. 9999 23:59", "31/12/9999 23.59", "สิ้นเดือน ธ.ค. 9999"])
def test_impossible_deadlines_are_not_read(text: str) -> None:
    assert parse_when(text, NOW) is None
    assert parse_deadline(f"ส่งภายใน {text}", []) is None or parse_deadline(f"ส่งภายใน {text}", []).datetime.year < 2500
    payload = '/update_task_status{"task_id": "T-1", "time": "%s"}' % text
    assert parse_deadline(payload, [{"entity": "time", "value": text}]) is None


def test_real_deadlines_still_read() -> None:
    assert parse_when("2026-12-01T17:00", NOW).datetime.hour == 17
    assert parse_when("31 ธ.ค. 2569", NOW).datetime.year == 2026


# ---------------------------------------------------------------- law search


def test_a_nul_in_a_law_topic_does_not_break_the_search(db_engine: Engine) -> None:
    """PostgreSQL refuses NUL in text parameters ("A string literal cannot contain NUL")."""
    with session_scope(db_engine) as s:
        clean = search_laws(s, "ภาษีที่ดิน", limit=3)
    with session_scope(db_engine) as s:
        assert [h.title for h in search_laws(s, "ภาษี\x00ที่ดิน\x00", limit=3)] == [h.title for h in search_laws(s, "ภาษี ที่ดิน", limit=3)]
        assert search_laws(s, "\x00", limit=3) == []
    assert clean is not None


# ---------------------------------------------------------------- training data


def test_an_annotation_rasa_cannot_read_is_refused_before_writing(gw, tmp_path: Path) -> None:
    data = tmp_path / "nlu_data"
    before = (data / "general.yml").read_text(encoding="utf-8")
    first = capture(gw.engine, "ขอต่อใบขับขี่", "nlu_fallback", 0.3)
    for example in ("[x][{y}]", '[ใบขับขี่]{"entity": {"a": 1}}', "[a][b](service)", '[x]{"entity": "service", "value": 5}'):
        refused = gw.admin("POST", "/admin/api/annotate", json={"ids": [first], "intent": "greet", "example": example})
        assert refused.status_code == 400 and refused.json()["code"] == "markup", example
        assert "รูปแบบ" in refused.json()["error"]
        with pytest.raises(DataError):
            add_example(data, "greet", example)
    assert (data / "general.yml").read_text(encoding="utf-8") == before
    assert example_problems('ต่อ [ใบขับขี่](service) ที่ [กทม.](agency:กรุงเทพมหานคร)') == []
    assert example_problems('[ใบขับขี่]{"entity": "service", "value": "ใบอนุญาตขับรถ"}') == []
    yaml.safe_load(before)


def _dev() -> dict[str, str]:
    from tests.channels.devchat import dev_headers

    return dev_headers()


def test_line_and_telegram_bodies_with_odd_shapes_are_4xx(gw) -> None:
    assert gw.line_post(b'{"events": {"a": 1}}').status_code == 400
    assert gw.line_post(b'{"events": [1, "x", null, {"type": {"x": 1}}]}').status_code == 200
    assert gw.telegram_post(b'{"update_id": "x", "message": []}').status_code == 400
    assert gw.telegram_post(b"[]").status_code == 400
    assert gw.line_post(line_body("สวัสดี", event_id="01FUZZ0000000000000000001")).status_code == 200
    assert gw.telegram_post(telegram_body("สวัสดี", update_id=77001)).status_code == 200

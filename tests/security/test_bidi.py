"""Bidirectional override characters never reach Rasa, storage or officials' groups (issue #17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from common.thai_text import BIDI_CONTROLS, strip_bidi_controls
from connectors.text import clean_text
from storage.db import session_scope
from storage.models.channels import InboundEvent
from tests.fuzz.harness import gateway, line_body, telegram_body

pytestmark = pytest.mark.timeout(120)
SPOOF = "ยกเลิก \u202eREQ-000123\u202c ด่วน\u2066x\u2069\u200e\u200f\u061c"


def test_every_bidi_control_is_stripped_and_thai_is_kept() -> None:
    assert len(BIDI_CONTROLS) == 12
    assert strip_bidi_controls(SPOOF) == "ยกเลิก REQ-000123 ด่วนx"
    assert clean_text("\u202b" + "สวัสดีครับ" + "\u202c", 100) == ("สวัสดีครับ", False)
    assert clean_text("น้ำ ๑๒ ครับ", 100) == ("น้ำ ๑๒ ครับ", False)


def test_no_bidi_control_reaches_rasa_or_the_store(tmp_path: Path) -> None:
    with gateway(tmp_path) as gw:
        gw.chat(SPOOF, chat_id="b1", display_name="ผู้\u202eใช้")
        gw.line_post(line_body(SPOOF, event_id="01BIDI000000000000000000001"))
        body = json.loads(telegram_body(SPOOF, update_id=99001))
        body["message"]["from"]["first_name"] = "\u202eสมชาย"
        gw.telegram_post(json.dumps(body, ensure_ascii=False).encode())
        gw.wait_for(lambda: len(gw.rasa.received) == 3)
        for request in gw.rasa.received:
            assert request["message"] == "ยกเลิก REQ-000123 ด่วนx"
            assert not any(c in json.dumps(request["metadata"], ensure_ascii=False) for c in BIDI_CONTROLS)
        with session_scope(gw.engine) as s:
            stored = [(e.text, json.dumps(e.metadata_ or {}, ensure_ascii=False)) for e in s.scalars(select(InboundEvent))]
        assert len(stored) == 3 and not any(c in text + meta for text, meta in stored for c in BIDI_CONTROLS)

"""Restarts, slow and absent Rasa, back-pressure, metrics: the gateway loses and repeats nothing."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import select

from connectors.app import create_app
from storage.db import make_engine, session_scope
from storage.inbound import store_event
from storage.migrate import upgrade
from storage.models.channels import InboundEvent
from tests.channels.conftest import LINE_SECRET, make_settings
from tests.channels.fakes import ServerThread
from tests.channels.test_gateway import line_body, sign, wait_for
from tests.channels.devchat import dev_headers

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def parts(tmp_path, fake_rasa, fake_line):
    rasa, rasa_server = fake_rasa
    line, line_server = fake_line
    settings = make_settings(tmp_path, rasa_url=rasa_server.url, line_channel_secret=LINE_SECRET,
                             line_channel_access_token="test-token", line_api_base_url=line_server.url)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    yield settings, engine, rasa, line
    engine.dispose()


def _line_metadata(user: str) -> dict:
    return {"channel": "line", "user_id": user, "chat_id": user, "chat_type": "private", "display_name": ""}


def test_restart_resumes_stored_events_without_asking_rasa_twice(parts) -> None:
    settings, engine, rasa, line = parts
    # what a gateway that died left behind: one event never processed, and one that an older gateway
    # left "answered" (Rasa's replies stored) but not delivered
    pending = store_event(engine, channel="line", external_id="ev-pending", conversation="line:Ua", text="ยังไม่ได้ตอบ",
                          metadata=_line_metadata("Ua"), reply_token="tok-a")
    answered = store_event(engine, channel="line", external_id="ev-answered", conversation="line:Ub", text="ตอบแล้ว",
                           metadata=_line_metadata("Ub"), reply_token="tok-b")
    with session_scope(engine) as s:
        row = s.get(InboundEvent, answered)
        row.state, row.replies = "answered", [{"text": "คำตอบที่ Rasa ให้ไว้แล้ว", "buttons": [], "custom": None}]
    with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)):
        wait_for(lambda: len(line.replies) == 2)
    assert [r["message"] for r in rasa.received] == ["ยังไม่ได้ตอบ"]  # the answered one was not sent again
    assert sorted(m["text"] for r in line.replies for m in r["messages"]) == ["คำตอบที่ Rasa ให้ไว้แล้ว", "ตอบ: ยังไม่ได้ตอบ"]
    with session_scope(engine) as s:
        rows = s.scalars(select(InboundEvent).where(InboundEvent.id.in_([pending, answered]))).all()
        assert {r.state for r in rows} == {"done"} and all(r.text == "" and r.replies is None for r in rows)


def test_gateway_stopped_after_rasa_answered_asks_again_as_resumed_and_rasa_does_not_handle_it_twice(parts) -> None:
    settings, engine, rasa, line = parts
    body = line_body("line_text.json", webhookEventId="01RESUME", replyToken="tok-resume")
    with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)) as server:
        assert httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)}).status_code == 200
        wait_for(lambda: len(line.replies) == 1)
    first = rasa.requests[0]
    assert first["message_id"] and first["resumed"] is False
    # the gateway died after Rasa answered, before it sent anything (no reply progress stored)
    with session_scope(engine) as s:
        row = s.scalars(select(InboundEvent).where(InboundEvent.external_id == "01RESUME")).one()
        row.state, row.text, row.reply_progress = "pending", "สวัสดีครับ", None
    with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)):
        wait_for(lambda: len(rasa.requests) == 2 and line.pushes)
    again = rasa.requests[1]
    assert again["message_id"] == first["message_id"] and again["resumed"] is True
    assert len(rasa.received) == 1  # handled once: the second answer came from what Rasa already had
    assert [m["text"] for p in line.pushes for m in p["messages"]] == ["ตอบ: สวัสดีครับ"]  # the reply token was used: pushed


def test_gateway_stopped_while_rasa_is_down_answers_after_the_next_start(parts) -> None:
    settings, engine, rasa, line = parts
    rasa.up = False
    body = line_body("line_text.json", webhookEventId="01RESTART", replyToken="expired-restart")
    with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)) as server:
        assert httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)}).status_code == 200
        time.sleep(0.5)
    rasa.up = True
    with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)):
        wait_for(lambda: "ตอบ: สวัสดีครับ" in line.all_texts(), timeout=30)
    assert len(rasa.received) == 1


def test_slow_rasa_gets_a_short_note_then_the_answer(parts) -> None:
    settings, engine, rasa, line = parts
    rasa.delay = 1.5
    with ServerThread(create_app(settings, engine=engine, poll_interval=0.05, loading_after=0.1, slow_after=0.5)) as server:
        body = line_body("line_text.json", webhookEventId="01SLOW")
        httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)})
        wait_for(lambda: len(line.all_texts()) == 2)
    assert line.loading == [{"chatId": "U4af4980629", "loadingSeconds": 20}]  # LINE's loading animation first
    assert line.all_texts() == ["กำลังดำเนินการ ขอเวลาสักครู่นะครับ 🙏", "ตอบ: สวัสดีครับ"]
    assert line.replies[0]["messages"][0]["text"].startswith("กำลังดำเนินการ") and line.pushes


def test_full_backlog_refuses_new_webhooks_with_503(parts) -> None:
    settings, engine, rasa, line = parts
    rasa.up = False
    with ServerThread(create_app(settings, engine=engine, poll_interval=0.05, max_pending=2)) as server:
        codes = []
        for i in range(4):
            body = line_body("line_text.json", webhookEventId=f"01FULL{i}", source={"type": "user", "userId": f"Ufull{i}"})
            codes.append(httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)}))
        assert [c.status_code for c in codes] == [200, 200, 503, 503]
        assert codes[2].headers["retry-after"]
        rasa.up = True
        wait_for(lambda: sum(t.startswith("ตอบ") for t in line.all_texts()) == 2, timeout=30)
        time.sleep(0.3)  # the backlog drained: new webhooks are taken again
        body = line_body("line_text.json", webhookEventId="01FULL2", source={"type": "user", "userId": "Ufull2"})
        assert httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)}).status_code == 200


def test_metrics_and_health_hold_counts_only(parts) -> None:
    settings, engine, rasa, line = parts
    with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)) as server:
        body = line_body("line_text.json")
        httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)})
        wait_for(lambda: line.replies)
        metrics = httpx.get(f"{server.url}/metrics").text
        health = httpx.get(f"{server.url}/healthz").text
    assert 'gateway_events{state="done"} 1' in metrics and 'gateway_channel_enabled{channel="line"} 1' in metrics
    for secret in ("U4af4980629", "สวัสดี", LINE_SECRET, "test-token"):
        assert secret not in metrics and secret not in health


def test_logs_hold_no_message_text_or_tokens(parts, caplog) -> None:
    settings, engine, rasa, line = parts
    caplog.set_level("DEBUG")
    with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)) as server:
        body = line_body("line_text.json")
        httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)})
        httpx.post(f"{server.url}/api/chat/messages", headers=dev_headers(), json={"chat_id": "w9", "text": "ความลับของฉัน"}, timeout=30)
        wait_for(lambda: line.replies)
    logged = caplog.text
    assert "สวัสดี" not in logged and "ความลับ" not in logged and "test-token" not in logged and LINE_SECRET not in logged

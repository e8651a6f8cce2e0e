"""The gateway end to end over real HTTP: web chat, LINE webhooks, Rasa outages."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import httpx
import pytest

from connectors.app import create_app
from storage.db import make_engine
from storage.migrate import upgrade
from tests.channels.conftest import LINE_SECRET, make_settings
from tests.channels.fakes import ServerThread
from tests.channels.devchat import dev_headers

PAYLOADS = Path(__file__).with_name("payloads")


def sign(body: bytes, secret: str = LINE_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


@pytest.fixture
def gateway(tmp_path, fake_rasa, fake_line):
    rasa, rasa_server = fake_rasa
    line, line_server = fake_line
    settings = make_settings(tmp_path, rasa_url=rasa_server.url, line_channel_secret=LINE_SECRET,
                             line_channel_access_token="test-token", line_api_base_url=line_server.url)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    app = create_app(settings, engine=engine, poll_interval=0.05)
    with ServerThread(app) as server:
        yield server, rasa, line, engine


def line_body(name: str, **replace) -> bytes:
    data = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    for key, value in replace.items():
        data["events"][0][key] = value
    return json.dumps(data, ensure_ascii=False).encode()


def test_web_chat_round_trip(gateway) -> None:
    server, rasa, _, _ = gateway
    response = httpx.post(f"{server.url}/api/chat/messages", headers=dev_headers(), json={"chat_id": "w1", "user_id": "w1", "text": "สวัสดีครับ"}, timeout=30)
    assert response.status_code == 200
    replies = response.json()["replies"]
    assert replies[0]["text"] == "ตอบ: สวัสดีครับ"
    assert replies[0]["buttons"] == [{"title": "เมนู", "payload": "/help"}]
    assert rasa.received[0]["sender"] == "web:w1"
    assert rasa.received[0]["metadata"]["user_id"] == "w1"


def test_web_chat_speaks_as_a_group_member(gateway) -> None:
    server, rasa, _, _ = gateway
    httpx.post(f"{server.url}/api/chat/messages", headers=dev_headers(), json={"chat_id": "-100", "user_id": "7", "channel": "telegram",
                                                         "chat_type": "supergroup", "display_name": "สมชาย", "text": "งานค้าง"}, timeout=30)
    sent = rasa.received[-1]
    assert sent["sender"] == "telegram:-100:7"
    assert {k: sent["metadata"][k] for k in ("user_id", "chat_id", "chat_type", "display_name")} == {"user_id": "7", "chat_id": "-100", "chat_type": "supergroup", "display_name": "สมชาย"}


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", json.dumps({"chat_id": "bad id!", "text": "x"}).encode(),
                                  json.dumps({"chat_id": "ok", "text": "   "}).encode()])
def test_web_chat_rejects_bad_input(gateway, body: bytes) -> None:
    server, rasa, _, _ = gateway
    response = httpx.post(f"{server.url}/api/chat/messages", content=body, headers={"content-type": "application/json", **dev_headers()})
    assert response.status_code == 400
    assert rasa.received == []


def test_line_signature_is_required_and_checked(gateway) -> None:
    server, rasa, line, _ = gateway
    body = line_body("line_text.json")
    assert httpx.post(f"{server.url}/webhooks/line", content=body).status_code == 400
    assert httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body, "wrong")}).status_code == 401
    tampered = body.replace("สวัสดี".encode(), "โอนเงิน".encode())
    assert httpx.post(f"{server.url}/webhooks/line", content=tampered, headers={"x-line-signature": sign(body)}).status_code == 401
    time.sleep(0.3)
    assert rasa.received == [] and line.replies == []


def test_line_text_is_stored_then_answered_once_even_when_redelivered(gateway) -> None:
    server, rasa, line, _ = gateway
    body = line_body("line_text.json")
    first = httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)})
    assert first.status_code == 200 and first.json() == {"stored": 1}
    again = httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)})
    assert again.json() == {"stored": 0}
    wait_for(lambda: len(line.replies) == 1)
    time.sleep(0.3)
    assert len(rasa.received) == 1 and len(line.replies) == 1
    reply = line.replies[0]
    assert reply["messages"][0]["text"] == "ตอบ: สวัสดีครับ"
    assert reply["messages"][0]["quickReply"]["items"][0]["action"]["data"] == "/help"
    assert rasa.received[0]["sender"] == "line:U4af4980629"
    assert line.loading == []  # a quick answer needs no loading animation


def test_line_group_message_carries_the_speaker(gateway) -> None:
    server, rasa, line, _ = gateway
    body = line_body("line_group_text.json")
    httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)})
    wait_for(lambda: rasa.received)
    assert rasa.received[0]["sender"] == "line-group:Ca56f94637c:U4af4980629"
    assert rasa.received[0]["metadata"]["user_id"] == "U4af4980629"
    assert rasa.received[0]["metadata"]["chat_type"] == "group"


def test_expired_reply_token_falls_back_to_push(gateway) -> None:
    server, _, line, _ = gateway
    body = line_body("line_text.json", replyToken="expired-token", webhookEventId="01EXPIRED")
    httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)})
    wait_for(lambda: line.pushes)
    assert line.pushes[0]["to"] == "U4af4980629"


def test_cards_become_a_flex_message(gateway) -> None:
    server, _, line, _ = gateway
    body = line_body("line_text.json", webhookEventId="01CARDS")
    data = json.loads(body)
    data["events"][0]["message"]["text"] = "ขอการ์ด"
    body = json.dumps(data, ensure_ascii=False).encode()
    httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)})
    wait_for(lambda: line.replies)
    kinds = [m["type"] for m in line.replies[0]["messages"]]
    assert kinds == ["text", "flex"]
    flex = line.replies[0]["messages"][1]
    assert flex["altText"] == "ผลค้นหา" and flex["contents"]["type"] == "bubble"


def test_stickers_get_a_polite_thai_reply_without_rasa(gateway) -> None:
    server, rasa, line, _ = gateway
    body = line_body("line_sticker.json")
    httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)})
    wait_for(lambda: line.replies)
    assert "ข้อความ" in line.replies[0]["messages"][0]["text"]
    assert rasa.received == []


def test_a_photo_reaches_rasa_as_evidence_with_its_content_id(gateway) -> None:
    """Issue #18: a LINE image in a 1:1 chat is the share_photo intent with the image's content id (never the image)."""
    server, rasa, line, _ = gateway
    body = line_body("line_image.json")
    httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)})
    wait_for(lambda: rasa.received)
    sent = rasa.received[0]
    raw = json.loads(body)["events"][0]["message"]
    assert sent["message"] == "/share_photo" and sent["metadata"]["photo"] == {"provider": "line", "message_id": raw["id"]}


def test_follow_gets_a_welcome_and_location_reaches_rasa(gateway) -> None:
    server, rasa, line, _ = gateway
    body = line_body("line_follow.json")
    httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)})
    wait_for(lambda: line.replies)
    assert "ขอบคุณที่เพิ่มเพื่อน" in line.replies[0]["messages"][0]["text"]
    body = line_body("line_location.json")
    httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)})
    wait_for(lambda: rasa.received)
    location = rasa.received[0]["metadata"]["location"]
    assert location["latitude"] == pytest.approx(13.7563) and "กรุงเทพ" in rasa.received[0]["message"]


@pytest.mark.timeout(60)
def test_message_is_answered_after_rasa_comes_back(gateway) -> None:
    server, rasa, line, engine = gateway
    rasa.up = False
    body = line_body("line_text.json", webhookEventId="01DOWN")
    assert httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)}).status_code == 200
    wait_for(lambda: line.all_texts(), timeout=10)
    time.sleep(0.5)
    assert line.all_texts() == ["กำลังดำเนินการ ขอเวลาสักครู่นะครับ 🙏"]  # one short note while Rasa is down, nothing else
    rasa.up = True
    wait_for(lambda: "ตอบ: สวัสดีครับ" in line.all_texts(), timeout=30)
    assert line.pushes[-1]["to"] == "U4af4980629"  # the note used the reply token; the answer is pushed
    assert len(rasa.received) == 1


def test_health_leaks_nothing(gateway) -> None:
    server, *_ = gateway
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 200
    assert set(response.json()) == {"status", "backlog"}

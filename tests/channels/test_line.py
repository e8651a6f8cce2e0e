"""LINE webhooks through the real gateway and the real line-bot-sdk against a fake Messaging API on loopback."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import pytest
from sqlalchemy import select

from connectors.channel import DeliveryError
from connectors.line import LineChannel
from connectors.outbound import OutboundClients
from storage.db import session_scope
from storage.models.channels import ChannelUser, InboundEvent
from storage.models.outbox import Outbox
from storage.outbox import enqueue
from tests.channels.conftest import LINE_SECRET, make_settings
from tests.channels.test_gateway import PAYLOADS, gateway, line_body, sign, wait_for  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(60)


def post(server, body: bytes, signature: str | None = None) -> httpx.Response:
    return httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": signature or sign(body)})


def stored_count(engine) -> int:
    with session_scope(engine) as s:
        return len(s.scalars(select(InboundEvent)).all())


# ---------------------------------------------------------------- signatures


def test_replayed_webhook_is_accepted_once_and_a_replayed_signature_fits_no_other_body(gateway) -> None:
    server, rasa, line, engine = gateway
    body = line_body("line_text.json")
    signature = sign(body)
    assert post(server, body, signature).json() == {"stored": 1}
    assert post(server, body, signature).json() == {"stored": 0}  # an attacker replaying a captured request
    other = line_body("line_text.json", webhookEventId="01REPLAYED")
    assert post(server, other, signature).status_code == 401  # the captured signature does not sign anything else
    wait_for(lambda: line.replies)
    time.sleep(0.3)
    assert len(rasa.received) == 1 and stored_count(engine) == 1


def test_empty_signature_and_non_utf8_body_are_refused(gateway) -> None:
    server, rasa, _, engine = gateway
    assert httpx.post(f"{server.url}/webhooks/line", content=b"{}", headers={"x-line-signature": ""}).status_code == 400
    junk = b"\xff\xfe\x00garbage"
    assert post(server, junk, sign(b"something else")).status_code == 401
    assert stored_count(engine) == 0


def test_signed_but_malformed_body_is_a_400(gateway) -> None:
    server, _, _, engine = gateway
    for body in (b"not json", b'{"no_events": 1}', b'{"events": {}}'):
        assert post(server, body).status_code == 400
    assert stored_count(engine) == 0


def test_oversized_body_is_refused_before_it_is_read(gateway) -> None:
    server, _, _, engine = gateway
    settings = gateway[0].server.config.app.state.gateway.settings
    big = b'{"events": [], "pad": "' + b"x" * (settings.max_body_bytes + 10) + b'"}'
    assert post(server, big).status_code == 413

    def chunks():  # no Content-Length: the limit still holds while streaming
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    response = httpx.post(f"{server.url}/webhooks/line", content=chunks(), headers={"x-line-signature": "abc"})
    assert response.status_code == 413
    assert stored_count(engine) == 0


# ---------------------------------------------------------------- redelivery, duplicates, order


def test_concurrent_duplicates_store_and_answer_once(gateway) -> None:
    server, rasa, line, engine = gateway
    body = line_body("line_text.json", webhookEventId="01CONCURRENT")
    data = json.loads(body)
    data["events"][0]["deliveryContext"]["isRedelivery"] = True
    redelivered = json.dumps(data, ensure_ascii=False).encode()

    async def blast() -> list[int]:
        async with httpx.AsyncClient() as client:
            responses = await asyncio.gather(*(
                client.post(f"{server.url}/webhooks/line", content=b, headers={"x-line-signature": sign(b)})
                for b in [body] * 6 + [redelivered] * 6
            ))
        return [r.json()["stored"] for r in responses]

    assert sum(asyncio.run(blast())) == 1
    wait_for(lambda: line.replies)
    time.sleep(0.5)
    assert len(rasa.received) == 1 and len(line.replies) == 1 and line.pushes == []


def test_one_conversation_is_answered_in_order(gateway) -> None:
    server, rasa, line, _ = gateway
    rasa.delay = 0.05
    body = line_body("line_batch.json")
    assert post(server, body).json() == {"stored": 3}
    for i, word in enumerate(["สี่", "ห้า", "หก"]):
        extra = line_body("line_text.json", webhookEventId=f"01ORDER{i}", replyToken=f"order-{i}")
        data = json.loads(extra)
        data["events"][0]["message"]["text"] = word
        extra = json.dumps(data, ensure_ascii=False).encode()
        post(server, extra)
    wait_for(lambda: len(rasa.received) == 6)
    assert [r["message"] for r in rasa.received] == ["หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก"]
    wait_for(lambda: len(line.replies) == 6)
    assert [r["messages"][0]["text"] for r in line.replies] == [f"ตอบ: {w}" for w in ["หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก"]]


def test_conversations_run_in_parallel(gateway) -> None:
    server, rasa, line, _ = gateway
    rasa.delay = 1.0
    started = time.monotonic()
    for i in range(8):
        body = line_body("line_text.json", webhookEventId=f"01PAR{i}", replyToken=f"par-{i}",
                         source={"type": "user", "userId": f"Upar{i}"})
        post(server, body)
    wait_for(lambda: len(line.replies) == 8, timeout=20)
    assert time.monotonic() - started < 5  # eight 1-second answers, not one after another


# ---------------------------------------------------------------- groups and rooms


def test_group_chatter_and_stickers_are_left_alone(gateway) -> None:
    server, rasa, line, engine = gateway
    for name in ("line_group_chatter.json", "line_group_sticker.json", "line_member_joined.json"):
        assert post(server, line_body(name)).json() == {"stored": 0}
    time.sleep(0.5)
    assert rasa.received == [] and line.replies == [] and stored_count(engine) == 0


def test_mention_is_cut_from_the_text(gateway) -> None:
    server, rasa, line, _ = gateway
    post(server, line_body("line_group_text.json"))
    wait_for(lambda: rasa.received)
    assert rasa.received[0]["message"] == "ติดตามคำร้อง"
    assert line.loading == []  # the loading animation is for 1:1 chats only


def test_room_trigger_word_addresses_the_bot(gateway) -> None:
    server, rasa, line, _ = gateway
    post(server, line_body("line_room_trigger.json"))
    wait_for(lambda: line.replies)
    sent = rasa.received[0]
    assert sent["sender"] == "line-group:Ra8dbf4f0a2:U4af4980629" and sent["message"] == "ขอเอกสารทำบัตรประชาชน"
    assert sent["metadata"]["chat_type"] == "room" and sent["metadata"]["user_id"] == "U4af4980629"


def test_join_greets_the_group_and_leave_stops_proactive_messages(gateway) -> None:
    server, rasa, line, engine = gateway
    post(server, line_body("line_join.json"))
    wait_for(lambda: line.replies)
    assert "สวัสดีครับ" in line.replies[0]["messages"][0]["text"]
    post(server, line_body("line_leave.json"))
    wait_for(lambda: _following(engine, "Ca56f94637c") is False)
    assert rasa.received == []


def _following(engine, user_id: str) -> bool | None:
    with session_scope(engine) as s:
        return s.scalar(select(ChannelUser.following).where(ChannelUser.channel == "line", ChannelUser.user_id == user_id))


# ---------------------------------------------------------------- event kinds


def test_postback_data_reaches_rasa_as_the_message(gateway) -> None:
    server, rasa, line, _ = gateway
    post(server, line_body("line_postback.json"))
    wait_for(lambda: rasa.received)
    assert rasa.received[0]["message"] == '/check_request_status{"request_id": "REQ-000123"}'
    assert rasa.received[0]["metadata"]["postback"] is True


@pytest.mark.parametrize("payload", ["line_audio.json", "line_video.json", "line_file.json"])
def test_audio_video_and_files_get_the_polite_reply(gateway, payload: str) -> None:
    server, rasa, line, _ = gateway
    post(server, line_body(payload))
    wait_for(lambda: line.replies)
    text = line.replies[0]["messages"][0]["text"]
    assert "ข้อความ" in text and "ตำแหน่ง" in text and "ปุ่ม" in text
    assert rasa.received == []


def test_unfollow_marks_the_user_and_cancels_their_proactive_messages(gateway) -> None:
    server, _, line, engine = gateway
    with session_scope(engine) as s:
        enqueue(s, kind="status", channel="line", recipient="U4af4980629", text="คำร้องของคุณคืบหน้าแล้ว", idempotency_key="k-unfollow")
    post(server, line_body("line_unfollow.json"))
    wait_for(lambda: _following(engine, "U4af4980629") is False)
    with session_scope(engine) as s:
        assert s.scalar(select(Outbox.state).where(Outbox.idempotency_key == "k-unfollow")) == "cancelled"
    time.sleep(0.3)
    assert line.replies == [] and line.pushes == []

    async def later_message() -> None:
        async with OutboundClients(gateway[0].server.config.app.state.gateway.settings, engine=engine) as clients:
            with pytest.raises(DeliveryError) as caught:
                await clients.send("line", "U4af4980629", {"text": "แจ้งเตือน"}, retry_key=str(uuid.uuid4()))
            assert caught.value.permanent

    asyncio.run(later_message())
    assert line.pushes == []


# ---------------------------------------------------------------- text hygiene


def _text_event(event_id: str, text: str) -> bytes:
    data = json.loads(line_body("line_text.json", webhookEventId=event_id, replyToken=f"tok-{event_id}"))
    data["events"][0]["message"]["text"] = text
    return json.dumps(data, ensure_ascii=False).encode()


def test_huge_message_is_cut_with_a_note(gateway) -> None:
    server, rasa, line, _ = gateway
    limit = gateway[0].server.config.app.state.gateway.settings.max_message_chars
    post(server, _text_event("01HUGE", "ก" * (limit * 3)))
    wait_for(lambda: line.replies)
    assert len(rasa.received[0]["message"]) == limit
    texts = [m["text"] for m in line.replies[0]["messages"]]
    assert "ยาวเกินไป" in texts[0] and texts[1].startswith("ตอบ: ")


def test_control_characters_are_removed_and_empty_text_is_not_sent(gateway) -> None:
    server, rasa, line, engine = gateway
    post(server, _text_event("01CTRL", "สวัส\x00ดี\u200b\x1b[31m ครับ\x7f"))
    post(server, _text_event("01EMPTY", " \x00\x01 \u200b "))
    wait_for(lambda: rasa.received)
    time.sleep(0.5)
    assert [r["message"] for r in rasa.received] == ["สวัสดี[31m ครับ"]
    with session_scope(engine) as s:
        assert set(s.scalars(select(InboundEvent.state))) == {"done"}


# ---------------------------------------------------------------- replies


def test_more_than_five_messages_use_the_token_then_push(gateway) -> None:
    server, _, line, _ = gateway
    post(server, _text_event("01MANY", "ขอหลายข้อความ"))
    wait_for(lambda: line.pushes)
    assert len(line.replies[0]["messages"]) == 5
    assert [m["text"] for m in line.pushes[0]["messages"]] == ["ข้อความที่ 6", "ข้อความที่ 7"]


def test_reply_rate_limit_is_retried(gateway) -> None:
    server, _, line, _ = gateway
    line.reply_failures = [429]
    post(server, _text_event("01RATE", "สวัสดี"))
    wait_for(lambda: line.replies, timeout=20)
    assert line.replies[0]["messages"][0]["text"] == "ตอบ: สวัสดี"


# ---------------------------------------------------------------- proactive sends (the scheduler's API)


async def test_send_pushes_once_per_retry_key_and_maps_errors(tmp_path, fake_line) -> None:
    line, line_server = fake_line
    settings = make_settings(tmp_path, line_channel_secret=LINE_SECRET, line_channel_access_token="test-token",
                             line_api_base_url=line_server.url)
    channel = LineChannel(settings)
    await channel.start()
    try:
        key = str(uuid.uuid4())
        payload = {"text": "คำร้อง REQ-000123 ดำเนินการเสร็จแล้วครับ", "buttons": [{"title": "ให้คะแนน", "payload": "/rate_service"}]}
        await channel.send("U1", payload, key)
        await channel.send("U1", payload, key)  # the scheduler retried after a lost response: LINE answers 409
        assert len(line.pushes) == 1 and key in line.retry_keys
        assert line.pushes[0]["messages"][0]["quickReply"]["items"][0]["action"]["data"] == "/rate_service"

        line.push_failures = [(429, {"Retry-After": "7"})]
        with pytest.raises(DeliveryError) as caught:
            await channel.send("U1", payload, str(uuid.uuid4()))
        assert not caught.value.permanent and caught.value.retry_after == 7
        line.push_failures = [(500, {})]
        with pytest.raises(DeliveryError) as caught:
            await channel.send("U1", payload, str(uuid.uuid4()))
        assert not caught.value.permanent
        line.push_failures = [(400, {})]
        with pytest.raises(DeliveryError) as caught:
            await channel.send("U1", payload, str(uuid.uuid4()))
        assert caught.value.permanent
    finally:
        await channel.aclose()


def test_line_refuses_to_start_without_its_secret(tmp_path) -> None:
    settings = make_settings(tmp_path, line_channel_secret="", line_channel_access_token="token")
    with pytest.raises(ValueError):
        LineChannel(settings)
    from connectors.app import enabled_channels

    assert enabled_channels(settings) == {}


async def test_proxy_settings_are_read_once_not_on_every_request(monkeypatch) -> None:
    from linebot.v3.messaging import AsyncApiClient, Configuration

    from connectors.line import settle_environment

    for name in ("https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.agency.example:3128")
    client = AsyncApiClient(Configuration(access_token="t", host="https://api.line.me"))
    settle_environment(client, "https://api.line.me")
    assert client.rest_client.pool_manager.trust_env is False  # no per-request environment lookups
    assert client.rest_client.proxy == "http://proxy.agency.example:3128"  # the deployment's proxy still applies
    await client.close()
    assert client.rest_client.pool_manager.closed

    monkeypatch.setenv("NO_PROXY", "api.line.me")
    client = AsyncApiClient(Configuration(access_token="t", host="https://api.line.me"))
    settle_environment(client, "https://api.line.me")
    assert not client.rest_client.proxy
    await client.close()

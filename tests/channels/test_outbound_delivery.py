"""Outbound delivery (issue #17): timeouts, a slow or rate-limited platform, failed replies, salted
retry keys, and reply progress that survives a crash. Fake LINE and Telegram APIs on 127.0.0.1."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.scheduler.delivery import deliver_due
from bot.scheduler.senders import build_sender
from common import clock
from connectors.app import create_app
from connectors.channel import DeliveryError
from connectors.line import LineChannel
from connectors.worker import UNDELIVERED_APOLOGY
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models.channels import InboundEvent
from storage.models.outbox import Outbox
from storage.outbox import enqueue
from tests.channels.conftest import LINE_SECRET, TG_SECRET, TG_TOKEN, make_settings
from tests.channels.fakes import FakeLineApi, FakeTelegramApi, ServerThread
from tests.channels.test_gateway import line_body, sign, wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def fake_telegram():
    api = FakeTelegramApi(TG_TOKEN)
    with ServerThread(api.app) as server:
        yield api, server


def _settings(tmp_path, rasa_url: str, line_url: str, telegram_url: str | None = None, name: str = "gw.db", **overrides):  # type: ignore[no-untyped-def]
    extra = {}
    if telegram_url:
        extra = {"telegram_bot_token": TG_TOKEN, "telegram_mode": "webhook", "telegram_webhook_secret": TG_SECRET,
                 "telegram_api_base_url": f"{telegram_url}/bot"}
    settings = make_settings(tmp_path, rasa_url=rasa_url, line_channel_secret=LINE_SECRET, line_channel_access_token="test-token",
                             line_api_base_url=line_url, **extra, **overrides)
    return settings.__class__(**{**settings.__dict__, "database_url": f"sqlite:///{tmp_path / name}"})


def _engine(settings):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return engine


def post_line(server, event_id: str, user: str, token: str, text: str = "สวัสดีครับ") -> None:  # type: ignore[no-untyped-def]
    body = line_body("line_text.json", webhookEventId=event_id, replyToken=token, source={"type": "user", "userId": user},
                     message={"type": "text", "id": event_id, "quoteToken": "q", "text": text})
    response = httpx.post(f"{server.url}/webhooks/line", content=body, headers={"x-line-signature": sign(body)})
    assert response.status_code == 200, response.text


def post_telegram(server, update_id: int, chat_id: int, text: str) -> None:  # type: ignore[no-untyped-def]
    update = {"update_id": update_id, "message": {"message_id": update_id, "date": 1700000000, "chat": {"id": chat_id, "type": "private"},
                                                  "from": {"id": chat_id, "is_bot": False, "first_name": "สมชาย"}, "text": text}}
    response = httpx.post(f"{server.url}/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    assert response.status_code == 200, response.text


def line_texts_to(line: FakeLineApi, user: str) -> list[str]:
    return [m.get("text", "") for p in line.pushes if p["to"] == user for m in p["messages"]]


# ---------------------------------------------------------------- 1. timeouts: a stalled platform holds only its own conversations


def test_a_stalled_line_api_holds_neither_telegram_nor_other_line_conversations(tmp_path, fake_rasa, fake_line, fake_telegram) -> None:
    rasa, rasa_server = fake_rasa
    line, line_server = fake_line
    telegram, telegram_server = fake_telegram
    settings = _settings(tmp_path, rasa_server.url, line_server.url, telegram_server.url,
                         outbound_connect_timeout=0.5, outbound_read_timeout=0.5)
    engine = _engine(settings)
    stalled = [f"Ustall{i}" for i in range(34)]  # more than the worker's 32 slots
    line.slow_to = set(stalled)
    try:
        with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)) as server:
            for i, user in enumerate(stalled):
                post_line(server, f"01STALL{i}", user, f"slow-{i}")
            wait_for(lambda: line.slow_waiting >= 10)  # LINE is holding many calls
            post_telegram(server, 5001, 222, "สวัสดีครับ")
            post_line(server, "01FAST", "Ufast", "tok-fast")
            # seconds, not the SDK's five minutes: both are answered while LINE still stalls the others
            wait_for(lambda: any(m["text"] == "ตอบ: สวัสดีครับ" for m in telegram.sent()), timeout=6)
            wait_for(lambda: any(r["replyToken"] == "tok-fast" for r in line.replies), timeout=8)
            with session_scope(engine) as s:
                waiting = s.scalars(select(InboundEvent.state).where(InboundEvent.conversation.like("line:Ustall%"))).all()
            assert len(waiting) == len(stalled) and "done" not in waiting  # the stalled ones still wait, in the store
            assert not line_texts_to(line, "Ustall0")
            line.release()
    finally:
        line.release()
        engine.dispose()


# ---------------------------------------------------------------- 1b. 429 Retry-After


def test_a_429_retry_after_is_honoured_in_the_store_and_holds_nothing_meanwhile(tmp_path, fake_rasa, fake_line) -> None:
    rasa, rasa_server = fake_rasa
    line, line_server = fake_line
    settings = _settings(tmp_path, rasa_server.url, line_server.url)
    engine = _engine(settings)
    line.push_failures = [(429, {"Retry-After": "40"})]
    moved = timedelta(0)
    try:
        with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)) as server:
            post_line(server, "01LIMITED", "Ulimited", "expired-limited")  # the token is gone: the answer is pushed
            wait_for(lambda: line.push_attempts)
            refused_at = line.push_attempts[0][0]
            assert line.push_attempts[0][2] == 429
            # another conversation goes on meanwhile
            post_line(server, "01OTHER", "Uother", "tok-other")
            wait_for(lambda: any(r["replyToken"] == "tok-other" for r in line.replies))
            wait_for(lambda: _state(engine, "01LIMITED")[0] == "answered")
            state, next_attempt, replies = _state(engine, "01LIMITED")
            assert next_attempt - refused_at >= timedelta(seconds=40)  # not before LINE's Retry-After
            assert replies and replies[0]["text"] == "ตอบ: สวัสดีครับ"  # kept with the event: Rasa is not asked again
            assert len(line.push_attempts) == 1
            moved = timedelta(seconds=41)
            clock.start_at(clock.now() + moved)  # LINE's 40 seconds pass
            wait_for(lambda: line_texts_to(line, "Ulimited") == ["ตอบ: สวัสดีครับ"])
            wait_for(lambda: _state(engine, "01LIMITED")[0] == "done")
        assert line.push_attempts[1][0] - refused_at >= timedelta(seconds=40)
        assert [r["message"] for r in rasa.received].count("สวัสดีครับ") == 2  # once per conversation, never again
    finally:
        if moved:
            clock.start_at(clock.now() - moved)
        engine.dispose()


def _state(engine, external_id: str):  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        row = s.scalars(select(InboundEvent).where(InboundEvent.external_id == external_id)).one()
        return row.state, row.next_attempt_at, row.replies


# ---------------------------------------------------------------- 2. a permanently failed reply is recorded, visible, and sent later


def test_a_reply_that_cannot_be_delivered_is_recorded_visible_and_sent_later(tmp_path, fake_rasa, fake_line, monkeypatch, caplog) -> None:
    rasa, rasa_server = fake_rasa
    line, line_server = fake_line
    settings = _settings(tmp_path, rasa_server.url, line_server.url, reply_give_up_seconds=3.0)
    engine = _engine(settings)
    caplog.set_level("DEBUG")
    line.push_failures = [(500, {})] * 50  # LINE is down for pushes; the reply token has expired
    with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)) as server:
        post_line(server, "01DOWN", "Udown", "expired-down", text="ขอเบอร์ติดต่อ 0812345678")
        wait_for(lambda: _outcome(engine, "01DOWN")[0] == "failed", timeout=30)
        metrics = httpx.get(f"{server.url}/metrics").text
    outcome, error, event_id = _outcome(engine, "01DOWN")
    assert "LINE HTTP 500" in error and "0812345678" not in error
    assert 'gateway_replies_undelivered{outcome="failed"} 1' in metrics
    assert 'gateway_worker_total{what="replies_queued_for_later"} 1' in metrics

    # visible to admins, without the text
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    from common.settings import get_settings

    get_settings.cache_clear()
    from bot.cli import cli

    runner = CliRunner()
    listed = runner.invoke(cli, ["followups", "failed-replies", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["event"], r["outcome"], r["followup_state"]) for r in rows] == [(event_id, "failed", "pending")]
    assert "0812345678" not in listed.output
    summary = runner.invoke(cli, ["followups", "list"])
    assert "replies not delivered: 1 failed" in summary.output and "0812345678" not in summary.output

    # the scheduler tells the person later, once LINE is back
    line.push_failures = []
    with session_scope(engine) as s:
        notice = s.scalars(select(Outbox).where(Outbox.cause_type == "inbound_event", Outbox.cause_id == str(event_id))).one()
        due = notice.due_at

    async def later() -> None:
        async with build_sender(settings, engine) as send:
            stats = await deliver_due(engine, send, owner="test", now=due + timedelta(seconds=1))
        assert stats.sent == 1

    import asyncio

    asyncio.run(later())
    pushed = line_texts_to(line, "Udown")
    assert len(pushed) == 1 and pushed[0].startswith(UNDELIVERED_APOLOGY) and "ตอบ: ขอเบอร์ติดต่อ 0812345678" in pushed[0]
    logged = caplog.text
    assert "0812345678" not in logged and "expired-down" not in logged and "test-token" not in logged
    engine.dispose()


def _outcome(engine, external_id: str):  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        row = s.scalars(select(InboundEvent).where(InboundEvent.external_id == external_id)).one_or_none()
        return (row.reply_outcome, row.reply_error, row.id) if row else (None, None, None)


# ---------------------------------------------------------------- 3. retry keys salted per installation


def test_two_installations_on_one_line_channel_do_not_collide_on_retry_keys(tmp_path, fake_rasa, fake_line) -> None:
    rasa, rasa_server = fake_rasa
    line, line_server = fake_line
    installations = []
    for name in ("production.db", "staging.db"):  # two databases, each numbering its events and rows from 1
        settings = _settings(tmp_path, rasa_server.url, line_server.url, name=name)
        installations.append((settings, _engine(settings)))
    for n, (settings, engine) in enumerate(installations):
        with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)) as server:
            post_line(server, f"01INST{n}", f"Uinst{n}", f"expired-inst{n}")  # pushed: the tokens have expired
            wait_for(lambda: len(line.pushes) == n + 1)
            wait_for(lambda: _state(engine, f"01INST{n}")[0] == "done")
        with session_scope(engine) as s:
            enqueue(s, kind="reminder", channel="line", recipient=f"Uinst{n}", text=f"เตือนความจำ {n}", idempotency_key="reminder:1")

    async def deliver_all() -> None:
        for settings, engine in installations:
            async with build_sender(settings, engine) as send:
                await deliver_due(engine, send, owner="test", now=clock.now())

    import asyncio

    asyncio.run(deliver_all())
    assert line_texts_to(line, "Uinst0") == ["ตอบ: สวัสดีครับ", "เตือนความจำ 0"]
    assert line_texts_to(line, "Uinst1") == ["ตอบ: สวัสดีครับ", "เตือนความจำ 1"]
    assert all(status == 200 for _, _, status in line.push_attempts)
    for _, engine in installations:
        engine.dispose()


async def test_a_409_counts_as_delivered_only_for_a_key_this_installation_sent(tmp_path, fake_line) -> None:
    line, line_server = fake_line
    settings = make_settings(tmp_path, line_channel_secret=LINE_SECRET, line_channel_access_token="test-token",
                             line_api_base_url=line_server.url)
    channel = LineChannel(settings)
    await channel.start()
    try:
        key = str(uuid.uuid4())
        line.retry_keys.add(key)  # someone else's message was accepted under this key
        with pytest.raises(DeliveryError) as caught:
            await channel.send("U1", {"text": "แจ้งเตือน"}, key, resend=False)
        assert caught.value.permanent and "409" in caught.value.reason
        await channel.send("U1", {"text": "แจ้งเตือน"}, key, resend=True)  # our own earlier attempt: delivered once
        assert line.pushes == []
    finally:
        await channel.aclose()


# ---------------------------------------------------------------- 4. reply progress survives a crash


def test_a_gateway_stopped_between_two_parts_of_a_line_answer_sends_no_part_twice(tmp_path, db_engine, fake_rasa, fake_line) -> None:
    rasa, rasa_server = fake_rasa
    line, line_server = fake_line
    settings = _settings(tmp_path, rasa_server.url, line_server.url)
    line.slow_to = {"Umany"}  # the push after the reply token stalls: the gateway is stopped while it is in flight
    with ServerThread(create_app(settings, engine=db_engine, poll_interval=0.05)):
        pass  # warm the database (installation id) before the real run
    with ServerThread(create_app(settings, engine=db_engine, poll_interval=0.05)) as server:
        post_line(server, "01MANY", "Umany", "tok-many", text="ขอหลายข้อความ")
        wait_for(lambda: len(line.replies) == 1 and line.slow_waiting == 1)
    line.release()  # LINE accepts the push the stopped gateway sent, and nobody hears of it
    wait_for(lambda: len(line.pushes) == 1)
    with ServerThread(create_app(settings, engine=db_engine, poll_interval=0.05)):
        wait_for(lambda: _state(db_engine, "01MANY")[0] == "done")
    texts = [m["text"] for m in line.replies[0]["messages"]] + line_texts_to(line, "Umany")
    assert texts == [f"ข้อความที่ {i}" for i in range(1, 8)]  # every part once
    assert [status for _, _, status in line.push_attempts] == [200, 409]  # the resumed push met its own retry key
    assert _outcome(db_engine, "01MANY")[0] is None


def test_a_gateway_stopped_after_the_reply_token_was_used_does_not_push_the_answer_again(tmp_path, db_engine, fake_rasa,
                                                                                        fake_line, monkeypatch) -> None:
    rasa, rasa_server = fake_rasa
    line, line_server = fake_line
    settings = _settings(tmp_path, rasa_server.url, line_server.url)
    from connectors.worker import Worker

    original = Worker._mark_finished
    sent: list[int] = []

    async def crash(self, event, *args, **kwargs):  # type: ignore[no-untyped-def]
        import asyncio

        sent.append(event.id)
        await asyncio.sleep(3600)  # the process dies here: sent, not marked done

    monkeypatch.setattr(Worker, "_mark_finished", crash)
    with ServerThread(create_app(settings, engine=db_engine, poll_interval=0.05)) as server:
        post_line(server, "01ONCE", "Uonce", "tok-once")
        wait_for(lambda: sent and len(line.replies) == 1)
    monkeypatch.setattr(Worker, "_mark_finished", original)
    with ServerThread(create_app(settings, engine=db_engine, poll_interval=0.05)):
        wait_for(lambda: _state(db_engine, "01ONCE")[0] == "done")
    assert [m["text"] for r in line.replies for m in r["messages"]] == ["ตอบ: สวัสดีครับ"]
    assert line.pushes == []  # not pushed again
    outcome, error, _ = _outcome(db_engine, "01ONCE")
    assert outcome is None or outcome == "unknown"  # the token was spent by the first gateway: nothing sent twice


def test_telegram_parts_are_sent_once_across_a_429_and_a_stopped_gateway(tmp_path, db_engine, fake_rasa, fake_line, fake_telegram) -> None:
    rasa, rasa_server = fake_rasa
    line, line_server = fake_line
    telegram, telegram_server = fake_telegram
    settings = _settings(tmp_path, rasa_server.url, line_server.url, telegram_server.url)
    # the second part meets a 429 (retried at once), the third is delivered but its answer never comes back
    telegram.fail_call["sendMessage"] = {2: (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                                               "parameters": {"retry_after": 1}})}
    telegram.hold_call["sendMessage"] = 4
    with ServerThread(create_app(settings, engine=db_engine, poll_interval=0.05)) as server:
        post_telegram(server, 7001, 333, "ขอหลายข้อความ")
        wait_for(lambda: telegram.holding == 1, timeout=20)
    telegram.release()
    with ServerThread(create_app(settings, engine=db_engine, poll_interval=0.05)):
        wait_for(lambda: _state(db_engine, "7001")[0] == "done", timeout=20)
    delivered = [m["text"] for m in telegram.delivered if str(m.get("chat_id")) == "333"]
    assert len(delivered) == len(set(delivered)), delivered  # no part twice
    assert set(delivered) == {f"ข้อความที่ {i}" for i in range(1, 8)}
    outcome, error, _ = _outcome(db_engine, "7001")
    assert outcome == "unknown" and "1 message" in error  # the one cut off is recorded, not sent again


async def test_a_telegram_call_times_out_in_seconds_and_the_message_it_cut_off_is_not_sent_again(tmp_path, fake_telegram) -> None:
    import asyncio

    from connectors.telegram import TelegramChannel
    from storage.inbound import Event

    telegram, telegram_server = fake_telegram
    settings = make_settings(tmp_path, telegram_bot_token=TG_TOKEN, telegram_api_base_url=f"{telegram_server.url}/bot",
                             outbound_connect_timeout=0.5, outbound_read_timeout=0.5)
    channel = TelegramChannel(settings, inbound=False)
    await channel.start()
    event = Event(1, "telegram", "telegram:444", "message", "สวัสดี", {"chat_id": "444", "chat_type": "private"}, None, 0, clock.now())
    replies = [{"text": "ส่วนที่หนึ่ง", "buttons": [], "custom": None}, {"text": "ส่วนที่สอง", "buttons": [], "custom": None}]
    telegram.hold_call["sendMessage"] = 1  # Telegram takes the first message but its answer never comes back in time
    try:
        async with asyncio.timeout(5):  # seconds, not minutes
            with pytest.raises(DeliveryError) as caught:
                await channel.deliver(event, replies)
        assert caught.value.unknown and not caught.value.permanent
        await channel.deliver(event, replies)  # the worker's retry
    finally:
        telegram.release()
        await channel.aclose()
    assert [m["text"] for m in telegram.delivered] == ["ส่วนที่หนึ่ง", "ส่วนที่สอง"]  # neither twice
    assert event.progress.unknown == 1 and event.progress.sent == 2

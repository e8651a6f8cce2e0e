"""Telegram through the real python-telegram-bot client against a fake Bot API on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from connectors.channel import DeliveryError
from connectors.app import create_app
from connectors.render_telegram import to_telegram_messages
from connectors.telegram import COMMANDS, TelegramChannel, command_to_text
from storage.db import make_engine, session_scope
from storage.inbound import short_payload
from storage.migrate import upgrade
from storage.models.channels import ChannelUser
from storage.officials import find_official, register_official
from tests.channels.conftest import TG_SECRET, TG_TOKEN, make_settings
from tests.channels.fakes import FakeTelegramApi, ServerThread

PAYLOADS = Path(__file__).with_name("payloads")
pytestmark = pytest.mark.timeout(60)


def wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


@pytest.fixture
def fake_telegram():
    api = FakeTelegramApi(TG_TOKEN)
    with ServerThread(api.app) as server:
        yield api, server


@pytest.fixture
def telegram_gateway(tmp_path, fake_rasa, fake_telegram):
    rasa, rasa_server = fake_rasa
    api, api_server = fake_telegram
    settings = make_settings(tmp_path, rasa_url=rasa_server.url, telegram_bot_token=TG_TOKEN, telegram_mode="webhook",
                             telegram_webhook_secret=TG_SECRET, telegram_api_base_url=f"{api_server.url}/bot")
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with ServerThread(create_app(settings, engine=engine, poll_interval=0.05, loading_after=0.1, slow_after=5)) as server:
        yield server, rasa, api, engine
    engine.dispose()


def load(name: str, **changes) -> dict:
    data = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    data.update(changes)
    return data


def post_update(server, name: str | dict, secret: str | None = TG_SECRET, **changes) -> httpx.Response:
    data = load(name, **changes) if isinstance(name, str) else name
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return httpx.post(f"{server.url}/webhooks/telegram", json=data, headers=headers)


# ---------------------------------------------------------------- secret token


def test_secret_token_is_required_and_compared(telegram_gateway) -> None:
    server, rasa, api, _ = telegram_gateway
    assert post_update(server, "telegram_group_text.json", secret=None).status_code == 401
    assert post_update(server, "telegram_group_text.json", secret="wrong").status_code == 403
    assert post_update(server, "telegram_group_text.json", secret=TG_SECRET + "x").status_code == 403
    assert post_update(server, "telegram_group_text.json", secret="").status_code == 403
    time.sleep(0.3)
    assert rasa.received == [] and api.sent() == []


def test_replayed_update_is_stored_once(telegram_gateway) -> None:
    server, rasa, api, _ = telegram_gateway
    assert post_update(server, "telegram_private_text.json").json() == {"stored": 1}
    for _ in range(3):
        assert post_update(server, "telegram_private_text.json").json() == {"stored": 0}
    wait_for(lambda: api.sent())
    time.sleep(0.3)
    assert len(rasa.received) == 1 and len(api.sent()) == 1


def test_malformed_and_oversized_updates_are_refused(telegram_gateway) -> None:
    server, rasa, *_ = telegram_gateway
    headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    assert httpx.post(f"{server.url}/webhooks/telegram", content=b"{not json", headers=headers).status_code == 400
    huge = b'{"update_id": 1, "pad": "' + b"x" * 2_000_000 + b'"}'
    assert httpx.post(f"{server.url}/webhooks/telegram", content=huge, headers=headers).status_code == 413
    assert rasa.received == []


# ---------------------------------------------------------------- groups


def test_group_mention_is_answered_with_escaped_html_once(telegram_gateway) -> None:
    server, rasa, api, _ = telegram_gateway
    assert post_update(server, "telegram_group_text.json").json() == {"stored": 1}
    wait_for(lambda: api.sent())
    sent_to_rasa = rasa.received[0]
    assert sent_to_rasa["sender"] == "telegram:-1001234:111"  # the member's own conversation in the group
    assert sent_to_rasa["message"] == "งานค้าง <b>ด่วน</b> มีอะไรบ้าง"  # the @mention is cut
    assert sent_to_rasa["metadata"]["user_id"] == "111" and sent_to_rasa["metadata"]["display_name"] == "สมชาย ใจดี"
    assert sent_to_rasa["metadata"]["chat_type"] == "supergroup" and sent_to_rasa["metadata"]["chat_id"] == "-1001234"
    message = api.sent()[0]
    assert message["parse_mode"] == "HTML"
    assert "&lt;b&gt;" in message["text"]  # the user's own markup is shown, not interpreted
    assert message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "/help"


def test_group_chatter_and_stickers_are_left_alone(telegram_gateway) -> None:
    server, rasa, api, _ = telegram_gateway
    assert post_update(server, "telegram_group_chatter.json").json() == {"stored": 0}
    assert post_update(server, "telegram_group_sticker.json").json() == {"stored": 0}
    time.sleep(0.3)
    assert rasa.received == [] and api.sent() == []


def test_a_plain_group_message_naming_a_request_or_task_reaches_the_assistant(telegram_gateway) -> None:
    """README: officials type "REQ-000001 รับเรื่องแล้ว" in their group, without @mention (privacy mode off or bot admin)."""
    server, rasa, api, _ = telegram_gateway
    chatter = load("telegram_group_chatter.json")
    for update_id, text in ((5101, "REQ-000001 รับเรื่องแล้ว"), (5102, "t-๑๒ เสร็จแล้วน้า"), (5103, "ใครว่างไปกินข้าวกัน"),
                            (5104, "ส่งไฟล์แบบ t5 ไปแล้วนะ")):
        update = {**chatter, "update_id": update_id, "message": {**chatter["message"], "message_id": update_id, "text": text}}
        assert post_update(server, update).json() == {"stored": int(update_id < 5103)}, text
    wait_for(lambda: len(rasa.received) == 2)
    time.sleep(0.3)
    assert [r["message"] for r in rasa.received] == ["REQ-000001 รับเรื่องแล้ว", "t-๑๒ เสร็จแล้วน้า"]
    member = chatter["message"]["from"]["id"]
    assert {r["sender"] for r in rasa.received} == {f"telegram:{chatter['message']['chat']['id']}:{member}"}


def test_group_reply_to_the_bot_and_commands_reach_the_assistant(telegram_gateway) -> None:
    server, rasa, api, _ = telegram_gateway
    post_update(server, "telegram_group_reply_to_bot.json")
    post_update(server, "telegram_group_command.json")
    wait_for(lambda: len(rasa.received) == 2)
    # the reply names no task: the one the bot's message named ("งาน T-42 ถึงกำหนดพรุ่งนี้") goes in front
    assert [r["message"] for r in rasa.received] == ["T-42 เสร็จแล้วครับ", "/list_tasks"]


def test_a_reply_to_a_card_naming_two_records_is_passed_on_as_typed(telegram_gateway) -> None:
    server, rasa, api, _ = telegram_gateway
    update = load("telegram_group_reply_to_bot.json")
    update["message"]["reply_to_message"]["text"] = "คำร้องที่รอ: REQ-000001, REQ-000002"
    update["message"]["text"] = "รับครับ"
    post_update(server, update)
    wait_for(lambda: rasa.received)
    assert rasa.received[0]["message"] == "รับครับ"


def test_bot_added_to_a_group_greets_and_removal_stops_proactive_messages(telegram_gateway) -> None:
    server, rasa, api, engine = telegram_gateway
    post_update(server, "telegram_bot_added.json")
    wait_for(lambda: api.sent())
    assert "/help" in api.sent()[0]["text"] and api.sent()[0]["chat_id"] == -1001234
    post_update(server, "telegram_bot_removed.json")

    def following() -> bool | None:
        with session_scope(engine) as s:
            return s.scalar(select(ChannelUser.following).where(ChannelUser.channel == "telegram", ChannelUser.user_id == "-1001234"))

    wait_for(lambda: following() is False)
    assert rasa.received == []


def test_only_admins_register_officials_in_a_group(telegram_gateway) -> None:
    server, rasa, api, engine = telegram_gateway
    with session_scope(engine) as s:
        register_official(s, channel="telegram", user_id="111", agency="สำนักงานพัฒนารัฐบาลดิจิทัล", role="admin")
    data = load("telegram_group_text.json", update_id=5001)
    data["message"]["text"] = "/register 222 สำนักงานพัฒนารัฐบาลดิจิทัล coordinator"  # an agency admin: their own agency
    post_update(server, data)
    data = load("telegram_group_text.json", update_id=5002)
    data["message"]["from"]["id"] = 333  # not an admin
    data["message"]["text"] = "/register@thgov_bot 444 กรมสรรพากร admin"
    post_update(server, data)
    wait_for(lambda: len(api.sent()) == 2)
    assert rasa.received == []  # commands never reach NLU
    with session_scope(engine) as s:
        assert find_official(s, "telegram", "222").role == "coordinator"
        assert find_official(s, "telegram", "444") is None
    texts = [m["text"] for m in api.sent()]
    assert any("ลงทะเบียน" in t for t in texts) and any("เฉพาะ" in t or "เท่านั้น" in t for t in texts)


# ---------------------------------------------------------------- private chats and message kinds


def test_edited_message_is_read_again_as_new_text(telegram_gateway) -> None:
    server, rasa, api, _ = telegram_gateway
    post_update(server, "telegram_private_text.json")
    post_update(server, "telegram_edited.json")
    wait_for(lambda: len(rasa.received) == 2)
    assert [r["message"] for r in rasa.received] == ["สวัสดีครับ", "สวัสดีครับ ขอดูงานค้าง"]
    assert rasa.received[1]["metadata"]["edited"] is True and rasa.received[0]["sender"] == "telegram:111"


def test_location_reaches_the_assistant(telegram_gateway) -> None:
    server, rasa, api, _ = telegram_gateway
    post_update(server, "telegram_location.json")
    wait_for(lambda: rasa.received)
    assert rasa.received[0]["message"] == "ตำแหน่งที่ตั้ง"
    assert rasa.received[0]["metadata"]["location"] == {"latitude": 13.7563, "longitude": 100.5018, "address": "", "title": ""}


def test_photo_in_a_private_chat_gets_the_polite_reply(telegram_gateway) -> None:
    server, rasa, api, _ = telegram_gateway
    post_update(server, "telegram_photo.json")
    wait_for(lambda: api.sent())
    assert "ข้อความ" in api.sent()[0]["text"] and rasa.received == []


def test_callback_query_is_answered_and_reaches_rasa(telegram_gateway) -> None:
    server, rasa, api, _ = telegram_gateway
    post_update(server, "telegram_callback.json")
    wait_for(lambda: rasa.received)
    assert rasa.received[0]["message"] == "/help"
    assert api.sent("answerCallbackQuery")[0]["callback_query_id"] == "cbq-1"


def test_long_button_payloads_go_through_a_short_key(telegram_gateway) -> None:
    server, rasa, api, engine = telegram_gateway
    # a real button's shape: connectors/payloads.py lets only those reach Rasa as an intent (issue #17)
    payload = '/search_law{"law_id": "123", "law_topic": "ติดตามคำร้องเรื่องถนนชำรุด"}'
    assert len(payload.encode()) > 64
    key = short_payload(engine, payload)
    assert len(key.encode()) <= 64 and short_payload(engine, payload) == key
    data = load("telegram_callback_long.json")
    data["callback_query"]["data"] = key
    post_update(server, data)
    wait_for(lambda: rasa.received)
    assert rasa.received[0]["message"] == payload
    data = load("telegram_callback_long.json", update_id=4015)
    data["callback_query"]["data"] = "cb:unknown"
    post_update(server, data)
    wait_for(lambda: len(api.sent()) == 2)
    assert any("หมดอายุ" in m["text"] for m in api.sent())


def test_slow_answer_shows_typing(telegram_gateway) -> None:
    server, rasa, api, _ = telegram_gateway
    rasa.delay = 0.6
    post_update(server, "telegram_private_text.json")
    wait_for(lambda: api.sent())
    assert api.sent("sendChatAction")[0]["action"] == "typing"


# ---------------------------------------------------------------- rendering


def test_cards_render_as_escaped_html_with_buttons_and_link() -> None:
    replies = [{"text": "ผลการค้นหา <2 รายการ>", "buttons": [], "custom": {"type": "cards", "alt_text": "x", "cards": [
        {"title": "พ.ร.บ. <ทดสอบ> & ตัวอย่าง", "subtitle": "2562", "lines": ["สรุป <สั้น>"], "fields": [["หน่วยงาน", "สคส."]],
         "link": {"label": "อ่าน", "url": "https://www.krisdika.go.th/"}, "buttons": [{"title": "ดูมาตรา", "payload": "x" * 80}]}]}}]
    [(text, markup)] = to_telegram_messages(replies, shorten=lambda p: "cb:short" if len(p) > 64 else p)
    assert "<b>พ.ร.บ. &lt;ทดสอบ&gt; &amp; ตัวอย่าง</b>" in text and "<i>2562</i>" in text and "สรุป &lt;สั้น&gt;" in text
    assert "ผลการค้นหา &lt;2 รายการ&gt;" in text
    rows = markup.to_dict()["inline_keyboard"]
    assert rows[0][0]["callback_data"] == "cb:short" and rows[1][0]["url"] == "https://www.krisdika.go.th/"


def test_long_text_is_split_under_the_limit_and_location_request_offers_the_button() -> None:
    long = "\n".join(["บรรทัด & ข้อมูล <ยาว>"] * 400)
    parts = to_telegram_messages([{"text": long, "buttons": [{"title": "ต่อ", "payload": "/affirm"}], "custom": None}])
    assert len(parts) > 1 and all(len(t) <= 4096 for t, _ in parts)
    assert parts[-1][1] is not None and all(m is None for _, m in parts[:-1])
    [(_, keyboard)] = to_telegram_messages([{"text": None, "buttons": [], "custom": {"type": "location_request", "text": "ส่งตำแหน่งครับ"}}])
    assert keyboard.to_dict()["keyboard"][0][0]["request_location"] is True
    [(_, none)] = to_telegram_messages([{"text": None, "buttons": [], "custom": {"type": "location_request", "text": "ส่ง"}}], private=False)
    assert none is None


def test_commands_are_kept_as_commands_without_the_bots_name() -> None:
    assert command_to_text("/tasks") == "/tasks"
    assert command_to_text("/newtask@thgov_bot ร่างหนังสือ พรุ่งนี้") == "/newtask ร่างหนังสือ พรุ่งนี้"
    assert command_to_text("/NewTask\nร่างหนังสือ") == "/newtask ร่างหนังสือ"  # a line break after the command
    assert command_to_text("/remind พรุ่งนี้ 9 โมง ประชุม") == "/remind พรุ่งนี้ 9 โมง ประชุม"
    assert command_to_text("/start") == "/help"
    assert command_to_text("สวัสดี") == "สวัสดี"


def test_officials_commands_reach_their_intent_not_the_classifier(telegram_gateway) -> None:
    """"/newtask เตรียมข้อมูลผู้เสียภาษีตัวอย่าง" was sent as "สร้างงาน …" and the classifier read a tax question:
    a command goes as its intent, its words verbatim in the metadata; a typed `/create_task{...}` stays words."""
    server, rasa, api, _ = telegram_gateway
    command = load("telegram_group_command.json")
    sent = [(6101, "/newtask@{bot} เตรียมข้อมูลผู้เสียภาษีตัวอย่าง ภายในศุกร์หน้า"), (6102, "/remind พรุ่งนี้ 9 โมง ยื่นภาษี"),
            (6103, "/tasks ของฉัน"), (6104, '/create_task{"task_title": "แอบสร้าง"}')]
    for update_id, text in sent:
        update = {**command, "update_id": update_id,
                  "message": {**command["message"], "message_id": update_id, "text": text.replace("{bot}", "thgov_bot"), "entities": []}}
        assert post_update(server, update).json() == {"stored": 1}, text
    wait_for(lambda: len(rasa.received) == 4)
    assert [(r["message"], r["metadata"].get("command_text")) for r in rasa.received] == [
        ("/create_task", "เตรียมข้อมูลผู้เสียภาษีตัวอย่าง ภายในศุกร์หน้า"),
        ("/set_reminder", "พรุ่งนี้ 9 โมง ยื่นภาษี"),
        ("/list_tasks", "ของฉัน"),
        ('"แอบสร้าง"}', None),  # an unknown command's words: not an intent, no command words
    ]


# ---------------------------------------------------------------- proactive sends, polling, set-up


async def test_send_maps_telegram_errors(tmp_path, fake_telegram) -> None:
    api, api_server = fake_telegram
    settings = make_settings(tmp_path, telegram_bot_token=TG_TOKEN, telegram_api_base_url=f"{api_server.url}/bot", telegram_mode="webhook")
    channel = TelegramChannel(settings, inbound=False)  # a sender needs no webhook secret
    await channel.start()
    try:
        await channel.send("-1001234", {"text": "สรุปงานประจำวัน <3 งาน>"}, "k1")
        assert api.sent()[0]["text"] == "สรุปงานประจำวัน &lt;3 งาน&gt;"
        api.failures["sendMessage"] = [(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7",
                                              "parameters": {"retry_after": 7}})]
        with pytest.raises(DeliveryError) as caught:
            await channel.send("111", {"text": "x"}, "k2")
        assert not caught.value.permanent and caught.value.retry_after == 7
        api.failures["sendMessage"] = [(403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})]
        with pytest.raises(DeliveryError) as caught:
            await channel.send("111", {"text": "x"}, "k3")
        assert caught.value.permanent
        api.failures["sendMessage"] = [(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})]
        with pytest.raises(DeliveryError) as caught:
            await channel.send("111", {"text": "x"}, "k4")
        assert not caught.value.permanent
    finally:
        await channel.aclose()


def test_webhook_mode_refuses_to_start_without_a_secret(tmp_path) -> None:
    settings = make_settings(tmp_path, telegram_bot_token=TG_TOKEN, telegram_mode="webhook", telegram_webhook_secret="")
    with pytest.raises(ValueError):
        TelegramChannel(settings)


def test_polling_mode_stores_answers_and_confirms_offsets(tmp_path, fake_rasa, fake_telegram) -> None:
    rasa, rasa_server = fake_rasa
    api, api_server = fake_telegram
    api.updates = [load("telegram_private_text.json"), load("telegram_group_text.json")]
    settings = make_settings(tmp_path, rasa_url=rasa_server.url, telegram_bot_token=TG_TOKEN, telegram_mode="polling",
                             telegram_api_base_url=f"{api_server.url}/bot")
    engine = make_engine(settings.database_url)
    upgrade(engine)
    app = create_app(settings, engine=engine, poll_interval=0.05)
    with ServerThread(app) as server:
        wait_for(lambda: len(api.sent()) == 2)
        wait_for(lambda: any(int(p.get("offset") or 0) == 4002 for p in api.sent("getUpdates")))
        assert httpx.post(f"{server.url}/webhooks/telegram", json={}).status_code == 404  # no webhook route in polling mode
    assert sorted(r["sender"] for r in rasa.received) == ["telegram:-1001234:111", "telegram:111"]  # each once, though re-offered
    engine.dispose()


def test_set_webhook_and_set_commands(monkeypatch, fake_telegram) -> None:
    from bot.commands.telegram import cli
    from common.settings import get_settings

    api, api_server = fake_telegram
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TG_TOKEN)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", f"{api_server.url}/bot")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", TG_SECRET)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://bot.example.go.th")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["set-webhook"])
    assert result.exit_code == 0, result.output
    [params] = api.sent("setWebhook")
    assert params["url"] == "https://bot.example.go.th/webhooks/telegram" and params["secret_token"] == TG_SECRET
    assert set(params["allowed_updates"]) == {"message", "edited_message", "callback_query", "my_chat_member"}
    assert TG_TOKEN not in result.output and TG_SECRET not in result.output
    result = CliRunner().invoke(cli, ["set-commands"])
    assert result.exit_code == 0, result.output
    [params] = api.sent("setMyCommands")
    assert [c["command"] for c in params["commands"]] == [c for c, _ in COMMANDS]
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://insecure.example")
    get_settings.cache_clear()
    assert CliRunner().invoke(cli, ["set-webhook"]).exit_code != 0
    asyncio.run(asyncio.sleep(0))

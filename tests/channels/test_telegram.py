"""Telegram through the real python-telegram-bot client against a fake Bot API on loopback."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from connectors.app import create_app
from connectors.telegram import command_to_text
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.officials import find_official, register_official
from tests.channels.conftest import TG_SECRET, TG_TOKEN, make_settings
from tests.channels.fakes import FakeTelegramApi, ServerThread

PAYLOADS = Path(__file__).with_name("payloads")


def wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


@pytest.fixture
def telegram_gateway(tmp_path, fake_rasa):
    rasa, rasa_server = fake_rasa
    api = FakeTelegramApi(TG_TOKEN)
    with ServerThread(api.app) as api_server:
        settings = make_settings(tmp_path, rasa_url=rasa_server.url, telegram_bot_token=TG_TOKEN, telegram_mode="webhook",
                                 telegram_webhook_secret=TG_SECRET, telegram_api_base_url=f"{api_server.url}/bot")
        engine = make_engine(settings.database_url)
        upgrade(engine)
        with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)) as server:
            yield server, rasa, api, engine


def post_update(server, name: str, secret: str | None = TG_SECRET, **changes) -> httpx.Response:
    data = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    data.update(changes)
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return httpx.post(f"{server.url}/webhooks/telegram", json=data, headers=headers)


def test_secret_token_is_required_and_compared(telegram_gateway) -> None:
    server, rasa, api, _ = telegram_gateway
    assert post_update(server, "telegram_group_text.json", secret=None).status_code == 401
    assert post_update(server, "telegram_group_text.json", secret="wrong").status_code == 403
    time.sleep(0.3)
    assert rasa.received == [] and api.sent() == []


def test_group_message_is_answered_with_escaped_html_once(telegram_gateway) -> None:
    server, rasa, api, _ = telegram_gateway
    assert post_update(server, "telegram_group_text.json").json() == {"stored": 1}
    assert post_update(server, "telegram_group_text.json").json() == {"stored": 0}  # same update_id
    wait_for(lambda: api.sent())
    time.sleep(0.3)
    assert len(rasa.received) == 1 and len(api.sent()) == 1
    sent_to_rasa = rasa.received[0]
    assert sent_to_rasa["sender"] == "telegram:-1001234"
    assert sent_to_rasa["metadata"]["user_id"] == "111" and sent_to_rasa["metadata"]["display_name"] == "สมชาย ใจดี"
    message = api.sent()[0]
    assert message["parse_mode"] == "HTML"
    assert "&lt;b&gt;" in message["text"]  # the user's own markup is shown, not interpreted
    assert message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "/help"


def test_callback_query_is_answered_and_reaches_rasa(telegram_gateway) -> None:
    server, rasa, api, _ = telegram_gateway
    post_update(server, "telegram_callback.json")
    wait_for(lambda: rasa.received)
    assert rasa.received[0]["message"] == "/help"
    assert api.sent("answerCallbackQuery")


def test_commands_become_words_the_assistant_understands() -> None:
    assert command_to_text("/tasks") == "/list_tasks"
    assert command_to_text("/newtask@thgov_bot ร่างหนังสือ พรุ่งนี้") == "สร้างงาน ร่างหนังสือ พรุ่งนี้"
    assert command_to_text("/remind พรุ่งนี้ 9 โมง ประชุม") == "ช่วยเตือน พรุ่งนี้ 9 โมง ประชุม"
    assert command_to_text("/start") == "/help"
    assert command_to_text("สวัสดี") == "สวัสดี"


def test_only_admins_register_officials_in_a_group(telegram_gateway) -> None:
    server, rasa, api, engine = telegram_gateway
    with session_scope(engine) as s:
        register_official(s, channel="telegram", user_id="111", agency="สำนักงานพัฒนารัฐบาลดิจิทัล", role="admin")
    data = json.loads((PAYLOADS / "telegram_group_text.json").read_text(encoding="utf-8"))
    data["update_id"] = 5001
    data["message"]["text"] = "/register 222 กรมสรรพากร coordinator"
    httpx.post(f"{server.url}/webhooks/telegram", json=data, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    data["update_id"] = 5002
    data["message"]["from"]["id"] = 333  # not an admin
    data["message"]["text"] = "/register 444 กรมสรรพากร admin"
    httpx.post(f"{server.url}/webhooks/telegram", json=data, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    wait_for(lambda: len(api.sent()) == 2)
    assert rasa.received == []  # commands never reach NLU
    with session_scope(engine) as s:
        assert find_official(s, "telegram", "222").role == "coordinator"
        assert find_official(s, "telegram", "444") is None
    texts = [m["text"] for m in api.sent()]
    assert any("ลงทะเบียน" in t for t in texts) and any("เฉพาะ" in t or "เท่านั้น" in t for t in texts)


def test_malformed_update_is_refused(telegram_gateway) -> None:
    server, *_ = telegram_gateway
    response = httpx.post(f"{server.url}/webhooks/telegram", content=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    assert response.status_code == 400

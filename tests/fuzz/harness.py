"""An in-process gateway for input tests: every channel on, the admin page mounted, fakes for Rasa, LINE and Telegram.

The gateway app runs in this process under uvicorn on an ephemeral loopback port (lifespan
included, so the worker answers; Starlette's TestClient warns about its httpx, and warnings are
errors here); Rasa, LINE's and Telegram's APIs are the loopback fakes of tests/channels/fakes.py.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
import httpx

from bot.nlu_admin.page import routes as admin_routes
from common.settings import Settings
from storage.db import make_engine
from storage.migrate import upgrade
from tests.channels.conftest import LINE_SECRET, TG_SECRET, TG_TOKEN, make_settings
from connectors.webchat import DEV_HEADER, dev_token
from tests.channels.fakes import FakeLineApi, FakeRasa, FakeTelegramApi, ServerThread

ADMIN_TOKEN = "test-admin-token-0123456789"
PAYLOADS = Path(__file__).resolve().parents[1] / "channels" / "payloads"


@dataclasses.dataclass
class Gateway:
    client: httpx.Client
    rasa: FakeRasa
    line: FakeLineApi
    telegram: FakeTelegramApi
    engine: Engine
    settings: Settings

    # --------------------------------------------------------------- senders
    def line_post(self, body: bytes) -> Any:
        signature = base64.b64encode(hmac.new(LINE_SECRET.encode(), body, hashlib.sha256).digest()).decode()
        return self.client.post("/webhooks/line", content=body, headers={"X-Line-Signature": signature})

    def telegram_post(self, body: bytes) -> Any:
        return self.client.post("/webhooks/telegram", content=body, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})

    def chat_post(self, body: bytes, developer: bool = True) -> Any:
        headers = {"Content-Type": "application/json", **(self.dev_headers() if developer else {})}
        return self.client.post("/api/chat/messages", content=body, headers=headers)

    def chat(self, text: str, chat_id: str = "fuzz", **extra: Any) -> Any:
        return self.chat_post(json.dumps({"chat_id": chat_id, "text": text, **extra}, ensure_ascii=False).encode())

    def dev_headers(self) -> dict[str, str]:
        """The local developer token of this gateway's installation (var_dir as it was at start)."""
        return {DEV_HEADER: dev_token(self.settings.var_dir)}

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting")
            time.sleep(0.02)


def line_body(text: str, *, event_id: str, user: str = "U4af4980629", **event_changes: Any) -> bytes:
    data = json.loads((PAYLOADS / "line_text.json").read_text(encoding="utf-8"))
    event = data["events"][0]
    event["message"]["text"] = text
    event["message"]["id"] = event_id[-14:]
    event["webhookEventId"] = event_id
    event["replyToken"] = "rt" + event_id
    event["source"]["userId"] = user
    event.update(event_changes)
    return json.dumps(data, ensure_ascii=False).encode()


def telegram_body(text: str, *, update_id: int, chat_id: int = 5001, user_id: int = 5001, chat_type: str = "private",
                  **message_changes: Any) -> bytes:
    message = {"message_id": update_id, "date": 1700000000, "chat": {"id": chat_id, "type": chat_type, "title": "กลุ่ม"},
               "from": {"id": user_id, "is_bot": False, "first_name": "สมชาย"}, "text": text, **message_changes}
    return json.dumps({"update_id": update_id, "message": message}, ensure_ascii=False).encode()


@contextlib.contextmanager
def gateway(tmp_path: Path, nlu_data: Path | None = None, **overrides: Any) -> Iterator[Gateway]:
    from connectors.app import create_app

    rasa, line, telegram = FakeRasa(), FakeLineApi(), FakeTelegramApi(TG_TOKEN)
    with ServerThread(rasa.app) as rasa_server, ServerThread(line.app) as line_server, ServerThread(telegram.app) as tg_server:
        settings = make_settings(
            tmp_path, rasa_url=rasa_server.url, line_channel_secret=LINE_SECRET, line_channel_access_token="test-token",
            line_api_base_url=line_server.url, telegram_bot_token=TG_TOKEN, telegram_mode="webhook",
            telegram_webhook_secret=TG_SECRET, telegram_api_base_url=f"{tg_server.url}/bot", admin_token=ADMIN_TOKEN,
            local_chat_enabled=True, **overrides)
        engine = make_engine(settings.database_url)
        upgrade(engine)
        app = create_app(settings, engine=engine, poll_interval=0.02, loading_after=5.0, slow_after=10.0,
                         extra_routes=admin_routes())
        if nlu_data is not None:
            app.state.nlu_data_dir = nlu_data
        with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
            yield Gateway(client, rasa, line, telegram, engine, settings)
        engine.dispose()

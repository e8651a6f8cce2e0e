"""`bot line rich-menu` against the fake LINE API, `bot gateway` as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from bot.commands.line import MENU, SHIPPED_IMAGE, cli as line_cli, menu_image
from tests.channels.fakes import FakeTelegramApi, ServerThread, free_port
from tests.channels.devchat import dev_headers

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(60)


def _line_env(monkeypatch, url: str) -> None:
    from common.settings import get_settings

    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", "test-token")
    monkeypatch.setenv("LINE_API_BASE_URL", url)
    monkeypatch.setenv("LINE_DATA_API_BASE_URL", url)
    get_settings.cache_clear()


def test_rich_menu_is_created_uploaded_and_made_default(monkeypatch, fake_line) -> None:
    api, server = fake_line
    _line_env(monkeypatch, server.url)
    result = CliRunner().invoke(line_cli, ["rich-menu"])
    assert result.exit_code == 0, result.output
    definition = json.loads(MENU.read_text(encoding="utf-8"))
    assert api.rich_menus[0]["chatBarText"] == "เมนู" and len(api.rich_menus[0]["areas"]) == len(definition["areas"])
    assert [a["action"]["data"] for a in api.rich_menus[0]["areas"]] == [a["action"]["data"] for a in definition["areas"]]
    [(menu_id, content_type, size)] = api.rich_menu_images
    assert menu_id == "richmenu-1" and content_type == "image/png" and 0 < size < 1_000_000
    assert api.default_rich_menu == "richmenu-1"
    assert "test-token" not in result.output


def test_rich_menu_image_without_upload(tmp_path) -> None:
    out = tmp_path / "menu.png"
    result = CliRunner().invoke(line_cli, ["rich-menu", "--save", str(out)])
    assert result.exit_code == 0, result.output
    from PIL import Image

    with Image.open(out) as image:
        assert image.size == (2500, 843)
    with Image.open(SHIPPED_IMAGE) as shipped:  # the fallback without Pillow has the right size too
        assert shipped.size == (2500, 843)
    body, how = menu_image(json.loads(MENU.read_text(encoding="utf-8")))
    assert body.startswith(b"\x89PNG") and "Pillow" in how


def test_rich_menu_needs_a_token(monkeypatch) -> None:
    from common.settings import get_settings

    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", "")
    get_settings.cache_clear()
    result = CliRunner().invoke(line_cli, ["rich-menu"])
    assert result.exit_code != 0 and "LINE_CHANNEL_ACCESS_TOKEN" in result.output


@pytest.mark.timeout(90)
def test_bot_gateway_runs_webchat_and_telegram_polling_in_one_process(tmp_path, fake_rasa) -> None:
    rasa, rasa_server = fake_rasa
    token = "42:gateway-process-token"
    api = FakeTelegramApi(token)
    with ServerThread(api.app) as telegram_server:
        port = free_port()
        env = dict(os.environ, BOT_ENV_FILE=str(tmp_path / "no.env"), BOT_VAR_DIR=str(tmp_path / "var"),
                   DATABASE_URL=f"sqlite:///{tmp_path / 'gw.db'}", RASA_URL=rasa_server.url, TELEGRAM_BOT_TOKEN=token,
                   TELEGRAM_MODE="polling", TELEGRAM_API_BASE_URL=f"{telegram_server.url}/bot", LINE_CHANNEL_SECRET="",
                   LINE_CHANNEL_ACCESS_TOKEN="")
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "gateway", "--port", str(port)], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 45
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert process.poll() is None and time.monotonic() < deadline, "gateway did not start"
                time.sleep(0.2)
            assert "ผู้ช่วย" in httpx.get(f"{base}/chat").text
            answer = httpx.post(f"{base}/api/chat/messages", headers=dev_headers(), json={"chat_id": "p1", "text": "สวัสดี"}, timeout=30).json()
            assert answer["replies"][0]["text"] == "ตอบ: สวัสดี"
            api.updates = [{"update_id": 9001, "message": {"message_id": 1, "date": 1700000000, "text": "สวัสดีครับ",
                                                           "chat": {"id": 5, "type": "private"}, "from": {"id": 5, "is_bot": False, "first_name": "ก"}}}]
            deadline = time.monotonic() + 30
            while not api.sent():
                assert time.monotonic() < deadline, "Telegram polling did not answer"
                time.sleep(0.1)
            assert api.sent()[0]["text"] == "ตอบ: สวัสดีครับ"
            assert httpx.post(f"{base}/webhooks/telegram", json={}).status_code == 404  # polling: no webhook to forge
        finally:
            process.terminate()
            output = process.communicate(timeout=20)[0].decode(errors="replace")
        assert token not in output and "สวัสดี" not in output  # nothing secret or said ends up in the log

"""The help menu is the citizens' on LINE and the web chat, the officials' on Telegram."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from actions.menu import ActionHelp
from tests.services.conftest import run, tracker

DOMAIN = Path(__file__).resolve().parents[2] / "bot" / "domain"


def _responses() -> dict:
    found: dict = {}
    for path in DOMAIN.glob("*.yml"):
        found.update((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses") or {})
    return found


@pytest.mark.parametrize("channel,chat_type,expected", [
    ("line", "private", "utter_help"),
    ("web", "private", "utter_help"),
    ("line", "group", "utter_help"),
    ("telegram", "supergroup", "utter_help_officials"),
    ("telegram", "private", "utter_help_officials"),
])
def test_help_follows_the_channel(channel: str, chat_type: str, expected: str) -> None:
    messages, events = run(ActionHelp(), tracker("เมนู", "help", channel=channel, chat_type=chat_type, chat_id="C9"))
    assert [m["response"] for m in messages] == [expected]
    assert events == []


def test_the_citizens_menu_names_no_officials_command_and_the_officials_menu_names_them_all() -> None:
    responses = _responses()
    citizens = " ".join(v["text"] for v in responses["utter_help"])
    officials = " ".join(v["text"] for v in responses["utter_help_officials"])
    for command in ("/newtask", "/tasks", "/remind", "/requests", "/reply", "/flag", "/obstacle", "/whoami"):
        assert command not in citizens
        assert command in officials

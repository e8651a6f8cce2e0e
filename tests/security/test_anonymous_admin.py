"""Anonymous Telegram group admins are not a person (issue #17): privileged commands get a Thai explanation, nothing runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storage.db import session_scope
from storage.officials import group_link, register_official
from usecases.admin_commands import CommandContext, handle
from usecases.context import ANONYMOUS_REFUSAL
from tests.fuzz.harness import gateway

pytestmark = pytest.mark.timeout(120)
GROUP = -1009876


def anonymous_update(update_id: int, text: str, *, is_bot: bool = True) -> bytes:
    """What Telegram sends for an admin with "Remain anonymous" on: from GroupAnonymousBot, sender_chat = the group."""
    message = {"message_id": update_id, "date": 1700000000,
               "chat": {"id": GROUP, "type": "supergroup", "title": "ศูนย์ประสานงาน"},
               "sender_chat": {"id": GROUP, "type": "supergroup", "title": "ศูนย์ประสานงาน"},
               "from": {"id": 1087968824, "is_bot": is_bot, "first_name": "Group", "username": "GroupAnonymousBot"},
               "text": text}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return json.dumps({"update_id": update_id, "message": message}, ensure_ascii=False).encode()


def test_anonymous_admin_is_told_to_turn_anonymity_off(tmp_path: Path) -> None:
    with gateway(tmp_path) as gw:
        with session_scope(gw.engine) as s:  # even when somebody once registered the stand-in id as an admin
            register_official(s, channel="telegram", user_id="1087968824", agency="กรมสรรพากร", role="global_admin")
        texts = ["/linkgroup กรมสรรพากร", "/register 555 กรมสรรพากร admin", "/newtask ร่างหนังสือ ภายในศุกร์", "@thgov_bot ช่วยดูงานค้างหน่อย"]
        for i, text in enumerate(texts):
            assert gw.telegram_post(anonymous_update(91000 + i, text, is_bot=i % 2 == 0)).status_code == 200
        assert gw.telegram_post(anonymous_update(91010, "คุยกันเองในกลุ่ม")).status_code == 200  # not for the bot: no answer
        gw.wait_for(lambda: len(gw.telegram.sent()) >= len(texts))
        answers = [m["text"] for m in gw.telegram.sent()]
        assert len(answers) == len(texts) and all("ปิดโหมดผู้ดูแลแบบไม่ระบุตัวตน" in a for a in answers)
        assert gw.rasa.received == []  # nothing reached Rasa as somebody's words
        with session_scope(gw.engine) as s:
            assert group_link(s, "telegram", str(GROUP)) is None


def test_command_auth_refuses_the_anonymous_stand_in(db_engine) -> None:
    with session_scope(db_engine) as s:
        register_official(s, channel="telegram", user_id="1087968824", agency="กรมสรรพากร", role="global_admin")
    with session_scope(db_engine) as s:
        for metadata in ({"channel": "telegram", "chat_id": "-5", "chat_type": "group", "user_id": "1087968824"},
                         {"channel": "telegram", "chat_id": "-5", "chat_type": "group", "user_id": "7", "anonymous_admin": True}):
            ctx = CommandContext.from_metadata(metadata, event_key="1")
            assert ctx.anonymous and handle(s, ctx, "/linkgroup กรมสรรพากร") == ANONYMOUS_REFUSAL
        assert group_link(s, "telegram", "-5") is None
        person = CommandContext.from_metadata({"channel": "telegram", "chat_id": "-5", "chat_type": "group", "user_id": "7"}, event_key="2")
        assert not person.anonymous and handle(s, person, "/linkgroup กรมสรรพากร") != ANONYMOUS_REFUSAL

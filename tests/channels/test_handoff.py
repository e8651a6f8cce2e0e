"""A conversation handed to officials: the gateway relays it instead of asking Rasa, until released."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import select

from connectors.app import create_app
from storage.db import make_engine, session_scope
from storage.handoff import start_handoff
from storage.migrate import upgrade
from storage.models.outbox import Outbox
from storage.officials import link_group, register_official
from storage.requests import Citizen
from tests.channels.conftest import make_settings
from tests.channels.fakes import ServerThread
from tests.channels.devchat import dev_headers

pytestmark = pytest.mark.timeout(60)
AGENCY = "สำนักงานพัฒนารัฐบาลดิจิทัล"


def _say(server: ServerThread, text: str) -> list[dict]:
    response = httpx.post(f"{server.url}/api/chat/messages", headers=dev_headers(), timeout=30,
                          json={"chat_id": "hand1", "user_id": "hand1", "channel": "line", "text": text})
    assert response.status_code == 200
    return response.json()["replies"]


def test_messages_go_to_officials_while_handed_off(tmp_path, fake_rasa, monkeypatch) -> None:
    rasa, rasa_server = fake_rasa
    settings = make_settings(tmp_path, rasa_url=rasa_server.url)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with session_scope(engine) as s:
        register_official(s, channel="telegram", user_id="77", agency=AGENCY)
        link_group(s, channel="telegram", chat_id="-1009", agency=AGENCY)
    with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)) as server:
        assert _say(server, "สวัสดี")[0]["text"] == "ตอบ: สวัสดี"
        with session_scope(engine) as s:
            start_handoff(s, Citizen("line:hand1", "web", "hand1"), "line:hand1")
        time.sleep(0.05)
        assert _say(server, "ไฟยังดับอยู่ครับ ช่วยด้วย") == []
        assert len(rasa.received) == 1  # not sent to the assistant
        with session_scope(engine) as s:
            relayed = s.scalars(select(Outbox).where(Outbox.kind == "handoff_message")).all()
            assert [(r.channel, r.recipient) for r in relayed] == [("telegram", "-1009")]
            assert "ไฟยังดับอยู่ครับ" in relayed[0].payload["text"]
        back = _say(server, "คุยกับบอท")
        assert "กลับมาให้บริการ" in back[0]["text"]
        assert _say(server, "สวัสดีอีกครั้ง")[0]["text"] == "ตอบ: สวัสดีอีกครั้ง"
        assert len(rasa.received) == 2
    engine.dispose()


def test_the_message_right_after_a_handoff_starts_reaches_the_officials(tmp_path, fake_rasa) -> None:
    """No race: the cached view of open handoffs is looked at again as soon as a handoff may have started."""
    rasa, rasa_server = fake_rasa
    settings = make_settings(tmp_path, rasa_url=rasa_server.url)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with session_scope(engine) as s:
        register_official(s, channel="telegram", user_id="77", agency=AGENCY)
        link_group(s, channel="telegram", chat_id="-1009", agency=AGENCY)
    plain = rasa.answer

    def answer(body):  # type: ignore[no-untyped-def]
        if body["message"].startswith("/human_handoff"):  # what the handoff action does, inside the turn
            with session_scope(engine) as s:
                start_handoff(s, Citizen("line:hand1", "web", "hand1"), "line:hand1")
            return [{"text": "ข้อความที่คุณพิมพ์จะส่งถึงเจ้าหน้าที่โดยตรงครับ"}]
        return plain(body)

    rasa.answer = answer
    with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)) as server:
        assert _say(server, "สวัสดี")[0]["text"] == "ตอบ: สวัสดี"  # the gateway has just looked: nobody handed off
        assert "เจ้าหน้าที่" in _say(server, "/human_handoff")[0]["text"]
        assert _say(server, "ไฟดับมา 3 วันแล้วค่ะ") == []  # at once, well within the refresh period
        assert len(rasa.received) == 2
        with session_scope(engine) as s:
            relayed = s.scalars(select(Outbox).where(Outbox.kind == "handoff_message")).all()
            assert len(relayed) == 1 and "ไฟดับมา 3 วันแล้วค่ะ" in relayed[0].payload["text"]
    engine.dispose()

"""Capture through the gateway: the fake Rasa returns its parse with the answer; one storage call keeps both."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select, text

from connectors.app import create_app
from connectors.rasa_client import read_answer
from storage.db import session_scope
from storage.models.channels import InboundEvent
from storage.models.nlu_capture import NluCapture
from storage.nlu_capture import pseudonym, pseudonym_secret
from tests.channels.conftest import make_settings
from tests.channels.devchat import dev_headers

pytestmark = pytest.mark.timeout(60)


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)), base_url="http://127.0.0.1", timeout=30)


async def _say(client: httpx.AsyncClient, text_: str, user: str = "U100", channel: str = "line") -> list[dict]:
    response = await client.post("/api/chat/messages", headers=dev_headers(), json={"chat_id": user, "user_id": user, "channel": channel, "text": text_,
                                                              "display_name": "สมศรี ใจดี"})
    assert response.status_code == 200, response.text
    return response.json()["replies"]


def _captures(engine: Engine) -> list[NluCapture]:
    with session_scope(engine) as s:
        return list(s.scalars(select(NluCapture).order_by(NluCapture.id)))


def _gateway(tmp_path: Path, engine: Engine, rasa_url: str, **overrides):  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, rasa_url=rasa_url, **overrides)
    return create_app(settings, engine=engine, channels={}, poll_interval=0.05), settings


async def test_every_message_that_reached_nlu_is_captured_masked_and_pseudonymous(tmp_path: Path, db_engine: Engine, fake_rasa) -> None:
    rasa, server = fake_rasa
    app, settings = _gateway(tmp_path, db_engine, server.url)
    async with app.router.lifespan_context(app), _client(app) as client:
        replies = await _say(client, "  สวัสดีครับ ขอเบอร์ 081-234-5678 ของ กทม. ")
        assert replies[0]["text"].startswith("ตอบ: สวัสดีครับ")  # the answer is as before
        await _say(client, "/help")
    assert rasa.received[0]["include_nlu"] is True
    greet, button = _captures(db_engine)
    secret = pseudonym_secret(settings.var_dir, create=False)
    assert secret is not None
    assert greet.text == "สวัสดีครับ ขอเบอร์ <เบอร์โทร> ของ กทม."
    assert (greet.intent, greet.confidence, greet.channel, greet.chat_type) == ("greet", 0.97, "line", "private")
    assert greet.sender == pseudonym("line:U100", secret)
    assert greet.entities == [{"entity": "agency", "start": greet.text.index("กทม."), "end": greet.text.index("กทม.") + 4,
                               "value": "กรุงเทพมหานคร"}]
    assert greet.ranking[0] == {"name": "greet", "confidence": 0.97}
    assert button.via_payload is True and button.intent == "help"
    stored = " ".join(str(getattr(greet, c.key)) for c in NluCapture.__table__.columns)
    assert "U100" not in stored and "สมศรี" not in stored and "081" not in stored
    with session_scope(db_engine) as s:
        assert set(s.scalars(select(InboundEvent.state))) == {"done"}
    assert app.state.gateway.worker.stats["nlu_captured"] == 2


async def test_a_deny_right_after_puts_the_message_before_in_the_queue(tmp_path: Path, sqlite_engine: Engine, fake_rasa) -> None:
    from storage.nlu_review import review_queue

    _, server = fake_rasa
    app, _ = _gateway(tmp_path, sqlite_engine, server.url)
    async with app.router.lifespan_context(app), _client(app) as client:
        await _say(client, "สวัสดีครับ อยากต่อทะเบียนรถ")  # greet, confident: not in the queue by itself
        await _say(client, "ไม่ใช่ครับ")
    with session_scope(sqlite_engine) as s:
        (group,) = review_queue(s)
    assert group.text == "สวัสดีครับ อยากต่อทะเบียนรถ" and group.reasons == {"contradicted": 1}


async def test_an_older_rasa_channel_without_parse_data_still_answers(tmp_path: Path, sqlite_engine: Engine, fake_rasa) -> None:
    rasa, server = fake_rasa
    rasa.nlu_shape = False
    app, _ = _gateway(tmp_path, sqlite_engine, server.url)
    async with app.router.lifespan_context(app), _client(app) as client:
        assert (await _say(client, "สวัสดี"))[0]["text"] == "ตอบ: สวัสดี"
    assert _captures(sqlite_engine) == []


async def test_retention_of_zero_days_captures_nothing(tmp_path: Path, sqlite_engine: Engine, fake_rasa) -> None:
    _, server = fake_rasa
    app, _ = _gateway(tmp_path, sqlite_engine, server.url, nlu_capture_retention_days=0)
    async with app.router.lifespan_context(app), _client(app) as client:
        await _say(client, "สวัสดี")
    assert _captures(sqlite_engine) == []


async def test_a_failing_capture_never_costs_the_answer(tmp_path: Path, sqlite_engine: Engine, fake_rasa) -> None:
    _, server = fake_rasa
    with sqlite_engine.begin() as conn:
        conn.execute(text("DROP TABLE nlu_captures"))
    app, _ = _gateway(tmp_path, sqlite_engine, server.url)
    async with app.router.lifespan_context(app), _client(app) as client:
        assert (await _say(client, "สวัสดี"))[0]["text"] == "ตอบ: สวัสดี"
        assert (await _say(client, "สวัสดีอีกครั้ง"))[0]["text"] == "ตอบ: สวัสดีอีกครั้ง"


async def test_the_gateway_purges_expired_captures(tmp_path: Path, sqlite_engine: Engine, fake_rasa) -> None:
    from datetime import timedelta

    from storage.models.base import utcnow
    from tests.nlu_admin.conftest import capture

    capture(sqlite_engine, "ข้อความเมื่อนานมาแล้ว", "nlu_fallback", 0.2, at=utcnow() - timedelta(days=31))
    _, server = fake_rasa
    app, _ = _gateway(tmp_path, sqlite_engine, server.url, nlu_capture_retention_days=30)
    async with app.router.lifespan_context(app), _client(app) as client:
        await _say(client, "สวัสดี")  # the worker's loop has run by now
    assert [c.text for c in _captures(sqlite_engine)] == ["สวัสดี"]


def test_the_client_reads_both_answer_shapes() -> None:
    messages = [{"recipient_id": "x", "text": "สวัสดีครับ"}, "junk"]
    assert read_answer(messages).messages == [messages[0]] and read_answer(messages).nlu is None
    new = read_answer({"messages": messages, "nlu": {"intent": "greet", "confidence": 0.9}})
    assert new.messages == [messages[0]] and new.nlu == {"intent": "greet", "confidence": 0.9}
    assert read_answer({"messages": None, "nlu": "x"}) == dataclasses.replace(new, messages=[], nlu=None)
    assert read_answer(None).messages == []


async def test_without_a_usable_key_the_gateway_answers_and_captures_nothing(tmp_path: Path, sqlite_engine: Engine, fake_rasa,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _, server = fake_rasa
    monkeypatch.setenv("INTERNAL_SECRET", "s" * 64)  # internal keys from settings; var/ unusable
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")  # var/ cannot be created here, so no key file either
    app, _ = _gateway(tmp_path, sqlite_engine, server.url, var_dir=blocked)
    async with app.router.lifespan_context(app), _client(app) as client:
        assert (await _say(client, "สวัสดี"))[0]["text"] == "ตอบ: สวัสดี"
    assert _captures(sqlite_engine) == []
    from storage.nlu_capture import pseudonym_for

    assert pseudonym_for("line:U1", blocked) is None

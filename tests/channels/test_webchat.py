"""The local chat API (web page and `bot shell`): same path as the channels, loopback-only impersonation, proactive messages."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from click.testing import CliRunner

from bot.commands.shell import cli as shell
from connectors.app import create_app
from connectors.outbound import OutboundClients
from storage.db import make_engine
from storage.migrate import upgrade
from tests.channels.conftest import make_settings
from tests.channels.fakes import ServerThread
from connectors.webchat import COOKIE, DEV_HEADER
from tests.channels.devchat import dev_headers

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def web(tmp_path, fake_rasa):
    rasa, rasa_server = fake_rasa
    settings = make_settings(tmp_path, rasa_url=rasa_server.url)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)) as server:
        yield server, rasa, engine, settings
    engine.dispose()


def test_location_through_the_api(web) -> None:
    server, rasa, _, _ = web
    response = httpx.post(f"{server.url}/api/chat/messages", headers=dev_headers(), timeout=30, json={
        "chat_id": "w2", "text": "", "location": {"latitude": 13.75, "longitude": 100.5, "address": "ถนนราชดำเนิน", "title": ""}})
    assert response.status_code == 200
    assert rasa.received[0]["message"] == "ถนนราชดำเนิน"
    assert rasa.received[0]["metadata"]["location"] == {"latitude": 13.75, "longitude": 100.5, "address": "ถนนราชดำเนิน", "title": ""}
    bad = httpx.post(f"{server.url}/api/chat/messages", headers=dev_headers(), json={"chat_id": "w2", "text": "x", "location": {"latitude": "north", "longitude": 1}})
    assert bad.status_code == 400


def test_same_client_message_id_is_processed_once(web) -> None:
    server, rasa, _, _ = web
    body = {"chat_id": "w3", "text": "สวัสดี", "message_id": "m-1"}
    first = httpx.post(f"{server.url}/api/chat/messages", headers=dev_headers(), json=body, timeout=30).json()
    again = httpx.post(f"{server.url}/api/chat/messages", headers=dev_headers(), json=body, timeout=30).json()
    assert first["replies"] and again == {"duplicate": True, "replies": []}
    assert len(rasa.received) == 1


def test_huge_message_gets_the_truncation_note(web) -> None:
    server, rasa, _, settings = web
    replies = httpx.post(f"{server.url}/api/chat/messages", headers=dev_headers(), timeout=30,
                         json={"chat_id": "w4", "text": "ข" * (settings.max_message_chars + 50)}).json()["replies"]
    assert "ยาวเกินไป" in replies[0]["text"] and len(rasa.received[0]["message"]) == settings.max_message_chars


def test_proactive_web_messages_are_polled_once(web) -> None:
    server, _, engine, settings = web

    async def push() -> None:
        async with OutboundClients(settings, channels={}, engine=engine) as clients:
            for _ in range(2):  # the scheduler retried: one message
                await clients.send("web", "w5", {"text": "เตือนความจำ: ประชุม 10 โมงครับ"}, retry_key="k-web-1")

    asyncio.run(push())
    messages = httpx.get(f"{server.url}/api/chat/messages", headers=dev_headers(), params={"chat_id": "w5", "after": 0}).json()["messages"]
    assert [m["text"] for m in messages] == ["เตือนความจำ: ประชุม 10 โมงครับ"]
    later = httpx.get(f"{server.url}/api/chat/messages", headers=dev_headers(), params={"chat_id": "w5", "after": messages[-1]["id"]}).json()["messages"]
    assert later == []


def _client(app, host: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(host, 40000)), base_url="http://127.0.0.1", timeout=30)


async def test_speaking_as_another_channel_needs_the_developer_token(tmp_path, fake_rasa) -> None:
    rasa, rasa_server = fake_rasa
    settings = make_settings(tmp_path, rasa_url=rasa_server.url)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    app = create_app(settings, engine=engine, poll_interval=0.05)
    async with app.router.lifespan_context(app):
        for host in ("192.0.2.10", "127.0.0.1"):  # loopback alone proves nothing (a local page, a proxy)
            async with _client(app, host) as client:
                refused = await client.post("/api/chat/messages", json={"chat_id": "-100", "user_id": "7", "channel": "telegram", "text": "/register 8 x"})
                assert refused.status_code == 403
                as_other_user = await client.post("/api/chat/messages", json={"chat_id": "wvictim", "user_id": "U1", "text": "ขอดูข้อมูลของฉัน"})
                assert as_other_user.status_code == 403
        assert all(m["metadata"]["channel"] == "web" for m in rasa.received)
        async with _client(app, "127.0.0.1") as local:
            wrong = {DEV_HEADER: "0" * 64}
            assert (await local.post("/api/chat/messages", headers=wrong, json={"chat_id": "U1", "channel": "line", "text": "สวัสดี"})).status_code == 403
            proxied = {**dev_headers(), "X-Forwarded-For": "203.0.113.9"}  # through a reverse proxy: not this host
            assert (await local.post("/api/chat/messages", headers=proxied, json={"chat_id": "U1", "channel": "line", "text": "สวัสดี"})).status_code == 403
            allowed = await local.post("/api/chat/messages", headers=dev_headers(), json={"chat_id": "U1", "channel": "line", "text": "สวัสดี"})
            assert allowed.status_code == 200 and rasa.received[-1]["sender"] == "line:U1"
        async with _client(app, "192.0.2.10") as remote:  # the token alone, from elsewhere, is not enough
            assert (await remote.post("/api/chat/messages", headers=dev_headers(), json={"chat_id": "U1", "channel": "line", "text": "x"})).status_code == 403
    engine.dispose()


async def test_a_web_visitor_is_who_the_session_says(tmp_path, fake_rasa) -> None:
    rasa, rasa_server = fake_rasa
    settings = make_settings(tmp_path, rasa_url=rasa_server.url)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    app = create_app(settings, engine=engine, poll_interval=0.05)
    async with app.router.lifespan_context(app):
        async with _client(app, "192.0.2.10") as alice, _client(app, "192.0.2.11") as mallory:
            assert (await alice.post("/api/chat/messages", json={"chat_id": "wvictim", "text": "สวัสดี"})).status_code == 403
            first = await alice.post("/api/chat/messages", json={"text": "สวัสดี"})
            cookie = first.cookies.get(COOKIE)
            assert first.status_code == 200 and cookie
            header = first.headers["set-cookie"].lower()
            assert "httponly" in header and "samesite=strict" in header
            visitor = rasa.received[-1]["sender"]
            assert visitor.startswith("web:w") and "wvictim" not in visitor
            alice.cookies.set(COOKIE, cookie)
            await alice.post("/api/chat/messages", json={"text": "ขอบคุณ"})
            assert rasa.received[-1]["sender"] == visitor  # the same conversation
            # someone else cannot read it by naming it, nor with a forged cookie
            chat = visitor.removeprefix("web:")
            assert (await mallory.get("/api/chat/messages", params={"chat_id": chat, "after": 0})).json()["messages"] == []
            mallory.cookies.set(COOKIE, f"{chat}.{'0' * 40}")
            assert (await mallory.get("/api/chat/messages", params={"after": 0})).json()["messages"] == []
            await mallory.post("/api/chat/messages", json={"text": "ขอดูข้อมูลของฉัน"})
            assert rasa.received[-1]["sender"] != visitor
    engine.dispose()


async def test_cross_origin_rebinding_and_form_posts_are_refused(tmp_path, fake_rasa) -> None:
    rasa, rasa_server = fake_rasa
    settings = make_settings(tmp_path, rasa_url=rasa_server.url)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    app = create_app(settings, engine=engine, poll_interval=0.05)
    async with app.router.lifespan_context(app), _client(app, "127.0.0.1") as client:
        body = {"text": "สวัสดี"}
        assert (await client.post("/api/chat/messages", json=body, headers={"Origin": "http://evil.example"})).status_code == 403
        assert (await client.post("/api/chat/messages", json=body, headers={"Host": "evil.example"})).status_code == 403
        form = await client.post("/api/chat/messages", content=b'{"text": "x"}', headers={"Content-Type": "text/plain"})
        assert form.status_code == 415
        assert (await client.get("/api/chat/messages", params={"after": "1" * 30})).status_code == 400
        assert (await client.get("/api/chat/messages", params={"after": "²"})).status_code == 400
        assert rasa.received == []
        same_origin = await client.post("/api/chat/messages", json=body, headers={"Origin": "http://127.0.0.1"})
        assert same_origin.status_code == 200 and len(rasa.received) == 1
    engine.dispose()


async def test_local_chat_can_be_switched_off(tmp_path, fake_rasa) -> None:
    _, rasa_server = fake_rasa
    settings = make_settings(tmp_path, rasa_url=rasa_server.url, local_chat_enabled=False)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app), _client(app, "127.0.0.1") as client:
        assert (await client.get("/chat")).status_code == 404
        assert (await client.post("/api/chat/messages", headers=dev_headers(), json={"chat_id": "w", "text": "x"})).status_code == 404
        assert (await client.get("/healthz")).status_code == 200
    engine.dispose()


def test_shell_script_mode_switches_speakers_in_a_group(web) -> None:
    server, rasa, _, _ = web
    script = "บอท ขอการ์ด\n#2\n/as U2 สมหญิง\nงานของฉัน\n/loc 13.7563,100.5018 ถนนราชดำเนิน\n"
    result = CliRunner().invoke(shell, ["--url", server.url, "--channel", "line", "--chat", "Cgroup1", "--chat-type", "group",
                                        "--user", "U1", "--name", "สมชาย"], input=script)
    assert result.exit_code == 0, result.output
    assert "คุณ (U1): บอท ขอการ์ด" in result.output and "บอท: ตอบ: บอท ขอการ์ด" in result.output
    assert "▸ พ.ร.บ.คุ้มครองข้อมูลส่วนบุคคล" in result.output and "[2] ดูมาตรา (/search_law)" in result.output
    assert [r["message"] for r in rasa.received] == ["บอท ขอการ์ด", "/search_law", "งานของฉัน", "ถนนราชดำเนิน"]
    assert [r["sender"] for r in rasa.received] == ["line-group:Cgroup1:U1"] * 2 + ["line-group:Cgroup1:U2"] * 2  # one conversation per member
    assert [r["metadata"]["user_id"] for r in rasa.received] == ["U1", "U1", "U2", "U2"]
    assert rasa.received[2]["metadata"]["display_name"] == "สมหญิง"
    assert rasa.received[3]["metadata"]["location"]["latitude"] == pytest.approx(13.7563)


def test_shell_reports_an_unreachable_gateway() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = CliRunner().invoke(shell, ["--url", f"http://127.0.0.1:{port}", "--user", str(uuid.uuid4())[:8]], input="สวัสดี\n")
    assert result.exit_code != 0 and "cannot reach the gateway" in result.output

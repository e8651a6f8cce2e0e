"""The /admin page: off without ADMIN_TOKEN, token checked, queue, annotate into YAML, discard, flag."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import Engine

from bot.nlu_admin import page
from connectors.app import create_app
from storage.db import session_scope
from storage.models.nlu_capture import NluCapture
from tests.channels.conftest import make_settings
from tests.nlu_admin.conftest import capture

TOKEN = "s3cret-admin-token"
pytestmark = pytest.mark.timeout(60)


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=30)


def _app(tmp_path: Path, engine: Engine, token: str = TOKEN, data: Path | None = None):  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9", admin_token=token)
    app = create_app(settings, engine=engine, channels={}, extra_routes=page.routes())
    if data is not None:
        app.state.nlu_data_dir = data
    return app


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "nlu_data"
    folder.mkdir()
    (folder / "general.yml").write_text('version: "3.1"\n\nnlu:\n  - intent: greet\n    examples: |\n      - สวัสดี\n', encoding="utf-8")
    (folder / "services.yml").write_text(
        'version: "3.1"\n\nnlu:\n  - intent: ask_service_info\n    examples: |\n      - ต่อ [ใบขับขี่](service) ใช้อะไร\n', encoding="utf-8")
    return folder


ROUTES = [("GET", "/admin"), ("GET", "/admin/api/meta"), ("GET", "/admin/api/queue"), ("GET", "/admin/api/recent"),
          ("POST", "/admin/api/annotate"), ("POST", "/admin/api/discard"), ("POST", "/admin/api/flag")]


@pytest.mark.parametrize("method, path", ROUTES)
async def test_without_admin_token_everything_is_404(tmp_path: Path, sqlite_engine: Engine, method: str, path: str) -> None:
    async with _client(_app(tmp_path, sqlite_engine, token="")) as client:
        response = await client.request(method, path, headers={"Authorization": "Bearer "}, json={})
        assert response.status_code == 404
        response = await client.request(method, path, headers={"Authorization": f"Bearer {TOKEN}"}, json={})
        assert response.status_code == 404


@pytest.mark.parametrize("method, path", ROUTES[1:])
async def test_the_api_needs_the_right_token(tmp_path: Path, sqlite_engine: Engine, monkeypatch, method: str, path: str) -> None:
    monkeypatch.setattr("bot.nlu_admin.access.FAILED_AUTH_DELAY", 0.0)
    async with _client(_app(tmp_path, sqlite_engine)) as client:
        assert (await client.request(method, path, json={})).status_code == 401
        assert (await client.request(method, path, json={}, headers={"Authorization": "Basic " + TOKEN})).status_code == 401
        wrong = await client.request(method, path, json={}, headers={"Authorization": "Bearer " + TOKEN[:-1] + "X"})
        assert wrong.status_code == 403 and "ไม่ถูกต้อง" in wrong.json()["error"]
        assert (await client.request(method, path, json={}, headers={"Authorization": "Bearer " + TOKEN + "X"})).status_code == 403
        right = await client.request(method, path, json={"ids": [999]}, headers={"Authorization": "Bearer " + TOKEN})
        assert right.status_code in (200, 400)  # through the gate (400: nothing to act on)


async def test_the_page_is_thai_html_and_tokens_never_reach_the_log(tmp_path: Path, sqlite_engine: Engine, monkeypatch, caplog) -> None:
    monkeypatch.setattr("bot.nlu_admin.access.FAILED_AUTH_DELAY", 0.0)
    async with _client(_app(tmp_path, sqlite_engine)) as client:
        page = await client.get("/admin")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "รหัสผู้ดูแล" in page.text and page.headers["x-frame-options"] == "DENY"
        assert (await client.get("/admin", headers={"Authorization": "Bearer nope"})).status_code == 403
        await client.get("/admin/api/meta", headers={"Authorization": "Bearer guess-1234"})
    assert "guess-1234" not in caplog.text and TOKEN not in caplog.text


def test_token_comparison_is_constant_time_and_empty_never_matches() -> None:
    from bot.nlu_admin.page import token_matches

    assert token_matches(TOKEN, TOKEN) and not token_matches(TOKEN[:-1], TOKEN) and not token_matches("", "")


async def test_review_annotate_discard_and_flag(tmp_path: Path, db_engine: Engine, data: Path) -> None:
    first = capture(db_engine, "ขอต่อใบขับขี่ที่ กทม.", "nlu_fallback", 0.3, user="U1",
                    entities=[{"entity": "agency", "start": 17, "end": 21, "value": "กรุงเทพมหานคร"}])
    second = capture(db_engine, "ขอต่อใบขับขี่ที่ กทม. ครับ", "nlu_fallback", 0.32, user="U2")
    noise = capture(db_engine, "555555", "nlu_fallback", 0.1, user="U3")
    confident = capture(db_engine, "สวัสดีครับ", "greet", 0.99, user="U4")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with _client(_app(tmp_path, db_engine, data=data)) as client:
        meta = (await client.get("/admin/api/meta", headers=auth)).json()
        assert meta["intents"] == {"ask_service_info": "services", "greet": "general"}
        assert "agency" in meta["entities"] and meta["counts"] == {"new": 4} and meta["new_group"] == "new_intents"

        groups = (await client.get("/admin/api/queue", headers=auth)).json()["groups"]
        assert [sorted(g["ids"]) for g in groups] == [sorted([first, second]), [noise]]
        top = groups[0]
        assert top["reasons"] == {"fallback": 2} and top["example"].endswith("[กทม.](agency:กรุงเทพมหานคร)")
        assert "last_seen_th" in top

        conflict = await client.post("/admin/api/annotate", headers=auth, json={"ids": top["ids"], "intent": "greet",
                                                                                 "example": "ต่อ ใบขับขี่ ใช้อะไร"})
        assert conflict.status_code == 409 and conflict.json()["intents"] == ["ask_service_info"]
        bad = await client.post("/admin/api/annotate", headers=auth, json={"ids": top["ids"], "intent": "Ask Service", "example": "x"})
        assert bad.status_code == 400 and "ภาษาอังกฤษ" in bad.json()["error"]

        saved = await client.post("/admin/api/annotate", headers=auth, json={
            "ids": top["ids"], "intent": "ask_service_info", "example": "ขอต่อ [ใบขับขี่](service) ที่ [กทม.](agency:กรุงเทพมหานคร)"})
        assert saved.status_code == 200 and saved.json()["resolved"] == 2 and "nlu_data/services.yml" in saved.json()["message"]
        examples = yaml.safe_load((data / "services.yml").read_text(encoding="utf-8"))["nlu"][0]["examples"].splitlines()
        assert examples == ["- ขอต่อ [ใบขับขี่](service) ที่ [กทม.](agency:กรุงเทพมหานคร)", "- ต่อ [ใบขับขี่](service) ใช้อะไร"]

        dropped = await client.post("/admin/api/discard", headers=auth, json={"ids": [noise]})
        assert dropped.json()["resolved"] == 1
        assert (await client.get("/admin/api/queue", headers=auth)).json()["groups"] == []

        recent = (await client.get("/admin/api/recent", headers=auth)).json()["captures"]
        assert [c["id"] for c in recent] == [confident, noise, second, first]
        flagged = await client.post("/admin/api/flag", headers=auth, json={"ids": [confident]})
        assert flagged.json()["flagged"] == 1
        (group,) = (await client.get("/admin/api/queue", headers=auth)).json()["groups"]
        assert group["ids"] == [confident] and group["reasons"] == {"flagged": 1}

        new_intent = await client.post("/admin/api/annotate", headers=auth, json={
            "ids": [confident], "intent": "greet_officials", "example": "สวัสดีครับ เจ้าหน้าที่", "group": "officials_small_talk"})
        assert new_intent.status_code == 200
        assert (data / "officials_small_talk.yml").exists()
    with session_scope(db_engine) as s:
        row = s.get(NluCapture, first)
        assert row.status == "annotated" and row.resolution["file"] == "services.yml"
        assert s.get(NluCapture, noise).status == "discarded"


async def test_bad_bodies_are_refused_politely(tmp_path: Path, sqlite_engine: Engine, data: Path) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with _client(_app(tmp_path, sqlite_engine, data=data)) as client:
        assert (await client.post("/admin/api/annotate", headers=auth, content=b"not json")).status_code == 400
        assert (await client.post("/admin/api/annotate", headers=auth, json={"ids": [], "intent": "greet"})).status_code == 400
        assert (await client.get("/admin/api/queue?limit=abc", headers=auth)).status_code == 400
        assert (await client.post("/admin/api/discard", headers=auth, json={"ids": "1"})).status_code == 400


def test_settings_without_token_by_default(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert settings.admin_token == "" and dataclasses.replace(settings, admin_token="x").admin_token == "x"

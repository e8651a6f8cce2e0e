"""The scheduler's retention job purges the app's tables and asks Rasa to purge its tracker."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from common import clock
from storage.db import get_engine, session_scope
from storage.models.channels import InboundEvent


class FakeRasa(BaseHTTPRequestHandler):
    calls: list[tuple[str, str | None, dict[str, Any]]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeRasa.calls.append((self.path, self.headers.get("X-Gateway-Secret"), body))
        answer = json.dumps({"closed_session_events": 3, "idle_conversations": 1}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_rasa() -> Iterator[str]:
    FakeRasa.calls = []
    server = HTTPServer(("127.0.0.1", 0), FakeRasa)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_job_purges_storage_and_rasa(tmp_path: Path, _sqlite_template: Path, fake_rasa: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.scheduler.recurring import install, purge_retention
    from common.settings import get_settings

    db = tmp_path / "app.db"
    shutil.copy(_sqlite_template, db)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("RASA_URL", fake_rasa)
    monkeypatch.setenv("GATEWAY_SHARED_SECRET", "job-secret")
    monkeypatch.setenv("RETENTION_TRACKER_DAYS", "30")
    get_settings.cache_clear()
    now = clock.now()
    engine = get_engine()
    with session_scope(engine) as s:
        for key, age in (("old", 91), ("new", 1)):
            at = now - timedelta(days=age)
            s.add(InboundEvent(channel="line", external_id=key, conversation="line:U1", state="done", received_at=at, next_attempt_at=at))

    purge_retention()

    with session_scope(engine) as s:
        assert list(s.scalars(select(InboundEvent.external_id))) == ["new"]
        assert s.scalar(select(func.count()).select_from(InboundEvent)) == 1
    ((path, secret, body),) = FakeRasa.calls
    assert path == "/webhooks/gateway/retention" and secret == "job-secret"
    assert abs(body["before"] - (now - timedelta(days=30)).timestamp()) < 60

    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler()
    install(scheduler)
    job = scheduler.get_job("retention-purge")
    assert job is not None and job.func_ref == "bot.scheduler.recurring:purge_retention"
    engine.dispose()


def test_rasa_down_does_not_stop_the_storage_purge(tmp_path: Path, _sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.scheduler.recurring import purge_retention
    from common.settings import get_settings

    db = tmp_path / "app.db"
    shutil.copy(_sqlite_template, db)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("RASA_URL", "http://127.0.0.1:9")  # nothing listens
    get_settings.cache_clear()
    at = clock.now() - timedelta(days=200)
    with session_scope(get_engine()) as s:
        s.add(InboundEvent(channel="line", external_id="old", conversation="line:U1", state="done", received_at=at, next_attempt_at=at))
    purge_retention()
    with session_scope(get_engine()) as s:
        assert s.scalar(select(func.count()).select_from(InboundEvent)) == 0

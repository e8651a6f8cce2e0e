"""PDPA erasure end to end: the real Rasa (trained model, our tracker store), the real action
server and the gateway's worker. A citizen files a request with a phone number, details and
a location in their LINE chat, also talks in a LINE group, then erases their data; afterwards
no table of either database (the app's, Rasa's tracker store) holds the phone, the details,
the location or the user id. The other member of the group keeps their conversation.

Needs the engine runtime (.venv-rasa) and a trained model (models/current.tar.gz); skipped
without them. Takes about a minute (Rasa loading the model).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from common.ids import sender_id
from common import internal_auth
from storage.db import make_engine, session_scope
from tests.privacy.scan import found

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "current.tar.gz"
RASA = ROOT / ".venv-rasa" / "bin" / "python"
SECRET = "e2e-installation-secret-" + "x" * 24

USER = "U4af4980629e1c2d3a4b5c6d7e8f90123"
OTHER = "U9bb1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"
GROUP = "C77aa88bb99cc00dd11ee22ff33aa44bb"
PHONE = "081-234-5678"
PHONE_DIGITS = "0812345678"  # as the request form keeps it
DETAILS = "ไฟดับทั้งซอยสุขใจสามคืนแล้ว"
PLACE = "ซอยสุขใจ 9 แขวงลาดยาว"
GROUP_SECRET = "บ้านเลขที่ 45/7 ฝากแจ้งด้วยนะ"  # what the person said in the group
OTHERS_WORDS = "ประชุมพรุ่งนี้กี่โมงครับ"

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(not MODEL.exists() or not RASA.exists(), reason="needs .venv-rasa and models/current.tar.gz"),
]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200 and (b"model_file" not in response.read() or True):
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"{url} did not come up:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path) -> Iterator[dict[str, Any]]:
    from storage.officials import link_group
    from storage.services import load_catalog

    tmp = tmp_path_factory.mktemp("e2e")
    var = tmp / "var"
    var.mkdir()
    app_db = tmp / "app.db"
    shutil.copy(_sqlite_template, app_db)
    engine = make_engine(f"sqlite:///{app_db}")
    with session_scope(engine) as s:
        load_catalog(s)
        link_group(s, channel="telegram", chat_id="-100500", agency="องค์กรปกครองส่วนท้องถิ่น")
    tracker_db = tmp / "rasa_tracker.db"
    action_port, rasa_port = _port(), _port()
    endpoints = tmp / "endpoints.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n'
        '  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}\n'
        f'tracker_store:\n  type: engine.tracker_store.GatewayTrackerStore\n  dialect: sqlite\n  db: "{tracker_db}"\n',
        encoding="utf-8",
    )
    keys = {purpose: internal_auth.derive(SECRET.encode(), purpose)
            for purpose in (internal_auth.ACTION_SERVER, internal_auth.RASA_API, internal_auth.GATEWAY_CHANNEL)}
    env = dict(os.environ, BOT_VAR_DIR=str(var), DATABASE_URL=f"sqlite:///{app_db}", GATEWAY_SHARED_SECRET="e2e-shared-secret",
               INTERNAL_SECRET=SECRET, ACTION_SERVER_TOKEN=keys[internal_auth.ACTION_SERVER], RASA_JWT_SECRET=keys[internal_auth.RASA_API],
               GATEWAY_CHANNEL_TOKEN=keys[internal_auth.GATEWAY_CHANNEL],
               NLU_PSEUDONYM_SECRET="e2e-pseudonym", PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2",
               SQLALCHEMY_SILENCE_UBER_WARNING="1", BOT_ENV_FILE=str(tmp / "no.env"))
    shared = {key: env[key] for key in ("GATEWAY_SHARED_SECRET", "NLU_PSEUDONYM_SECRET", "INTERNAL_SECRET")}
    saved = {key: os.environ.get(key) for key in shared}
    os.environ.update(shared)  # the gateway (this process) shares them with Rasa and the action server
    logs = {name: tmp / f"{name}.log" for name in ("actions", "rasa")}
    actions = subprocess.Popen([sys.executable, "-m", "actions.server", "--port", str(action_port)], cwd=ROOT, env=env,
                               stdout=logs["actions"].open("wb"), stderr=subprocess.STDOUT)
    rasa = subprocess.Popen([str(RASA), "-m", "engine.serve", "run", "--enable-api", "--interface", "127.0.0.1", "--port", str(rasa_port), "--model", str(MODEL),
                             "--endpoints", str(endpoints), "--credentials", str(ROOT / "credentials.yml")], cwd=ROOT, env=env,
                            stdout=logs["rasa"].open("wb"), stderr=subprocess.STDOUT)
    try:
        _wait(f"http://127.0.0.1:{action_port}/health", actions, logs["actions"])
        _wait(f"http://127.0.0.1:{rasa_port}/webhooks/gateway/", rasa, logs["rasa"])
        yield {"engine": engine, "app_db": app_db, "tracker_db": tracker_db, "rasa_url": f"http://127.0.0.1:{rasa_port}", "env": env,
               "logs": logs}
    finally:
        for process in (rasa, actions):
            process.terminate()
        for process in (rasa, actions):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        engine.dispose()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _found(db: Path, needles: list[str]) -> list[str]:
    """Every 'table.column: needle' in the SQLite database at `db` (tests/privacy/scan.py)."""
    engine = create_engine(f"sqlite:///{db}")
    try:
        return found(engine, needles)
    finally:
        engine.dispose()


async def _talk(stack: dict[str, Any], script: list[tuple[str, str, dict[str, Any]]]) -> dict[str, list[str]]:
    """Send each (conversation, text, metadata) through the gateway's worker and the real Rasa; replies per conversation."""
    from connectors.rasa_client import RasaClient
    from connectors.worker import Worker
    from storage.inbound import Event, store_new_event

    said: dict[str, list[str]] = {}

    async def deliver(event: Event, replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        said.setdefault(event.conversation, []).extend(r.get("text") or json.dumps(r.get("custom"), ensure_ascii=False) for r in replies)
        return []

    rasa = RasaClient(stack["rasa_url"], timeout=60, token=internal_auth.derive(SECRET.encode(), internal_auth.GATEWAY_CHANNEL))
    worker = Worker(stack["engine"], rasa, deliver, poll_interval=0.05, capture_secret=b"e2e-pseudonym")
    worker.start()
    try:
        for number, (conversation, text, metadata) in enumerate(script):
            event = store_new_event(stack["engine"], channel="line", external_id=f"e2e-{time.monotonic_ns()}-{number}",
                                    conversation=conversation, text=text, metadata=metadata)
            assert event is not None
            done = worker.waiter(event.id)
            worker.stored([event])
            await asyncio.wait_for(done.wait(), timeout=120)
    finally:
        await worker.stop()
        await rasa.aclose()
    return said


def _line(user: str, chat: str | None = None, **extra: Any) -> dict[str, Any]:
    chat_type = "group" if chat else "private"
    name = "สมศรี ใจดี" if user == USER else "วิชัย มานะ"
    return {"channel": "line", "user_id": user, "chat_id": chat or user, "chat_type": chat_type, "display_name": name, **extra}


def test_erasure_leaves_nothing_in_any_table_of_either_database(stack: dict[str, Any]) -> None:
    me, group = f"line:{USER}", f"line-group:{GROUP}"  # group: a group-wide conversation kept from before per-member ids
    mine, others = sender_id("line", GROUP, "group", USER), sender_id("line", GROUP, "group", OTHER)  # each member's own
    location = {"latitude": 13.8123, "longitude": 100.5712, "address": PLACE, "title": PLACE}
    before = asyncio.run(_talk(stack, [
        (me, "แจ้งไฟถนนดับครับ", _line(USER)),
        (me, DETAILS, _line(USER)),
        (me, PLACE, _line(USER, location=location)),
        (me, f"โทร {PHONE}", _line(USER)),
        (me, "ยืนยัน", _line(USER)),
        (group, f"บอท {GROUP_SECRET} โทร {PHONE}", _line(USER, GROUP)),
        (mine, f"บอท {GROUP_SECRET} ขอเบอร์ {PHONE}", _line(USER, GROUP)),
        (others, f"บอท {OTHERS_WORDS}", _line(OTHER, GROUP)),
    ]))
    needles = [PHONE, PHONE_DIGITS, DETAILS, PLACE, USER, GROUP_SECRET, "สมศรี", "13.8123"]
    assert "REQ-" in " ".join(before[me]), before[me]  # the request was filed
    held = _found(stack["app_db"], needles) + _found(stack["tracker_db"], needles)
    # the scan finds what is there: the request, its card to the agency, the tracker, ...
    assert f"service_requests.contact: {PHONE_DIGITS}" in held and "outbox.payload: " + DETAILS in held, held
    assert any(h.startswith("events.") and GROUP_SECRET in h for h in held), held
    assert any(h.startswith("events.") and USER in h for h in held), held

    after = asyncio.run(_talk(stack, [(me, "ลบข้อมูลของฉัน", _line(USER)), (me, "ยืนยัน", _line(USER))]))
    assert "ลบข้อมูลส่วนบุคคลของคุณเรียบร้อยแล้ว" in after[me][-1], after
    assert not any("pdpa_erase" in text for text in after[me])  # the marker is never delivered
    time.sleep(3)  # what the incident saw three seconds later
    assert _found(stack["app_db"], needles) == []
    assert _found(stack["tracker_db"], needles) == []

    # the request stays as anonymous statistics, the other member keeps their conversation
    from storage.models.services import ServiceRequest

    with session_scope(stack["engine"]) as s:
        request = s.scalars(select(ServiceRequest)).one()
        assert request.anonymised and request.citizen_key is None and request.service and request.agency
    # the other member's own conversation is whole (its sender id names them: one conversation per member),
    # with the tracker store's window row for it when windows are on (engine/tracker_store.py)
    found = _found(stack["tracker_db"], [OTHERS_WORDS, OTHER])
    assert [f for f in found if not f.startswith("tracker_windows.")] == [f"events.data: {OTHER}", f"events.data: {OTHERS_WORDS}",
                                                                          f"events.sender_id: {OTHER}"]

    # the person can start again: a new conversation, nothing from before
    again = asyncio.run(_talk(stack, [(me, "สวัสดีครับ", _line(USER))]))
    assert again[me]
    assert _found(stack["tracker_db"], [PHONE, PHONE_DIGITS, DETAILS, PLACE]) == []

"""Our tracker store and the channel's private routes: erasure leaves nothing, under Rasa's lock (issue #16)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import text as sa_text

from engine.privacy import erase_person, purge
from engine.tracker_store import GatewayTrackerStore, unwrap

DOMAIN = Domain.from_yaml("""
version: "3.1"
intents: [greet, request_service]
slots:
  request_details:
    type: text
    mappings: [{type: custom}]
responses:
  utter_greet: [{text: "สวัสดีครับ"}]
""")
PHONE = "081-234-5678"
DETAILS = "ไฟถนนดับหน้าบ้านเลขที่ 99 ซอยสุขใจ"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Where the tracker store lives: a SQLite file, or a fresh PostgreSQL database (TEST_POSTGRES_URL)."""
    if request.param == "sqlite":
        yield {"dialect": "sqlite", "db": str(tmp_path / "tracker.db")}
        return
    url = os.environ.get("TEST_POSTGRES_URL", "").strip()
    if not url:
        pytest.skip("PostgreSQL not configured (set TEST_POSTGRES_URL)")
    import sqlalchemy as sa

    base = sa.engine.make_url(url)
    name = f"rasa_tracker_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield {"dialect": "postgresql", "host": base.host, "port": base.port or 5432, "db": name, "username": base.username,
           "password": base.password}
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_STORES: dict[str, GatewayTrackerStore] = {}


def _store(tmp_path: Path) -> GatewayTrackerStore:
    config = _BACKEND[str(tmp_path)]
    store = GatewayTrackerStore(domain=DOMAIN, **config)
    _STORES[str(tmp_path)] = store
    return store


_BACKEND: dict[str, dict[str, Any]] = {}


@pytest.fixture(autouse=True)
def _use_backend(backend: dict[str, Any], tmp_path: Path) -> Iterator[None]:
    _BACKEND[str(tmp_path)] = backend
    yield
    store = _STORES.pop(str(tmp_path), None)
    if store is not None:
        store.engine.dispose()
    _BACKEND.pop(str(tmp_path), None)


def _rows(tmp_path: Path) -> list[tuple[str, str]]:
    """(sender, event data) with Thai readable (Rasa stores JSON with \\u escapes)."""
    store = _STORES[str(tmp_path)]
    with store.engine.connect() as conn:
        rows = list(conn.execute(sa_text("SELECT sender_id, data FROM events ORDER BY id")))
    return [(sender, json.dumps(json.loads(data), ensure_ascii=False)) for sender, data in rows]


def _turn(sender: str, user_id: str, text: str, ts: float, details: str | None = None) -> list[Any]:
    metadata = {"channel": sender.split(":")[0].split("-")[0], "user_id": user_id, "chat_id": sender.split(":")[1]}
    events: list[Any] = [UserUttered(text, {"name": "request_service", "confidence": 0.9}, metadata=metadata, timestamp=ts)]
    if details:
        events.append(SlotSet("request_details", details, timestamp=ts + 0.1))
    events += [BotUttered("รับเรื่องแล้วครับ", timestamp=ts + 0.2), ActionExecuted("action_listen", timestamp=ts + 0.3)]
    return events


async def _save(store: GatewayTrackerStore, sender: str, events: list[Any]) -> None:
    tracker = await store.retrieve(sender) or DialogueStateTracker(sender, DOMAIN.slots)
    for event in events:
        tracker.update(event)
    await store.save(tracker)


class Agent:
    def __init__(self, store: Any) -> None:
        self.tracker_store = FailSafeTrackerStore(store)
        self.lock_store = InMemoryLockStore()


def test_secure_delete_is_on_for_sqlite(tmp_path: Path, backend: dict[str, Any]) -> None:
    store = _store(tmp_path)
    if backend["dialect"] == "sqlite":
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    assert unwrap(Agent(store).tracker_store) is store


def test_sqlite_saves_through_a_write_ahead_log_that_an_erasure_empties(tmp_path: Path, backend: dict[str, Any]) -> None:
    """WAL keeps a turn's save off fsync (issue #20); after an erasure no file of the database holds the person."""
    if backend["dialect"] != "sqlite":
        pytest.skip("SQLite only")
    store = _store(tmp_path)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    agent = Agent(store)
    sender, other = "line:U1", "line:U2"
    asyncio.run(_save(store, sender, _turn(sender, "U1", f"ไฟดับ โทร {PHONE}", 1000.0, DETAILS)))
    asyncio.run(_save(store, other, _turn(other, "U2", "สวัสดีครับ", 1001.0)))
    files = [p for p in tmp_path.iterdir() if p.name.startswith("tracker.db")]
    assert any(p.name.endswith("-wal") for p in files)
    assert any(PHONE.encode() in p.read_bytes() for p in files)  # the check below can fail

    asyncio.run(erase_person(agent, "line", "U1", [sender]))
    for path in tmp_path.iterdir():
        if path.name.startswith("tracker.db"):
            data = path.read_bytes()
            assert PHONE.encode() not in data and json.dumps(DETAILS).encode() not in data, path.name
    assert [row[0] for row in _rows(tmp_path)] == [other] * 3


def test_a_turn_in_progress_cannot_write_the_erased_events_back(tmp_path: Path) -> None:
    """The bug: rows deleted during a turn came back at its save. Under the lock they stay gone."""
    store = _store(tmp_path)
    agent = Agent(store)
    sender = "line:U1"

    async def scenario() -> None:
        await _save(store, sender, _turn(sender, "U1", f"ไฟดับ โทร {PHONE}", 1000.0, DETAILS))
        erased = asyncio.Event()

        async def confirming_turn() -> None:
            async with agent.lock_store.lock(sender):
                tracker = await store.retrieve(sender)
                asyncio.get_running_loop().call_soon(erased.set)
                await asyncio.sleep(0.3)  # the erasure waits for this turn
                tracker.update(UserUttered("ยืนยัน", metadata={"user_id": "U1"}, timestamp=1010.0))
                await store.save(tracker)

        turn = asyncio.create_task(confirming_turn())
        await erased.wait()
        deleted = await erase_person(agent, "line", "U1", [sender])
        await turn
        assert deleted[sender] == 5  # the turn's 4 events and the confirmation, saved before the erasure got the lock
        assert await store.retrieve(sender) is None

    asyncio.run(scenario())
    assert _rows(tmp_path) == []


def test_in_a_group_only_the_persons_turns_and_carried_values_go(tmp_path: Path) -> None:
    store = _store(tmp_path)
    agent = Agent(store)
    group = "telegram:-1001"

    async def scenario() -> dict[str, int]:
        await _save(store, group, _turn(group, "111", "สวัสดีครับ", 1000.0))
        await _save(store, group, _turn(group, "222", f"แจ้งไฟดับ {PHONE}", 1010.0, DETAILS))
        await _save(store, group, [ActionExecuted("action_session_start", timestamp=9000.0), SessionStarted(timestamp=9000.1),
                                   SlotSet("request_details", DETAILS, timestamp=9000.2)])
        await _save(store, group, _turn(group, "111", "ขอบคุณครับ", 9001.0))
        await _save(store, "line:U9", _turn("line:U9", "U9", "สวัสดี", 1000.0))
        return await erase_person(agent, "telegram", "222", [])

    deleted = asyncio.run(scenario())
    assert set(deleted) == {group, "telegram:222"} and deleted[group] == 5  # 4 of the turn + the carried slot
    texts = " ".join(data for _, data in _rows(tmp_path))
    assert PHONE not in texts and DETAILS not in texts and '"222"' not in texts
    assert "ขอบคุณครับ" in texts and "สวัสดีครับ" in texts  # the others' conversation stays
    assert {sender for sender, _ in _rows(tmp_path)} == {group, "line:U9"}


def test_a_group_where_only_the_person_spoke_goes_whole(tmp_path: Path) -> None:
    store = _store(tmp_path)
    group = "line-group:C1"

    async def scenario() -> None:
        await _save(store, group, _turn(group, "U1", f"โทร {PHONE}", 1000.0, DETAILS))
        await erase_person(Agent(store), "line", "U1", [])

    asyncio.run(scenario())
    assert _rows(tmp_path) == []


def test_retention_purges_closed_sessions_and_idle_conversations_only(tmp_path: Path) -> None:
    store = _store(tmp_path)
    day = 86400.0

    async def scenario() -> dict[str, int]:
        active = "line:UA"  # old session closed, a new one recent
        await _save(store, active, [ActionExecuted("action_session_start", timestamp=1.0), SessionStarted(timestamp=1.1)]
                    + _turn(active, "UA", "เรื่องเก่า", 10.0, DETAILS))
        await _save(store, active, [ActionExecuted("action_session_start", timestamp=100 * day), SessionStarted(timestamp=100 * day + 1)]
                    + _turn(active, "UA", "เรื่องใหม่", 100 * day + 2))
        idle = "line:UI"  # nothing since long ago
        await _save(store, idle, _turn(idle, "UI", "นานแล้ว", 5.0))
        recent = "line:UR"
        await _save(store, recent, _turn(recent, "UR", "เมื่อวาน", 99 * day))
        return await purge(Agent(store), before=10 * day)

    counts = asyncio.run(scenario())
    assert counts == {"closed_session_events": 6, "idle_conversations": 1}
    rows = _rows(tmp_path)
    assert {sender for sender, _ in rows} == {"line:UA", "line:UR"}
    texts = " ".join(data for _, data in rows)
    assert "เรื่องเก่า" not in texts and "เรื่องใหม่" in texts and "เมื่อวาน" in texts

    async def retrieve() -> Any:
        return await store.retrieve("line:UA")

    tracker = asyncio.run(retrieve())
    assert tracker is not None and tracker.latest_message.text == "เรื่องใหม่"


class _Request:
    """What the route handlers read of a Sanic request (sanic-testing is not installed in the engine runtime)."""

    def __init__(self, agent: Any, body: dict[str, Any], headers: dict[str, str]) -> None:
        from types import SimpleNamespace

        self.json = body
        self.headers = headers
        self.args: dict[str, str] = {}
        self.app = SimpleNamespace(ctx=SimpleNamespace(agent=agent))


def _handler(uri: str) -> Any:
    from bot.rasa_channel import GatewayInput

    blueprint = GatewayInput().blueprint(lambda message: None)
    return next(route.handler for route in blueprint._future_routes if route.uri == uri)


def test_the_private_routes_need_the_shared_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_SHARED_SECRET", "s3cret-value")
    store = _store(tmp_path)
    agent = Agent(store)
    erase, retention = _handler("/erase"), _handler("/retention")

    async def scenario() -> None:
        await _save(store, "line:U1", _turn("line:U1", "U1", f"โทร {PHONE}", 1000.0))
        body = {"channel": "line", "user_id": "U1", "conversations": ["line:U1"]}
        for headers in ({}, {"X-Gateway-Secret": "wrong"}, {"X-Gateway-Secret": ""}, {"X-Gateway-Secret": "s3cret-valuE"}):
            assert (await erase(_Request(agent, body, headers))).status == 403
        assert len(_rows(tmp_path)) == 3
        good = {"X-Gateway-Secret": "s3cret-value"}
        assert (await erase(_Request(agent, {"channel": "line"}, good))).status == 400
        answer = await erase(_Request(agent, body, good))
        assert answer.status == 200 and json.loads(answer.body) == {"deleted": {"line:U1": 3}}
        assert (await retention(_Request(agent, {"before": "soon"}, good))).status == 400
        answer = await retention(_Request(agent, {"before": 10.0}, good))
        assert json.loads(answer.body) == {"closed_session_events": 0, "idle_conversations": 0}
        assert (await retention(_Request(None, {"before": 10.0}, good))).status == 503

    asyncio.run(scenario())
    assert _rows(tmp_path) == []


def test_the_key_is_derived_from_the_installation_secret_private_to_the_owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from common.shared_secret import shared_secret

    monkeypatch.delenv("GATEWAY_SHARED_SECRET", raising=False)
    monkeypatch.delenv("INTERNAL_SECRET", raising=False)
    first = shared_secret(tmp_path)
    assert len(first) >= 40 and shared_secret(tmp_path) == first
    assert (tmp_path / "internal_secret").stat().st_mode & 0o777 == 0o600
    assert first not in (tmp_path / "internal_secret").read_text()  # a derived key, not the secret itself


def test_rasa_loads_it_by_class_path_from_the_endpoints_file(tmp_path: Path, backend: dict[str, Any]) -> None:
    """A wrong class path makes Rasa fall back to an in-memory store silently: check the path and the keys."""
    from rasa.core.tracker_store import TrackerStore
    from rasa.utils.endpoints import read_endpoint_config

    if backend["dialect"] != "sqlite":
        pytest.skip("the keys are the same for PostgreSQL")
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        f'tracker_store:\n  type: engine.tracker_store.GatewayTrackerStore\n  dialect: sqlite\n  db: "{tmp_path / "loaded.db"}"\n',
        encoding="utf-8",
    )
    store = TrackerStore.create(read_endpoint_config(str(endpoints), "tracker_store"), domain=DOMAIN)
    assert isinstance(unwrap(store), GatewayTrackerStore)
    assert (tmp_path / "loaded.db").exists()
    unwrap(store).engine.dispose()

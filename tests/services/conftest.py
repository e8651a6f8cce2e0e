"""Shared helpers for citizen-service tests: trackers like the ones Rasa sends to actions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import db
from storage.db import session_scope
from storage.officials import link_group, register_official
from storage.services import load_catalog

TRACKERS = Path(__file__).parent / "trackers"
AGENCY_GROUP = "-100500"


def tracker(
    text: str, intent: str = "request_service", *, user_id: str = "U1", entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None, channel: str = "line", chat_type: str = "private", chat_id: str | None = None,
    location: dict[str, Any] | None = None, via: str = "", active_loop: str | None = None,
) -> Tracker:
    chat_id = chat_id or user_id
    metadata: dict[str, Any] = {"channel": channel, "user_id": user_id, "chat_id": chat_id, "chat_type": chat_type, "display_name": "ประชาชน"}
    if via:
        metadata["via"] = via
    if location:
        metadata["location"] = location
    sender = f"{channel}-group:{chat_id}" if chat_type in ("group", "room") else f"{channel}:{chat_id}"
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.97}, "entities": entities or [], "metadata": metadata}
    loop = {"name": active_loop} if active_loop else {}
    return Tracker(sender, dict(slots or {}), latest, [{"event": "user", "text": text, "metadata": metadata, "parse_data": latest}],
                   False, None, loop, "action_listen")


def recorded(name: str, **changes: Any) -> Tracker:
    """A tracker recorded from a real conversation (tests/services/trackers/<name>.json)."""
    state = json.loads((TRACKERS / f"{name}.json").read_text(encoding="utf-8"))
    state["slots"].update(changes.pop("slots", {}))
    latest = state["latest_message"]
    for key, value in changes.items():
        latest[key] = value
    return Tracker(state["sender_id"], state["slots"], latest, state["events"], False, None, state.get("active_loop") or {},
                   "action_listen")


def run(action: Any, t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, t, {})
    return dispatcher.messages, events


async def run_async(action: Any, t: Tracker, domain: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, domain)
    return dispatcher.messages, events


def ent(text: str, value: str, entity: str, canonical: str | None = None) -> dict[str, Any]:
    start = text.index(value)
    return {"entity": entity, "start": start, "end": start + len(value), "value": canonical or value}


@pytest.fixture
def services_db(sqlite_engine):  # type: ignore[no-untyped-def]
    """SQLite with the catalog, an agency group for local government and two officials."""
    db.use_engine(sqlite_engine)
    with session_scope(sqlite_engine) as s:
        load_catalog(s)
        register_official(s, channel="telegram", user_id="901", agency="องค์กรปกครองส่วนท้องถิ่น", role="coordinator", display_name="ปลัด")
        register_official(s, channel="telegram", user_id="902", agency="กรมที่ดิน", display_name="เจ้าหน้าที่ที่ดิน")
        link_group(s, channel="telegram", chat_id=AGENCY_GROUP, agency="องค์กรปกครองส่วนท้องถิ่น")
    yield sqlite_engine
    db.use_engine(None)

"""The windowed tracker store (issue #20): bounded work per message, nothing lost, same answers.

- Unit level (a small domain): a 320-message conversation keeps every event in Rasa's
  `events` table while `retrieve` returns a bounded window whose state (slots, active
  loop and its flags) is the whole session's; erasure removes the window's snapshot too.
- Differential replay (the trained model, the real action server): the user texts of
  the conversation scenarios (tests/scenarios/*.yml, citizens and officials), the test
  stories (tests/stories/*.yml) and one long conversation made of all of them are sent
  to stock Rasa's SQLTrackerStore (the whole session: the unbounded window) and to
  GatewayTrackerStore with a window of 3 turns, side by side; every turn must predict
  the same actions, leave the same slots and active loop and send the same replies
  (Rasa's random choice among a response's variations is seeded the same for both).
  Slow (about 10 minutes on 2 free cores): it is the proof that the window changes nothing.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import shutil
import socket
import subprocess
import time
from datetime import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy
import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    LoopInterrupted,
    ReminderScheduled,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import text as sa_text

from conftest import ROOT
from engine.tracker_store import GatewayTrackerStore, TrackerWindow

APP_PYTHON = ROOT / ".venv" / "bin" / "python"

DOMAIN = Domain.from_yaml("""
version: "3.1"
intents: [greet, request_service, inform]
slots:
  request_details:
    type: text
    mappings: [{type: custom}]
  counter:
    type: float
    initial_value: 0
    mappings: [{type: custom}]
  requested_slot:
    type: any
    mappings: [{type: custom}]
forms:
  request_form:
    required_slots: [request_details]
responses:
  utter_greet: [{text: "สวัสดีครับ"}]
""")


def _rows(store: GatewayTrackerStore, sender: str) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa_text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender}).scalar()


def _windows(store: GatewayTrackerStore) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa_text(f"SELECT count(*) FROM {TrackerWindow.__tablename__}")).scalar()


def _turn(n: int, ts: float) -> list[Any]:
    events: list[Any] = [UserUttered(f"ข้อความที่ {n}", {"name": "inform", "confidence": 0.9}, timestamp=ts),
                         SlotSet("counter", float(n), timestamp=ts + 0.1)]
    if n == 5:  # a form that stays active, interrupted, for the rest of the conversation
        events += [ActionExecuted("request_form", timestamp=ts + 0.2), ActiveLoop("request_form", timestamp=ts + 0.2),
                   SlotSet("requested_slot", "request_details", timestamp=ts + 0.2),
                   LoopInterrupted(True, timestamp=ts + 0.25)]
    if n == 7:
        events.append(SlotSet("request_details", "ไฟถนนดับหน้าบ้าน", timestamp=ts + 0.3))
    events += [ActionExecuted("utter_greet", timestamp=ts + 0.4), BotUttered(f"ตอบ {n}", timestamp=ts + 0.5),
               ActionExecuted("action_listen", timestamp=ts + 0.6)]
    return events


def test_a_long_conversation_is_stored_whole_and_retrieved_as_a_bounded_window(tmp_path: Path) -> None:
    store = GatewayTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"), window_turns=3)
    whole = GatewayTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"), window_turns=0)
    sender = "line:Ulong"

    async def scenario() -> None:
        tracker = DialogueStateTracker(sender, DOMAIN.slots)
        tracker.update(ActionExecuted("action_session_start", timestamp=1.0))
        tracker.update(SessionStarted(timestamp=1.0))
        tracker.update(ActionExecuted("action_listen", timestamp=1.1))
        await store.save(tracker)
        added = len(tracker.events)
        lengths = []
        for n in range(1, 321):
            tracker = await store.retrieve(sender)
            assert tracker is not None
            lengths.append(len(tracker.events))
            for event in _turn(n, 10.0 * n):
                tracker.update(event)
                added += 1
            await store.save(tracker)
            await store.save(tracker)  # saving the same tracker twice adds nothing
            assert _rows(store, sender) == added, f"message {n}: events were dropped or doubled"
        windowed = await store.retrieve(sender)
        full = await whole.retrieve(sender)
        assert windowed is not None and full is not None
        assert len(full.events) == added - 0 and len(windowed.events) < 40
        assert max(lengths[10:]) == max(lengths[-10:]) < 40  # bounded, not growing with the conversation
        assert windowed.current_slot_values() == full.current_slot_values()
        assert windowed.current_slot_values()["counter"] == 320.0
        assert windowed.current_slot_values()["request_details"] == "ไฟถนนดับหน้าบ้าน"
        assert windowed.active_loop == full.active_loop and windowed.active_loop.name == "request_form"
        assert windowed.latest_message.text == "ข้อความที่ 320"
        assert [e.text for e in windowed.events if isinstance(e, UserUttered)] == [f"ข้อความที่ {n}" for n in (318, 319, 320)]

    asyncio.run(scenario())


def test_a_new_session_inside_the_window_starts_from_its_carried_slots(tmp_path: Path) -> None:
    store = GatewayTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"), window_turns=2)
    stock = GatewayTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"), window_turns=0)
    sender = "line:Usession"

    async def scenario() -> None:
        tracker = DialogueStateTracker(sender, DOMAIN.slots)
        tracker.update(ActionExecuted("action_listen", timestamp=1.0))
        await store.save(tracker)
        for n in range(1, 8):
            tracker = await store.retrieve(sender)
            for event in _turn(n, 10.0 * n):
                tracker.update(event)
            await store.save(tracker)
        tracker = await store.retrieve(sender)
        for event in [ActionExecuted("action_session_start", timestamp=5000.0), SessionStarted(timestamp=4999.9),
                      SlotSet("request_details", "ไฟถนนดับหน้าบ้าน", timestamp=5000.1), ActionExecuted("action_listen", timestamp=5000.2),
                      UserUttered("สวัสดี", {"name": "greet", "confidence": 1.0}, timestamp=5001.0)]:
            tracker.update(event)
        await store.save(tracker)
        windowed, full = await store.retrieve(sender), await stock.retrieve(sender)
        assert [e.as_dict() for e in windowed.events] == [e.as_dict() for e in full.events]
        assert windowed.current_slot_values() == full.current_slot_values()
        assert windowed.current_slot_values()["counter"] == 0  # a new session: not carried

    asyncio.run(scenario())


def _last_slot_events(tracker: DialogueStateTracker) -> dict[str, Any]:
    last: dict[str, Any] = {}
    for event in tracker.events:
        if isinstance(event, SlotSet):
            last[event.key] = event.value
    return last


def test_what_actions_read_in_the_events_is_the_whole_sessions(tmp_path: Path) -> None:
    """A slot's last `SlotSet` (read by actions even after a reset) and a pending reminder survive the window."""
    store = GatewayTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"), window_turns=2)
    whole = GatewayTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"), window_turns=0)
    sender = "line:Ureset"

    async def scenario() -> None:
        tracker = DialogueStateTracker(sender, DOMAIN.slots)
        tracker.update(ActionExecuted("action_listen", timestamp=1.0))
        await store.save(tracker)
        for n in range(1, 12):
            tracker = await store.retrieve(sender)
            events = _turn(n, 10.0 * n)
            if n == 3:
                events[-1:-1] = [ReminderScheduled("EXTERNAL_reminder", trigger_date_time=datetime(2030, 1, 1), name="remind_later",
                                                   timestamp=30.55)]
            if n == 8:  # the details were set at turn 7: erased, only the counter set again
                events[-1:-1] = [AllSlotsReset(timestamp=80.55), SlotSet("counter", 8.5, timestamp=80.56)]
            for event in events:
                tracker.update(event)
            await store.save(tracker)
            windowed, full = await store.retrieve(sender), await whole.retrieve(sender)
            assert windowed.current_slot_values() == full.current_slot_values(), f"message {n}"
            assert _last_slot_events(windowed) == _last_slot_events(full), f"message {n}"
            assert windowed.active_loop == full.active_loop, f"message {n}"
            assert [e.name for e in windowed.applied_events() if isinstance(e, ReminderScheduled)] == (["remind_later"] if n >= 3 else [])
        assert windowed.current_slot_values()["request_details"] is None
        assert _last_slot_events(windowed)["request_details"] == "ไฟถนนดับหน้าบ้าน"  # what the whole session's events still show
        texts = [e.text for e in windowed.events if isinstance(e, UserUttered) and e.text]
        assert texts == ["ข้อความที่ 9", "ข้อความที่ 10", "ข้อความที่ 11"]  # 2 turns, and 6 actions

    asyncio.run(scenario())


def test_erasure_removes_the_window_snapshot_with_the_events(tmp_path: Path) -> None:
    store = GatewayTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"), window_turns=2)

    async def scenario() -> None:
        for sender in ("line:U1", "line-group:C1"):
            tracker = DialogueStateTracker(sender, DOMAIN.slots)
            tracker.update(ActionExecuted("action_listen", timestamp=1.0))
            await store.save(tracker)
            for n in range(1, 6):
                tracker = await store.retrieve(sender)
                for event in _turn(n, 10.0 * n):
                    if isinstance(event, UserUttered):
                        event.metadata = {"user_id": "U1" if n % 2 else "U2"}
                    tracker.update(event)
                await store.save(tracker)
        assert _windows(store) == 2
        assert await store.delete("line:U1") > 0
        assert _windows(store) == 1
        assert await store.delete_person("line-group:C1", "line", "U1") > 0
        assert _windows(store) == 0  # the snapshot may hold the person's slot values
        tracker = await store.retrieve("line-group:C1")  # read whole once, the others' turns are still there
        assert tracker is not None and all(e.metadata.get("user_id") == "U2" for e in tracker.events if isinstance(e, UserUttered))

    asyncio.run(scenario())


# ---------------------------------------------------------------- differential replay with the trained model


@dataclass
class Step:
    actor: str
    kind: str  # say | location | tap | postback
    value: Any
    capture: dict[str, Any] = field(default_factory=dict)


@dataclass
class Conversation:
    name: str
    actors: dict[str, dict[str, Any]]
    steps: list[Step]


def _steps(raw_steps: list[dict[str, Any]], fragments: dict[str, Any], actors: dict[str, Any]) -> list[Step]:
    out: list[Step] = []
    for raw in raw_steps:
        if "use" in raw:
            out += _steps(fragments[raw["use"]], fragments, actors)
            continue
        actor = raw.get("actor")
        kind, value = None, None
        for key in ("say", "location", "tap", "postback"):
            if key in raw:
                kind, value = key, raw[key]
        for name in actors:
            if name in raw:
                actor, kind, value = name, "say", raw[name]
        if actor is None or kind is None:
            continue  # sticker, image, follow, wait: nothing reaches Rasa's dialogue
        out.append(Step(actor, kind, value, raw.get("capture") or {}))
    return out


def scenario_conversations() -> list[Conversation]:
    found = []
    for path in sorted((ROOT / "tests" / "scenarios").glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for scenario in doc.get("scenarios", []):
            actors = scenario.get("actors") or {}
            steps = _steps(scenario.get("steps") or [], doc.get("fragments") or {}, actors)
            if steps:
                found.append(Conversation(scenario["id"], actors, steps))
    for path in sorted((ROOT / "tests" / "stories").glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for story in doc.get("stories", []):
            texts = [s["user"].strip() for s in story.get("steps", []) if isinstance(s.get("user"), str)]
            if texts:
                found.append(Conversation(f"story {story['story']}", {"citizen": {"line": "user"}},
                                          [Step("citizen", "say", t) for t in texts]))
    long_steps = [s for c in found for s in c.steps if s.actor == "citizen" and s.kind == "say" and "{" not in str(s.value)]
    found.append(Conversation("one long conversation", {"citizen": {"line": "user"}}, long_steps[:150]))
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PREPARE = """
import sys
from common import internal_auth
from pathlib import Path
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.services import load_catalog
engine = make_engine(sys.argv[1])
upgrade(engine)
with session_scope(engine) as session:
    load_catalog(session)
print(internal_auth.service_key(Path(sys.argv[2]), internal_auth.ACTION_SERVER))
"""


class ActionServer:
    """The project's action server (app runtime) on a fresh SQLite database of its own."""

    def __init__(self, var: Path) -> None:
        self.var = var
        var.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.env = dict(os.environ, PYTHONPATH=str(ROOT), BOT_ENV_FILE=str(var / "no.env"), BOT_VAR_DIR=str(var),
                        DATABASE_URL=f"sqlite:///{var / 'bot.db'}", INTERNAL_SECRET="differential-replay-secret-" + "x" * 32,
                        ACTION_SERVER_PORT=str(self.port), REDIS_URL="", NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
        prepared = subprocess.run([str(APP_PYTHON), "-c", PREPARE, self.env["DATABASE_URL"], str(var)], cwd=ROOT, env=self.env,
                                  capture_output=True, text=True, timeout=300, check=False)
        assert prepared.returncode == 0, prepared.stderr[-3000:]
        self.key = prepared.stdout.strip().splitlines()[-1]
        self.log = (var / "actions.log").open("wb")
        self.process = subprocess.Popen([str(APP_PYTHON), "-m", "actions.server", "--port", str(self.port)], cwd=ROOT,
                                        env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        import urllib.request

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (var / "actions.log").read_text(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:  # noqa: S310 (loopback)
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise AssertionError("action server did not start")

    def endpoint(self) -> Any:
        from rasa.utils.endpoints import EndpointConfig

        return EndpointConfig(url=f"http://127.0.0.1:{self.port}/webhook", headers={"Authorization": f"Bearer {self.key}"})

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


TIME = re.compile(r"\b\d{1,2}[:.]\d{2}\b")


def _seen(messages: list[dict[str, Any]]) -> list[str]:
    out = []
    for m in messages:
        buttons = " | ".join(f"{b.get('title')}={b.get('payload')}" for b in m.get("buttons") or [])
        custom = json.dumps(m.get("custom"), ensure_ascii=False, sort_keys=True) if m.get("custom") else ""
        out.append(TIME.sub("hh:mm", f"{m.get('text') or ''} [{buttons}] {custom}"))
    return out


def _turn_summary(tracker: DialogueStateTracker) -> dict[str, Any]:
    events = list(tracker.events)
    last_user = max(i for i, e in enumerate(events) if isinstance(e, UserUttered))
    return {
        "intent": events[last_user].intent_name,
        "actions": [e.action_name for e in events[last_user:] if isinstance(e, ActionExecuted)],
        "slots": {k: v for k, v in tracker.current_slot_values().items() if k != "session_started_metadata"},
        "active_loop": tracker.active_loop_name,
    }


def test_a_window_of_three_turns_answers_as_the_whole_session(trained_model: Path, tmp_path: Path) -> None:
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore

    conversations = scenario_conversations()
    assert len(conversations) > 30 and sum(len(c.steps) for c in conversations) > 300
    only = os.environ.get("WINDOW_REPLAY_ONLY")  # while debugging: replay only the conversations whose name matches
    if only:
        conversations = [c for c in conversations if re.search(only, c.name)]
    servers = {mode: ActionServer(tmp_path / mode) for mode in ("whole", "window")}
    try:
        stock = SQLTrackerStore(dialect="sqlite", db=str(tmp_path / "stock.db"))
        windowed = GatewayTrackerStore(dialect="sqlite", db=str(tmp_path / "window.db"), window_turns=3)
        agent = Agent.load(str(trained_model), tracker_store=stock, action_endpoint=servers["whole"].endpoint())
        whole = agent.processor
        window = copy.copy(whole)
        windowed.domain = whole.domain
        window.tracker_store = FailSafeTrackerStore(windowed)
        window.action_endpoint = servers["window"].endpoint()
        processors = {"whole": whole, "window": window}
        differences: list[str] = []
        turns = 0

        async def replay(conversation: Conversation, number: int) -> None:
            nonlocal turns
            captured: dict[str, str] = {}
            last_buttons: dict[str, list[dict[str, Any]]] = {}
            for step in conversation.steps:
                spec = conversation.actors.get(step.actor) or {"line": "user"}
                channel = "telegram" if "telegram" in spec else "line"
                group = spec.get("group") if spec.get(channel) == "group" else None
                user_id = f"U{number}{step.actor}"
                chat = f"G{number}{group}" if group else user_id
                sender = f"{channel}{'-group' if group and channel == 'line' else ''}:{chat}"
                metadata: dict[str, Any] = {"channel": channel, "user_id": user_id, "chat_id": chat,
                                            "chat_type": "group" if group else "user", "display_name": spec.get("name", "คุณ")}
                value = re.sub(r"\{(\w+)[^}]*\}", lambda m: captured.get(m.group(1), m.group(0)), str(step.value))
                text = value
                if step.kind == "location":
                    loc = step.value if isinstance(step.value, dict) else {}
                    metadata["location"] = {"latitude": loc.get("latitude"), "longitude": loc.get("longitude"),
                                            "address": loc.get("address"), "title": loc.get("title")}
                    text = loc.get("address") or "ตำแหน่งที่ตั้ง"
                elif step.kind == "tap":
                    payload = next((b.get("payload") for b in reversed(last_buttons.get(sender, []))
                                    if re.search(value, str(b.get("title")), re.I) and b.get("payload")), None)
                    if payload is None:
                        continue
                    text = payload
                seen: dict[str, Any] = {}
                turn_seed = turns + 1
                for mode, processor in processors.items():
                    numpy.random.seed(turn_seed)  # Rasa picks one of a response's variations at random: the same one
                    collector = CollectingOutputChannel()
                    await processor.handle_message(UserMessage(text, collector, sender, input_channel="gateway",
                                                               metadata=copy.deepcopy(metadata)))
                    tracker = await processor.tracker_store.retrieve(sender)
                    seen[mode] = {**_turn_summary(tracker), "replies": _seen(collector.messages)}
                    if mode == "whole":
                        last_buttons[sender] = [b for m in collector.messages for b in m.get("buttons") or []]
                        for name, pattern in step.capture.items():
                            regex = pattern if isinstance(pattern, str) else pattern.get("pattern", "")
                            for m in collector.messages:
                                if (found := re.search(regex, m.get("text") or "")):
                                    captured[name] = found.group(1) if found.groups() else found.group(0)
                turns += 1
                if seen["whole"] != seen["window"]:
                    differences.append(f"{conversation.name} / {step.actor}: {text!r}\n  whole:  {seen['whole']}\n  window: {seen['window']}")

        async def replay_all() -> None:
            for number, conversation in enumerate(conversations):
                await replay(conversation, number)

        asyncio.run(replay_all())
        shown = int(os.environ.get("WINDOW_REPLAY_SHOW", "10"))
        print(f"differential replay: {len(differences)} of {turns} turns differ")
        assert only or turns > 300
        assert not differences, f"{len(differences)} of {turns} turns differ:\n" + "\n".join(differences[:shown])
        with windowed.engine.connect() as conn:
            longest = conn.execute(sa_text("SELECT sender_id, count(*) c FROM events GROUP BY sender_id ORDER BY c DESC")).first()
        with stock.engine.connect() as conn:
            assert conn.execute(sa_text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": longest[0]}).scalar() == longest[1]
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(tmp_path / "whole", ignore_errors=True)

"""Conversation scenarios: YAML files of whole conversations run against a `LiveStack`.

The format is documented in docs/testing.md; in short, a file holds

    category: citizens                 # default category of its scenarios
    scenarios:
      - id: streetlight-request        # unique across all files
        title: ...
        known_failure: "why it fails today"   # optional: reported, does not fail the suite
        actors:                        # each gets fresh platform ids on every run
          citizen: {line: user, name: สมศรี}
          somchai: {telegram: group, group: office, name: สมชาย}
        setup:                         # through storage (default) or the `bot` CLI
          - official: {actor: somchai, agency: องค์กรปกครองส่วนท้องถิ่น, role: coordinator}
          - link_group: {group: office, agency: องค์กรปกครองส่วนท้องถิ่น}
        steps:
          - citizen: แจ้งไฟถนนดับ        # shorthand for {actor: citizen, say: ...}
            expect: [{text: "รายละเอียด"}]
          - {actor: somchai, tap: "รับเรื่อง", expect: [{text: "{req}", in: citizen}]}

Every scenario runs with its own senders, so several run at once against one stack.
"""

from __future__ import annotations

import copy
import os
import random
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from common import clock
from tests.live.stack import BOT_ID, BOT_USERNAME, ROOT, LiveStack, Seen

SCENARIO_DIR = ROOT / "tests" / "scenarios"
DEFAULT_TIMEOUT = 90.0  # seconds a step waits for what it expects: 2 shared cores, a Rasa that warms up, and Telegram's
# 3 s per group spacing (bot/scheduler/rate_limits.py) when a burst of concurrent scenarios sends one group 20 cards
SETTLE = 0.4  # seconds after the event is handled before checking that something did NOT arrive

STEP_KINDS = ("say", "location", "sticker", "image", "tap", "postback", "follow", "wait")
STEP_KEYS = {"actor", "expect", "db", "capture", "timeout", "let", "mention", "reply_to_bot", "in", "on_message"}
EXPECT_KEYS = {"text", "no_text", "card", "button", "no_button", "asks_location", "in", "nothing"}


FILTERS: dict[str, Callable[[str], str]] = {
    "thai": lambda v: v.translate(str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")),  # Thai digits, as some people type them
    "lower": str.lower,
    "digits": lambda v: re.sub(r"\D", "", v),
    "nohyphen": lambda v: v.replace("-", ""),
}


class ScenarioError(ValueError):
    """A scenario file that does not follow the format."""


# ---------------------------------------------------------------- the format


@dataclass
class Actor:
    name: str
    channel: str  # line | telegram
    chat_type: str  # user (LINE 1:1), private (Telegram 1:1), group
    group: str | None
    display_name: str
    user_id: str = ""
    chat_id: str = ""


@dataclass
class Scenario:
    id: str
    title: str
    category: str
    file: str
    actors: dict[str, dict[str, Any]]
    setup: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    known_failure: str | None = None
    timeout: float = DEFAULT_TIMEOUT


def load_file(path: Path) -> list[Scenario]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), list):
        raise ScenarioError(f"{path}: expected a mapping with a `scenarios:` list")
    fragments = data.get("fragments") or {}
    out = []
    for raw in data["scenarios"]:
        if not isinstance(raw, dict) or "id" not in raw:
            raise ScenarioError(f"{path}: every scenario needs an `id`")
        scenario = Scenario(
            id=str(raw["id"]), title=str(raw.get("title", raw["id"])), category=str(raw.get("category") or data.get("category") or path.stem),
            file=path.name, actors=raw.get("actors") or {}, setup=raw.get("setup") or [], steps=_expand(raw.get("steps") or [], fragments, path),
            known_failure=raw.get("known_failure"), timeout=float(raw.get("timeout", data.get("timeout", DEFAULT_TIMEOUT))),
        )
        validate(scenario)
        out.append(scenario)
    return out


def _expand(steps: list[Any], fragments: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """`- use: name` inserts the file's `fragments: {name: [steps]}` (with `with: {actor: renamed}` to rename actors)."""
    out: list[dict[str, Any]] = []
    for step in steps:
        if isinstance(step, dict) and "use" in step:
            if step["use"] not in fragments:
                raise ScenarioError(f"{path}: no fragment named {step['use']!r}")
            renames = step.get("with") or {}
            for inner in _expand(copy.deepcopy(fragments[step["use"]]), fragments, path):
                inner = {renames.get(k, k): v for k, v in inner.items()}
                if "actor" in inner:
                    inner["actor"] = renames.get(inner["actor"], inner["actor"])
                for exp in inner.get("expect") or []:
                    if "in" in exp:
                        exp["in"] = renames.get(exp["in"], exp["in"])
                out.append(inner)
        else:
            out.append(step)
    return out


def load_all(paths: list[Path] | None = None) -> list[Scenario]:
    files = paths or sorted(SCENARIO_DIR.glob("*.yml"))
    scenarios = [s for f in files for s in load_file(f)]
    seen: set[str] = set()
    for s in scenarios:
        if s.id in seen:
            raise ScenarioError(f"scenario id {s.id!r} is used twice")
        seen.add(s.id)
    return scenarios


def _actor_spec(name: str, spec: dict[str, Any]) -> Actor:
    if "line" in spec:
        kind = spec["line"]
        if kind not in ("user", "group"):
            raise ScenarioError(f"actor {name}: `line:` is user or group")
        return Actor(name, "line", kind, spec.get("group") if kind == "group" else None, str(spec.get("name", "")))
    if "telegram" in spec:
        kind = spec["telegram"]
        if kind not in ("private", "group"):
            raise ScenarioError(f"actor {name}: `telegram:` is private or group")
        return Actor(name, "telegram", kind, spec.get("group") if kind == "group" else None, str(spec.get("name", "")))
    raise ScenarioError(f"actor {name}: say `line: user|group` or `telegram: private|group`")


def _step_actor(step: dict[str, Any], actors: dict[str, Any]) -> tuple[str, str, Any]:
    """(actor, kind, value) of a step; `{citizen: text}` is `{actor: citizen, say: text}`."""
    if "actor" in step:
        kinds = [k for k in STEP_KINDS if k in step]
        if len(kinds) != 1:
            raise ScenarioError(f"step {step}: give exactly one of {', '.join(STEP_KINDS)}")
        return str(step["actor"]), kinds[0], step[kinds[0]]
    named = [k for k in step if k in actors]
    if len(named) != 1:
        raise ScenarioError(f"step {step}: start with an actor's name (`citizen: text`) or `actor:`")
    return named[0], "say", step[named[0]]


def validate(s: Scenario) -> None:
    if not s.actors:
        raise ScenarioError(f"{s.id}: no actors")
    actors = {name: _actor_spec(name, spec or {}) for name, spec in s.actors.items()}
    groups: dict[str, str] = {}
    for a in actors.values():
        if a.group:
            if groups.setdefault(a.group, a.channel) != a.channel:
                raise ScenarioError(f"{s.id}: group {a.group} is used on two platforms")
            if a.group in actors:
                raise ScenarioError(f"{s.id}: {a.group} names both a group and an actor")
        elif a.chat_type == "group":
            raise ScenarioError(f"{s.id}: actor {a.name} is in a group: give `group:`")
    for item in s.setup:
        if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in SETUP_CHECKS:
            raise ScenarioError(f"{s.id}: setup items are one of {', '.join(SETUP_CHECKS)}: {item}")
    if not s.steps:
        raise ScenarioError(f"{s.id}: no steps")
    for step in s.steps:
        actor, _kind, _ = _step_actor(step, actors)
        if actor not in actors:
            raise ScenarioError(f"{s.id}: unknown actor {actor}")
        extra = set(step) - STEP_KEYS - set(STEP_KINDS) - {actor}
        if extra:
            raise ScenarioError(f"{s.id}: unknown step keys {sorted(extra)} (known: {sorted(STEP_KEYS | set(STEP_KINDS))})")
        for exp in step.get("expect") or []:
            unknown = set(exp) - EXPECT_KEYS
            if unknown:
                raise ScenarioError(f"{s.id}: unknown expectation {sorted(unknown)} (known: {sorted(EXPECT_KEYS)})")
        for check in step.get("db") or []:
            if not isinstance(check, dict) or len(check) != 1 or next(iter(check)) not in DB_CHECKS:
                raise ScenarioError(f"{s.id}: db checks are one of {', '.join(DB_CHECKS)}: {check}")


# ---------------------------------------------------------------- results


@dataclass
class Result:
    scenario: Scenario
    passed: bool
    failure: str = ""
    transcript: list[str] = field(default_factory=list)
    seconds: float = 0.0
    steps_run: int = 0

    @property
    def outcome(self) -> str:
        if self.scenario.known_failure:
            return "fixed" if self.passed else "known_failure"
        return "passed" if self.passed else "failed"

    @property
    def ok(self) -> bool:
        """True unless a scenario expected to pass failed."""
        return self.passed or bool(self.scenario.known_failure)


class StepFailed(AssertionError):
    pass


# ---------------------------------------------------------------- running one scenario


class Run:
    """One run of one scenario: fresh ids, captures, the transcript."""

    def __init__(self, stack: LiveStack, scenario: Scenario) -> None:
        self.stack = stack
        self.s = scenario
        self.actors = {name: _actor_spec(name, spec or {}) for name, spec in scenario.actors.items()}
        self.groups: dict[str, tuple[str, str]] = {}  # group name -> (channel, chat id)
        rng = random.Random(uuid.uuid4().int)
        for a in self.actors.values():
            if a.channel == "line":
                a.user_id = "U" + uuid.uuid4().hex
            else:
                a.user_id = str(rng.randrange(10**9, 8 * 10**9))
            if a.group:
                if a.group not in self.groups:
                    gid = ("C" + uuid.uuid4().hex) if a.channel == "line" else str(-(10**12) - rng.randrange(10**9, 10**10))
                    self.groups[a.group] = (a.channel, gid)
                a.chat_id = self.groups[a.group][1]
            else:
                a.chat_id = a.user_id
        self.vars: dict[str, str] = {}
        for a in self.actors.values():
            self.vars[f"{a.name}.id"] = a.user_id
            self.vars[f"{a.name}.chat"] = a.chat_id
        for g, (_, gid) in self.groups.items():
            self.vars[f"{g}.id"] = gid
        self.transcript: list[str] = []
        self._shown: dict[tuple[str, str], int] = {}
        self._read: dict[tuple[str, str], int] = {}  # per chat: messages already looked at by a step
        self._message_ids = iter(range(100, 10**6))

    # ---- templates
    def fill(self, value: Any, regex: bool = False) -> str:
        text = str(value)

        def sub(m: re.Match[str]) -> str:
            key, *kinds = m.group(1).split("|")
            if key not in self.vars:
                raise StepFailed(f"nothing captured or known as {{{key}}} yet")
            value = self.vars[key]
            for kind in kinds:
                value = FILTERS[kind](value)
            return re.escape(value) if regex else value

        return re.sub(r"\{([A-Za-z_][\w.]*(?:\|(?:" + "|".join(FILTERS) + r"))*)\}", sub, text)

    def chat_of(self, alias: str) -> tuple[str, str]:
        if alias in self.actors:
            a = self.actors[alias]
            return a.channel, a.chat_id
        if alias in self.groups:
            return self.groups[alias]
        raise StepFailed(f"`in: {alias}` names no actor or group")

    def chats(self) -> list[tuple[str, str, str]]:
        out, seen = [], set()
        for a in self.actors.values():
            label = a.group or a.name
            if (a.channel, a.chat_id) not in seen:
                seen.add((a.channel, a.chat_id))
                out.append((label, a.channel, a.chat_id))
        return out

    # ---- running
    def run(self) -> Result:
        started = time.monotonic()
        steps = 0
        try:
            for item in self.s.setup:
                self.setup(item)
            for index, step in enumerate(self.s.steps, 1):
                steps = index
                self.step(index, step)
            return Result(self.s, True, transcript=self.transcript, seconds=time.monotonic() - started, steps_run=steps)
        except StepFailed as exc:
            self.show_new()
            return Result(self.s, False, f"step {steps}: {exc}", self.transcript, time.monotonic() - started, steps)
        except Exception as exc:  # noqa: BLE001 - a harness or stack error is reported as this scenario's failure
            self.show_new()
            return Result(self.s, False, f"step {steps}: {type(exc).__name__}: {exc}", self.transcript, time.monotonic() - started, steps)
        finally:
            self.release_groups()

    def release_groups(self) -> None:
        """The scenario's groups leave their agencies when it ends. All scenarios share one database, so
        without this every later request for an agency fans out to the group of every finished scenario
        that linked it (hundreds of groups; a real agency has a few), and a scenario's own card queues
        behind the others' under Telegram's per-group pacing."""
        if not self.groups:
            return
        from sqlalchemy import update

        from storage.db import session_scope
        from storage.models.officials import GroupLink

        with session_scope(self.stack.engine) as session:
            for channel, chat in self.groups.values():
                session.execute(update(GroupLink).where(GroupLink.channel == channel, GroupLink.chat_id == chat).values(agency=None))

    def setup(self, item: dict[str, Any]) -> None:
        name, args = next(iter(item.items()))
        SETUP_CHECKS[name](self, args)
        self.transcript.append(f"  (setup) {name}: {self.fill(args) if isinstance(args, str) else args}")

    def show_new(self) -> None:
        for label, channel, chat in self.chats():
            messages = self.stack.seen(channel, chat)
            start = self._shown.get((channel, chat), 0)
            for m in messages[start:]:
                self.transcript.append(f"      ← {label}: {m.line()}")
            self._shown[(channel, chat)] = len(messages)

    def step(self, index: int, step: dict[str, Any]) -> None:
        actor_name, kind, value = _step_actor(step, self.actors)
        actor = self.actors[actor_name]
        timeout = float(step.get("timeout", self.s.timeout))
        for name, template in (step.get("let") or {}).items():  # keep a capture under another name
            self.vars[str(name)] = self.fill(template)
        self.show_new()
        # The speaker's chat: only what answers this step. Another chat (`in:`): everything since
        # a step last looked at it, so a proactive message that arrived during an earlier step counts.
        own = (actor.channel, actor.chat_id)
        cursors = dict(self._read)
        if kind != "wait":  # a wait step answers nothing: what arrived in the actor's chat before it counts too
            cursors[own] = len(self.stack.seen(*own))
        shown = value if kind in ("say", "postback", "tap") else ("(waits for what follows)" if kind == "wait" else kind)
        self.transcript.append(f"  {index}. {actor_name} ({actor.channel} {actor.chat_type}) {kind}: {self.fill(shown) if isinstance(shown, str) else shown}")
        stored_id = None if kind == "wait" else self.send(actor, kind, value, step)
        if stored_id is not None:
            self.wait_handled(actor.channel, stored_id, timeout)
        elif kind != "wait" and step.get("expect") and not all(e.get("nothing") for e in step["expect"]):
            raise StepFailed("the gateway did not take this message (not addressed to the bot?), but replies were expected")
        expectations = [dict(e) for e in step.get("expect") or []]
        checks = step.get("db") or []
        pending = dict(step.get("capture") or {})
        deadline = time.monotonic() + timeout
        settle_until = time.monotonic() + SETTLE
        while True:
            settled = time.monotonic() >= settle_until
            problem = self.check(actor, expectations, cursors, settled)
            if not problem and pending:
                problem = self.capture(actor, pending, cursors)
            if not problem:
                problem = self.check_storage(checks)
            if not problem and settled:
                break
            if problem and time.monotonic() > deadline:
                raise StepFailed(problem)
            time.sleep(0.15)
        looked = {own} | {self.chat_of(str(e["in"])) for e in expectations if e.get("in")}
        looked |= {self.chat_of(str(c["in"])) for c in (step.get("capture") or {}).values() if isinstance(c, dict) and c.get("in")}
        for chat in looked:
            self._read[chat] = len(self.stack.seen(*chat))
        self.show_new()

    def wait_handled(self, channel: str, external_id: str, timeout: float) -> None:
        deadline = time.monotonic() + max(timeout, 60.0)  # a first message may wait on a cold Rasa
        while True:
            state = self.stack.event_state(channel, external_id)
            if state is None:
                return  # the gateway stored it before acknowledging; gone now: an erasure removed the person's events
            if state in ("done", "failed"):
                if state == "failed":
                    raise StepFailed("the gateway gave up on this message (event failed)")
                return
            if time.monotonic() > deadline:
                raise StepFailed(f"the gateway had not handled the message after {timeout:.0f} s (state {state})")
            time.sleep(0.1)

    # ---- what arrived
    def window(self, actor: Actor, exp: dict[str, Any], cursors: dict[tuple[str, str], int]) -> tuple[str, list[Seen]]:
        alias = exp.get("in")
        channel, chat = self.chat_of(str(alias)) if alias else (actor.channel, actor.chat_id)
        return (str(alias) if alias else actor.name), self.stack.seen(channel, chat)[cursors.get((channel, chat), 0):]

    def check(self, actor: Actor, expectations: list[dict[str, Any]], cursors: dict[tuple[str, str], int], settled: bool) -> str:
        for exp in expectations:
            where, messages = self.window(actor, exp, cursors)
            if "text" in exp:
                pattern = self.fill(exp["text"], regex=True)
                if not any(re.search(pattern, m.text, re.S | re.I) for m in messages):
                    return f"expected a message matching /{pattern}/ in {where}'s chat; got {_brief(messages)}"
            if "card" in exp:
                pattern = self.fill(exp["card"], regex=True)
                if not any(re.search(pattern, c, re.I) for m in messages for c in m.cards):
                    return f"expected a card titled /{pattern}/ in {where}'s chat; cards seen: {[c for m in messages for c in m.cards]}"
            if "button" in exp:
                pattern = self.fill(exp["button"], regex=True)
                if not any(re.search(pattern, label, re.I) for m in messages for label, _ in m.buttons):
                    return f"expected a button /{pattern}/ in {where}'s chat; buttons seen: {[b for m in messages for b, _ in m.buttons]}"
            if exp.get("asks_location") and not any(m.location_request for m in messages):
                return f"expected a request for a location (LINE location quick reply) in {where}'s chat; got {_brief(messages)}"
            if settled:
                if "no_text" in exp:
                    pattern = self.fill(exp["no_text"], regex=True)
                    bad = [m for m in messages if re.search(pattern, m.text, re.S | re.I)]
                    if bad:
                        return f"expected no message matching /{pattern}/ in {where}'s chat; got {_brief(bad)}"
                if "no_button" in exp:
                    pattern = self.fill(exp["no_button"], regex=True)
                    bad_buttons = [b for m in messages for b, _ in m.buttons if re.search(pattern, b, re.I)]
                    if bad_buttons:
                        return f"expected no button /{pattern}/ in {where}'s chat; got {bad_buttons}"
                if exp.get("nothing") and messages:
                    return f"expected nothing in {where}'s chat; got {_brief(messages)}"
        return ""

    def check_storage(self, checks: list[dict[str, Any]]) -> str:
        for check in checks:
            name, args = next(iter(check.items()))
            problem = DB_CHECKS[name](self, args or {})
            if problem:
                return f"storage: {name}: {problem}"
        return ""

    def capture(self, actor: Actor, pending: dict[str, Any], cursors: dict[tuple[str, str], int]) -> str:
        """Take what `pending` captures from the step's messages (removing each one found); a problem while some are missing."""
        for name, spec in list(pending.items()):
            pattern, alias = (spec, None) if isinstance(spec, str) else (spec["pattern"], spec.get("in"))
            where, messages = self.window(actor, {"in": alias} if alias else {}, cursors)
            regex = self.fill(pattern, regex=True)
            for m in messages:
                found = next((f for text in [m.text, *m.cards] if (f := re.search(regex, text, re.S))), None)
                if found:
                    self.vars[name] = found.group(1) if found.groups() else found.group(0)
                    self.transcript.append(f"      (captured {name} = {self.vars[name]})")
                    del pending[name]
                    break
            else:
                return f"could not capture {name} with /{regex}/ in {where}'s chat from {_brief(messages)}"
        return ""

    # ---- speaking
    def send(self, actor: Actor, kind: str, value: Any, step: dict[str, Any]) -> str | None:
        if actor.channel == "line":
            return self.send_line(actor, kind, value, step)
        return self.send_telegram(actor, kind, value, step)

    def _tap_target(self, actor: Actor, pattern: str, step: dict[str, Any]) -> tuple[str, Seen]:
        """The payload of the latest button labelled /pattern/ (on a message matching `on_message:`, when given) and its message."""
        channel, chat = self.chat_of(step["in"]) if step.get("in") else (actor.channel, actor.chat_id)
        regex = self.fill(pattern, regex=True)
        on = self.fill(step["on_message"], regex=True) if step.get("on_message") else None
        for m in reversed(self.stack.seen(channel, chat)):
            if on and not any(re.search(on, t, re.S | re.I) for t in [m.text, *m.cards]):
                continue
            for label, payload in m.buttons:
                if re.search(regex, label, re.I) and payload and not payload.startswith("http"):
                    return payload, m
        raise StepFailed(f"no button /{regex}/{f' on a message /{on}/' if on else ''} to tap in {actor.name}'s chat")

    def send_line(self, actor: Actor, kind: str, value: Any, step: dict[str, Any]) -> str | None:
        source: dict[str, Any] = {"type": "user", "userId": actor.user_id}
        if actor.chat_type == "group":
            source = {"type": "group", "groupId": actor.chat_id, "userId": actor.user_id}
        mid = str(next(self._message_ids))
        if kind == "say":
            text = self.fill(value)
            message: dict[str, Any] = {"type": "text", "id": mid, "quoteToken": "q" + mid, "text": text}
            if step.get("mention"):
                at = "@ผู้ช่วยบริการภาครัฐ"
                message["text"] = f"{at} {text}"
                message["mention"] = {"mentionees": [{"index": 0, "length": len(at), "type": "user", "isSelf": True}]}
            event: dict[str, Any] = {"type": "message", "message": message}
        elif kind == "location":
            loc = value or {}
            event = {"type": "message", "message": {"type": "location", "id": mid, "title": str(loc.get("title", "")),
                                                    "address": self.fill(loc.get("address", "")), "latitude": float(loc["latitude"]),
                                                    "longitude": float(loc["longitude"])}}
        elif kind == "sticker":
            event = {"type": "message", "message": {"type": "sticker", "id": mid, "packageId": "446", "stickerId": "1988",
                                                    "stickerResourceType": "STATIC", "keywords": ["thanks"]}}
        elif kind == "image":
            event = {"type": "message", "message": {"type": "image", "id": mid, "contentProvider": {"type": "line"}}}
        elif kind in ("tap", "postback"):
            data = self._tap_target(actor, value, step)[0] if kind == "tap" else self.fill(value)
            event = {"type": "postback", "postback": {"data": data}}
        elif kind == "follow":
            event = {"type": "follow", "follow": {"isUnblocked": False}}
        else:
            raise ScenarioError(f"LINE cannot send {kind}")
        return self.stack.line_event(source, event)

    def send_telegram(self, actor: Actor, kind: str, value: Any, step: dict[str, Any]) -> str | None:
        chat = {"id": int(actor.chat_id), "type": "supergroup" if actor.chat_type == "group" else "private"}
        if actor.chat_type == "group":
            chat["title"] = actor.group or "group"
        else:
            chat["first_name"] = actor.display_name or "official"
        user = {"id": int(actor.user_id), "is_bot": False, "first_name": actor.display_name or "เจ้าหน้าที่"}
        date = int(clock.now().timestamp())
        message: dict[str, Any] = {"message_id": next(self._message_ids), "date": date, "chat": chat, "from": user}
        if kind == "say":
            text = self.fill(value)
            if step.get("mention"):
                text = f"@{BOT_USERNAME} {text}"
            message["text"] = text
            if text.startswith("/"):
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split(" ")[0])}]
            elif step.get("mention"):
                message["entities"] = [{"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}]
            if step.get("reply_to_bot"):
                replied = self._latest_bot_message(actor, step.get("reply_to_bot"))
                message["reply_to_message"] = {"message_id": replied.message_id, "date": date, "chat": chat,
                                               "from": {"id": BOT_ID, "is_bot": True, "first_name": "ผู้ช่วย", "username": BOT_USERNAME},
                                               "text": replied.text[:4096]}
            update: dict[str, Any] = {"message": message}
        elif kind == "location":
            message["location"] = {"latitude": float(value["latitude"]), "longitude": float(value["longitude"])}
            update = {"message": message}
        elif kind == "sticker":
            message["sticker"] = {"file_id": "CAAC" + uuid.uuid4().hex, "file_unique_id": uuid.uuid4().hex[:16], "width": 512, "height": 512,
                                  "is_animated": False, "is_video": False, "type": "regular", "emoji": "👍"}
            update = {"message": message}
        elif kind == "image":
            message["photo"] = [{"file_id": "AgAC" + uuid.uuid4().hex, "file_unique_id": uuid.uuid4().hex[:16], "width": 90, "height": 90}]
            update = {"message": message}
        elif kind in ("tap", "postback"):
            if kind == "tap":
                data, tapped = self._tap_target(actor, value, step)
                message_id, shown = tapped.message_id or 1, tapped.text[:4096]
            else:
                data, message_id, shown = self.fill(value), 1, "…"
            bot_message = {"message_id": message_id, "date": date, "chat": chat,
                           "from": {"id": BOT_ID, "is_bot": True, "first_name": "ผู้ช่วย", "username": BOT_USERNAME}, "text": shown}
            update = {"callback_query": {"id": uuid.uuid4().hex[:16], "chat_instance": "ci-" + actor.chat_id, "from": user, "data": data,
                                         "message": bot_message}}
        else:
            raise ScenarioError(f"Telegram cannot send {kind}")
        return self.stack.telegram_update(update)

    def _latest_bot_message(self, actor: Actor, pattern: Any) -> Seen:
        messages = self.stack.seen(actor.channel, actor.chat_id)
        regex = self.fill(pattern, regex=True) if isinstance(pattern, str) else None
        for m in reversed(messages):
            if regex is None or re.search(regex, m.text, re.S | re.I):
                return m
        raise StepFailed(f"no bot message{f' /{regex}/' if regex else ''} to reply to in {actor.name}'s chat")


def _brief(messages: list[Seen], limit: int = 240) -> str:
    if not messages:
        return "nothing"
    return " || ".join(m.line()[:limit] for m in messages)


# ---------------------------------------------------------------- setup steps


def _setup_official(run: Run, args: dict[str, Any]) -> None:
    from storage.db import session_scope
    from storage.officials import register_official

    actor = run.actors[args["actor"]]
    with session_scope(run.stack.engine) as session:
        register_official(session, channel=actor.channel, user_id=actor.user_id, agency=args["agency"], role=args.get("role", "member"),
                          display_name=args.get("name") or actor.display_name)


def _setup_link_group(run: Run, args: dict[str, Any]) -> None:
    from storage.db import session_scope
    from storage.officials import link_group

    channel, chat = run.groups[args["group"]]
    with session_scope(run.stack.engine) as session:
        link_group(session, channel=channel, chat_id=chat, agency=args.get("agency"), project_code=args.get("project"),
                   title=args.get("title", ""))


def _setup_cli(run: Run, args: Any) -> None:
    """`bot ARGS...` with the stack's environment (a list, or one shell-quoted string)."""
    argv = [run.fill(a) for a in (args if isinstance(args, list) else shlex.split(str(args)))]
    env = {**os.environ, **run.stack.env}
    done = subprocess.run([sys.executable, "-c", "from bot.cli import main; main()", *argv], cwd=ROOT, env=env,  # noqa: S603
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise StepFailed(f"`bot {' '.join(argv)}` failed: {done.stderr[-500:] or done.stdout[-500:]}")


SETUP_CHECKS: dict[str, Callable[[Run, Any], None]] = {
    "official": _setup_official,
    "link_group": _setup_link_group,
    "cli": _setup_cli,
}


# ---------------------------------------------------------------- storage checks (named, declarative)


def _citizen_key(run: Run, name: str) -> str:
    a = run.actors[name]
    return f"{a.channel}:{a.user_id}"


def _request_code_id(run: Run, code: str) -> int:
    digits = re.sub(r"\D", "", run.fill(code))
    if not digits:
        raise StepFailed(f"{code!r} is not a request number")
    return int(digits)


def _check_request(run: Run, args: dict[str, Any]) -> str:
    """`request: {id: "{req}", status: received, agency: ..., service: regex, has_location: true, citizen: actor}`"""
    from storage.db import session_scope
    from storage.models.services import ServiceRequest

    with session_scope(run.stack.engine) as session:
        row = session.get(ServiceRequest, _request_code_id(run, args["id"]))
        if row is None:
            return f"no request {run.fill(args['id'])}"
        problems = []
        if "status" in args and row.status != args["status"]:
            problems.append(f"status is {row.status}, expected {args['status']}")
        if "agency" in args and row.agency != args["agency"]:
            problems.append(f"agency is {row.agency}, expected {args['agency']}")
        if "service" in args and not re.search(str(args["service"]), row.service):
            problems.append(f"service is {row.service}, expected /{args['service']}/")
        if "has_location" in args and bool(row.location) != bool(args["has_location"]):
            problems.append(f"location is {row.location!r}")
        if "details" in args and not re.search(str(args["details"]), row.details or ""):
            problems.append(f"details are {row.details!r}, expected /{args['details']}/")
        if "citizen" in args and row.citizen_key != _citizen_key(run, args["citizen"]):
            problems.append("it belongs to someone else")
        return "; ".join(problems)


def _check_requests_of(run: Run, args: dict[str, Any]) -> str:
    """`requests_of: {actor: citizen, count: 1, status: cancelled}`: the requests a person filed."""
    from sqlalchemy import func, select

    from storage.db import session_scope
    from storage.models.services import ServiceRequest

    query = select(func.count()).select_from(ServiceRequest).where(ServiceRequest.citizen_key == _citizen_key(run, args["actor"]))
    if "status" in args:
        query = query.where(ServiceRequest.status == args["status"])
    with session_scope(run.stack.engine) as session:
        count = session.scalar(query)
    return "" if count == int(args.get("count", 1)) else f"{count} requests, expected {args.get('count', 1)}"


def _check_task(run: Run, args: dict[str, Any]) -> str:
    """`task: {id: "{task}", status: in_progress, percent: 50, assigned: agency, title: regex, has_deadline: true, group: office}`"""
    from storage.db import session_scope
    from storage.models.officials import Task

    with session_scope(run.stack.engine) as session:
        row = session.get(Task, int(re.sub(r"\D", "", run.fill(args["id"])) or 0))
        if row is None:
            return f"no task {run.fill(args['id'])}"
        problems = []
        if "status" in args and row.status != args["status"]:
            problems.append(f"status is {row.status}, expected {args['status']}")
        if "percent" in args and row.percent != int(args["percent"]):
            problems.append(f"percent is {row.percent}, expected {args['percent']}")
        if "title" in args and not re.search(str(args["title"]), row.title):
            problems.append(f"title is {row.title!r}, expected /{args['title']}/")
        if "has_deadline" in args and (row.deadline is not None) != bool(args["has_deadline"]):
            problems.append(f"deadline is {row.deadline}")
        if "assigned" in args and args["assigned"] not in [a.agency for a in row.assignees]:
            problems.append(f"assigned to {[a.agency for a in row.assignees]}, expected {args['assigned']}")
        if "group" in args and row.chat_id != run.groups[args["group"]][1]:
            problems.append("created in another chat")
        return "; ".join(problems)


def _check_tasks_in(run: Run, args: dict[str, Any]) -> str:
    """`tasks_in: {group: office, count: 0}`: tasks created from a group chat."""
    from sqlalchemy import func, select

    from storage.db import session_scope
    from storage.models.officials import Task

    chat = run.groups[args["group"]][1]
    with session_scope(run.stack.engine) as session:
        count = session.scalar(select(func.count()).select_from(Task).where(Task.chat_id == chat))
    return "" if count == int(args.get("count", 1)) else f"{count} tasks, expected {args.get('count', 1)}"


def _check_reminder(run: Run, args: dict[str, Any]) -> str:
    """`reminder: {group: office, text: regex, count: 1}`: reminders that will be delivered to a chat."""
    from sqlalchemy import select

    from storage.db import session_scope
    from storage.models.officials import Reminder

    channel, chat = run.chat_of(args.get("group") or args.get("in"))
    with session_scope(run.stack.engine) as session:
        rows = session.scalars(select(Reminder).where(Reminder.chat_id == chat, Reminder.cancelled.is_(False))).all()
        matching = [r for r in rows if re.search(str(args.get("text", "")), r.text)]
        expected = int(args.get("count", 1))
        return "" if len(matching) == expected else f"{len(matching)} reminders match, expected {expected}: {[r.text for r in rows]}"


def _check_handoff(run: Run, args: dict[str, Any]) -> str:
    """`handoff: {actor: citizen, status: open, agency: ...}`: the person's latest handoff."""
    from sqlalchemy import select

    from storage.db import session_scope
    from storage.models.services import Handoff

    with session_scope(run.stack.engine) as session:
        row = session.scalars(select(Handoff).where(Handoff.citizen_key == _citizen_key(run, args["actor"])).order_by(Handoff.id.desc())).first()
        if row is None:
            return "no handoff for this person"
        problems = []
        if "status" in args and row.status != args["status"]:
            problems.append(f"status is {row.status}, expected {args['status']}")
        if "agency" in args and row.agency != args["agency"]:
            problems.append(f"agency is {row.agency}, expected {args['agency']}")
        return "; ".join(problems)


def _check_erased(run: Run, args: dict[str, Any]) -> str:
    """`erased: {actor: citizen, requests: 1}`: nothing is linked to the person; their requests stay anonymous."""
    from sqlalchemy import func, or_, select

    from storage.db import session_scope
    from storage.models.services import Handoff, ServiceRequest

    key = _citizen_key(run, args["actor"])
    user = run.actors[args["actor"]].user_id
    with session_scope(run.stack.engine) as session:
        linked = session.scalar(select(func.count()).select_from(ServiceRequest).where(
            or_(ServiceRequest.citizen_key == key, ServiceRequest.reply_to == user)))
        handoffs = session.scalar(select(func.count()).select_from(Handoff).where(Handoff.citizen_key == key))
        anonymous = session.scalar(select(func.count()).select_from(ServiceRequest).where(ServiceRequest.anonymised.is_(True)))
    problems = []
    if linked:
        problems.append(f"{linked} requests still carry the person's id")
    if handoffs:
        problems.append(f"{handoffs} handoffs still carry the person's id")
    if "requests" in args and anonymous < int(args["requests"]):
        problems.append(f"only {anonymous} anonymised requests kept for statistics, expected at least {args['requests']}")
    return "; ".join(problems)


def _check_official(run: Run, args: dict[str, Any]) -> str:
    """`official: {actor: x, registered: false}` or `{actor: x, agency: ..., role: ...}`."""
    from storage.db import session_scope
    from storage.officials import find_official

    actor = run.actors[args["actor"]]
    with session_scope(run.stack.engine) as session:
        row = find_official(session, actor.channel, actor.user_id)
        registered = row is not None and row.active
        if "registered" in args and registered != bool(args["registered"]):
            return f"registered is {registered}"
        if row is not None:
            if "agency" in args and row.agency != args["agency"]:
                return f"agency is {row.agency}"
            if "role" in args and row.role != args["role"]:
                return f"role is {row.role}"
    return ""


def _check_outbox(run: Run, args: dict[str, Any]) -> str:
    """`outbox: {kind: request_routed, to: office, request: "{req}", count: 1, state: sent}`: proactive messages for a chat.

    Give `request:` in a group linked to an agency: concurrent scenarios' requests reach that group too.
    """
    from sqlalchemy import select

    from storage.db import session_scope
    from storage.models.outbox import Outbox

    _, chat = run.chat_of(args["to"])
    with session_scope(run.stack.engine) as session:
        rows = session.scalars(select(Outbox).where(Outbox.recipient == chat)).all()
        rows = [r for r in rows if ("kind" not in args or r.kind == args["kind"]) and ("state" not in args or r.state == args["state"])]
        if "request" in args:
            wanted = str(_request_code_id(run, args["request"]))
            rows = [r for r in rows if r.cause_type == "request" and r.cause_id == wanted]
    expected = int(args.get("count", 1))
    return "" if len(rows) == expected else f"{len(rows)} rows, expected {expected}"


def _check_rating(run: Run, args: dict[str, Any]) -> str:
    """`rating: {id: "{req}", score: 5}`: the citizen's satisfaction rating of a request."""
    from sqlalchemy import select

    from storage.db import session_scope
    from storage.models.services import ServiceRating

    with session_scope(run.stack.engine) as session:
        row = session.scalars(select(ServiceRating).where(ServiceRating.request_id == _request_code_id(run, args["id"]))).first()
        if row is None:
            return "no rating stored"
        if "score" in args and row.score != int(args["score"]):
            return f"score is {row.score}, expected {args['score']}"
    return ""


DB_CHECKS: dict[str, Callable[[Run, Any], str]] = {
    "rating": _check_rating,
    "request": _check_request,
    "requests_of": _check_requests_of,
    "task": _check_task,
    "tasks_in": _check_tasks_in,
    "reminder": _check_reminder,
    "handoff": _check_handoff,
    "erased": _check_erased,
    "official": _check_official,
    "outbox": _check_outbox,
}


# ---------------------------------------------------------------- many scenarios


def run_scenarios(stack: LiveStack, scenarios: list[Scenario], concurrency: int = 6,
                  on_result: Callable[[Result], None] | None = None) -> list[Result]:
    """Run scenarios, `concurrency` at a time, against one stack; results in the given order."""

    def one(s: Scenario) -> Result:
        result = Run(stack, s).run()
        if on_result:
            on_result(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="scenario") as pool:
        return list(pool.map(one, scenarios))


def summary(results: list[Result]) -> list[str]:
    """Pass rate per file and per category, then every failure with its transcript."""
    lines: list[str] = []

    def table(title: str, key: Callable[[Result], str]) -> None:
        lines.append(f"{title:<28} {'pass':>5} {'total':>6} {'rate':>6}  known failures")
        groups: dict[str, list[Result]] = {}
        for r in results:
            groups.setdefault(key(r), []).append(r)
        for name in sorted(groups):
            rs = groups[name]
            passed = sum(r.passed for r in rs)
            known = sum(1 for r in rs if r.outcome == "known_failure")
            lines.append(f"{name:<28} {passed:>5} {len(rs):>6} {passed / len(rs):>6.0%}  {known}")
        lines.append("")

    table("file", lambda r: r.scenario.file)
    table("category", lambda r: r.scenario.category)
    passed = sum(r.passed for r in results)
    lines.append(f"overall: {passed}/{len(results)} scenarios pass ({passed / max(1, len(results)):.0%}); "
                 f"unexpected failures: {sum(1 for r in results if r.outcome == 'failed')}, "
                 f"known failures: {sum(1 for r in results if r.outcome == 'known_failure')}, "
                 f"now passing although marked known_failure: {sum(1 for r in results if r.outcome == 'fixed')}")
    for r in results:
        if r.passed and r.outcome != "fixed":
            continue
        lines.append("")
        tag = {"failed": "FAILED", "known_failure": "KNOWN FAILURE", "fixed": "NOW PASSES (remove known_failure)"}[r.outcome]
        lines.append(f"=== {tag}: {r.scenario.id} [{r.scenario.file}, {r.scenario.category}] {r.scenario.title}")
        if r.scenario.known_failure:
            lines.append(f"    known_failure: {r.scenario.known_failure}")
        if r.failure:
            lines.append(f"    {r.failure}")
        lines += r.transcript
    return lines

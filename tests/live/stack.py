"""The whole system on 127.0.0.1, driven the way LINE and Telegram drive it.

`LiveStack` starts what `bot run` starts — the Rasa server with the trained model
(`models/current.tar.gz`), the action server, the gateway and the follow-up
scheduler, each in its own process group, built by `bot.commands.run.build_services`
so the harness cannot drift from the deployment path — against a temporary database,
with the gateway's LINE and Telegram API base URLs pointing at the fake platform APIs
of `tests/channels/fakes.py` running in this process. It speaks only as the platforms
do: signed LINE webhooks (`X-Line-Signature`) and Telegram updates carrying the
webhook secret token; never through the local chat identity (turned off here).
What a person would see is read back from the fakes as `Seen` messages.

Stopping: `stop()` (also at interpreter exit) ends every process group; a watchdog
process (`tests.live.watchdog`) ends them if this process dies without cleaning up.
"""

from __future__ import annotations

import atexit
import base64
import dataclasses
import hashlib
import hmac
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select

from common import clock
from tests.channels.fakes import FakeLineApi, FakeTelegramApi, ServerThread, free_port

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "current.tar.gz"
LINE_SECRET = "live-line-channel-secret"
LINE_TOKEN = "test-token"  # the fake LINE API's rich-menu endpoints expect this one
TG_TOKEN = "777000:LIVE-test-token"
TG_SECRET = "live-telegram-webhook-secret"
BOT_USERNAME = "thgov_bot"  # what the fake Telegram API's getMe answers
BOT_ID = 999


def fresh_postgres_database(base_url: str) -> tuple[str, Callable[[], None]]:
    """A new empty database on the server of `base_url` and a function that drops it (and Rasa's `<name>_rasa`)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from storage.db import make_engine, normalise_url

    name = f"bot_live_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_url(base_url)).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            for db in (name, f"{name}_rasa"):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


class StackError(RuntimeError):
    """The live stack could not start (the message carries the tail of the failing log)."""


@dataclass
class Seen:
    """One message as the person on the platform sees it."""

    channel: str  # line | telegram
    chat: str  # LINE user/group id, Telegram chat id
    seq: int  # arrival order within the chat
    text: str  # the visible text (LINE text / Flex alt text and bubble texts; Telegram text)
    cards: list[str] = field(default_factory=list)  # card titles (Flex bubbles; bold first line of a Telegram card)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (label, payload or callback data)
    location_request: bool = False
    message_id: int | None = None  # Telegram message id (to reply to it)
    kind: str = "reply"  # reply | push (LINE), message (Telegram)

    def line(self) -> str:
        extra = []
        if self.cards:
            extra.append("cards: " + " | ".join(self.cards))
        if self.buttons:
            extra.append("buttons: " + " | ".join(label for label, _ in self.buttons))
        if self.location_request:
            extra.append("asks for a location")
        suffix = f"  [{'; '.join(extra)}]" if extra else ""
        return self.text.replace("\n", " ⏎ ") + suffix


def _flex_texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["text"]] if node.get("type") == "text" and isinstance(node.get("text"), str) else []
        for key in ("contents", "body", "header", "footer", "hero"):
            if key in node:
                found += _flex_texts(node[key])
        return found
    if isinstance(node, list):
        return [t for item in node for t in _flex_texts(item)]
    return []


def _flex_buttons(node: Any) -> list[tuple[str, str]]:
    if isinstance(node, dict):
        found = []
        action = node.get("action") if node.get("type") == "button" else None
        if isinstance(action, dict):
            found.append((str(action.get("label", "")), str(action.get("data") or action.get("uri") or action.get("text") or "")))
        for key in ("contents", "body", "footer"):
            if key in node:
                found += _flex_buttons(node[key])
        return found
    if isinstance(node, list):
        return [b for item in node for b in _flex_buttons(item)]
    return []


def _bubbles(contents: dict[str, Any]) -> list[dict[str, Any]]:
    return contents.get("contents", []) if contents.get("type") == "carousel" else [contents]


def line_seen(message: dict[str, Any], chat: str, seq: int, kind: str) -> Seen:
    quick = ((message.get("quickReply") or {}).get("items")) or []
    buttons = [(str(i["action"].get("label", "")), str(i["action"].get("data", ""))) for i in quick
               if (i.get("action") or {}).get("type") == "postback"]
    location = any((i.get("action") or {}).get("type") == "location" for i in quick)
    if message.get("type") == "flex":
        bubbles = _bubbles(message.get("contents") or {})
        texts = [message.get("altText", "")]
        cards = []
        for bubble in bubbles:
            body = _flex_texts(bubble.get("body") or {})
            cards.append(body[0] if body else "")
            texts += body
            buttons += _flex_buttons(bubble.get("footer") or {})
        return Seen("line", chat, seq, "\n".join(texts), cards, buttons, location, kind=kind)
    return Seen("line", chat, seq, str(message.get("text", "")), [], buttons, location, kind=kind)


def telegram_seen(params: dict[str, Any], seq: int, message_id: int | None) -> Seen:
    import html
    import re

    raw = str(params.get("text", ""))
    cards = [html.unescape(m) for m in re.findall(r"<b>(.*?)</b>", raw)]
    text = html.unescape(re.sub(r"<[^>]+>", "", raw))
    markup = params.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    buttons = [(str(b.get("text", "")), str(b.get("callback_data") or b.get("url") or ""))
               for row in markup.get("inline_keyboard", []) for b in row]
    location = any(b.get("request_location") for row in markup.get("keyboard", []) for b in row if isinstance(b, dict))
    return Seen("telegram", str(params.get("chat_id")), seq, text, cards, buttons, location, message_id=message_id, kind="message")


def sign_line(body: bytes, secret: str = LINE_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class OrderedLineApi(FakeLineApi):
    """The fake LINE API, also numbering replies and pushes in the order they arrived."""

    def __init__(self) -> None:
        super().__init__()
        self._order = itertools.count(1)

    def _stamp(self) -> None:
        for body in itertools.chain(self.replies, self.pushes):
            if "_arrival" not in body:
                body["_arrival"] = next(self._order)

    async def reply(self, request: Any) -> Any:
        response = await super().reply(request)
        self._stamp()
        return response

    async def push(self, request: Any) -> Any:
        response = await super().push(request)
        self._stamp()
        return response


class LiveStack:
    """Rasa + action server + gateway + scheduler on loopback, with fake LINE and Telegram APIs."""

    def __init__(self, *, database_url: str | None = None, keep_dir: bool = False, startup_timeout: float = 420.0,
                 log: Callable[[str], None] | None = None, redis_url: str | None = None) -> None:
        self.requested_database_url = database_url
        self.keep_dir = keep_dir
        self.startup_timeout = startup_timeout
        self.log = log or (lambda _m: None)
        self.redis_url = redis_url
        self.dir: Path | None = None
        self.database_url = ""
        self.gateway_url = ""
        self.rasa_url = ""
        self.env: dict[str, str] = {}
        self.engine: Engine | None = None
        self.line = OrderedLineApi()
        self.telegram = FakeTelegramApi(TG_TOKEN)
        self._line_server: ServerThread | None = None
        self._telegram_server: ServerThread | None = None
        self._services: list[Any] = []
        self._pgid_file: Path | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._reply_chats: dict[str, str] = {}  # LINE reply token -> chat it answers
        self._ids = itertools.count(int(time.monotonic() * 1000) % 10**9 * 100)
        self._lock = threading.Lock()
        self.started_in: float | None = None

    # ---------------------------------------------------------------- life cycle
    def __enter__(self) -> LiveStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        from bot.commands.run import build_services
        from common.settings import load_settings
        from storage.db import make_engine, session_scope
        from storage.migrate import upgrade
        from storage.services import load_catalog

        if not MODEL.exists():
            raise StackError(f"no trained model at {MODEL}: `make model` trains it")
        began = time.monotonic()
        atexit.register(self.stop)
        self.dir = Path(tempfile.mkdtemp(prefix="live-stack-"))
        var = self.dir / "var"
        (var / "logs").mkdir(parents=True)
        self.database_url = self.requested_database_url or f"sqlite:///{var / 'bot.db'}"
        self._line_server = ServerThread(self.line.app).__enter__()
        self._telegram_server = ServerThread(self.telegram.app).__enter__()
        rasa_port, action_port, gateway_port = free_port(), free_port(), free_port()
        self.rasa_url = f"http://127.0.0.1:{rasa_port}"
        self.gateway_url = f"http://127.0.0.1:{gateway_port}"
        self.env = {
            "PYTHONPATH": str(ROOT),
            "BOT_ENV_FILE": str(self.dir / "no.env"),
            "BOT_VAR_DIR": str(var),
            "DATABASE_URL": self.database_url,
            "RASA_URL": self.rasa_url,
            "ACTION_SERVER_PORT": str(action_port),
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(gateway_port),
            "LINE_CHANNEL_SECRET": LINE_SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN,
            "LINE_API_BASE_URL": self._line_server.url,
            "LINE_DATA_API_BASE_URL": self._line_server.url,
            "TELEGRAM_BOT_TOKEN": TG_TOKEN,
            "TELEGRAM_MODE": "webhook",
            "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
            "TELEGRAM_API_BASE_URL": f"{self._telegram_server.url}/bot",
            "PUBLIC_BASE_URL": self.gateway_url,
            "LOCAL_CHAT_ENABLED": "false",
            "ADMIN_TOKEN": "",
            "RASA_TELEMETRY_ENABLED": "false",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        if self.redis_url:
            self.env["REDIS_URL"] = self.redis_url  # Rasa's lock store (bot.commands.run.rasa_endpoints_yaml)
        else:
            self.env["REDIS_URL"] = ""
        self.engine = make_engine(self.database_url)
        upgrade(self.engine)
        with session_scope(self.engine) as session:
            load_catalog(session)
        settings = dataclasses.replace(load_settings(), var_dir=var, database_url=self.database_url,
                                       action_server_port=action_port, gateway_port=gateway_port, gateway_host="127.0.0.1")
        saved = {k: os.environ.get(k) for k in ("REDIS_URL",)}
        os.environ["REDIS_URL"] = self.env["REDIS_URL"]
        try:
            self._services = build_services(settings, rasa_port)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        self._pgid_file = self.dir / "process-groups"
        self._pgid_file.write_text("")
        watch = [sys.executable, "-m", "tests.live.watchdog", str(os.getpid()), str(self._pgid_file)]
        if not self.keep_dir:
            watch.append(str(self.dir))
        self._watchdog = subprocess.Popen(watch,
                                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
        for service in self._services:
            self._start(service, var / "logs")
        self._wait_healthy(began)
        self.started_in = time.monotonic() - began
        self.log(f"live stack up in {self.started_in:.1f} s ({self.gateway_url}, {self._kind()})")

    def _kind(self) -> str:
        return "PostgreSQL" if self.database_url.startswith("postgres") else "SQLite"

    def _start(self, service: Any, log_dir: Path) -> None:
        env = {**os.environ, **self.env, **service.env}
        service.log_path = log_dir / f"{service.name}.log"
        with service.log_path.open("ab") as log:
            service.process = subprocess.Popen(service.command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                               start_new_session=True)
        with self._pgid_file.open("a") as f:  # type: ignore[union-attr]
            f.write(f"{service.process.pid}\n")

    def _wait_healthy(self, began: float) -> None:
        pending = list(self._services)
        while pending:
            for service in list(pending):
                if service.process.poll() is not None:
                    raise StackError(f"{service.name} exited during start-up:\n{self.tail(service.name)}")
                if service.health_url is None:
                    pending.remove(service)
                    continue
                try:
                    if httpx.get(service.health_url, headers=service.health_headers, timeout=2, trust_env=False).status_code == 200:
                        pending.remove(service)
                        self.log(f"  {service.name} up after {time.monotonic() - began:.1f} s")
                except httpx.HTTPError:
                    pass
            if time.monotonic() - began > self.startup_timeout:
                raise StackError("not healthy in time: " + ", ".join(s.name for s in pending)
                                 + "".join(f"\n--- {s.name}\n{self.tail(s.name)}" for s in pending))
            time.sleep(0.25)
        # Rasa answers /status before the model has finished loading on a slow machine: wait for it.
        deadline = began + self.startup_timeout
        while time.monotonic() < deadline:
            try:
                rasa = next(s for s in self._services if s.name == "rasa")
                status = httpx.get(f"{self.rasa_url}/status", headers=rasa.health_headers, timeout=5, trust_env=False).json()
                if status.get("model_file"):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.25)
        raise StackError(f"Rasa did not load the model in time\n{self.tail('rasa')}")

    def tail(self, name: str, lines: int = 30) -> str:
        for service in self._services:
            if service.name == name and service.log_path and service.log_path.exists():
                return "\n".join(service.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        running = [s for s in self._services if s.process is not None and s.process.poll() is None]
        for service in running:
            try:
                os.killpg(service.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 15
        for service in running:
            try:
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(service.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                service.process.wait()
        self._services = []
        if self._pgid_file is not None:
            self._pgid_file.unlink(missing_ok=True)  # the watchdog sees it gone and exits
            self._pgid_file = None
        if self._watchdog is not None:
            try:
                self._watchdog.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
                self._watchdog.wait()
            self._watchdog = None
        for server in (self._line_server, self._telegram_server):
            if server is not None:
                server.__exit__(None, None, None)
        self._line_server = self._telegram_server = None
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None
        if self.dir is not None and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        atexit.unregister(self.stop)

    # ---------------------------------------------------------------- speaking as the platforms
    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def line_event(self, source: dict[str, Any], event: dict[str, Any]) -> str | None:
        """POST one signed LINE webhook carrying `event` from `source`: its webhookEventId, None when the gateway left it."""
        event_id = uuid.uuid4().hex.upper()[:26]
        token = uuid.uuid4().hex
        chat = source.get("groupId") or source.get("roomId") or source["userId"]
        with self._lock:
            self._reply_chats[token] = chat
        full = {"webhookEventId": event_id, "deliveryContext": {"isRedelivery": False}, "timestamp": int(clock.now().timestamp() * 1000),
                "source": source, "replyToken": token, "mode": "active", **event}
        body = json.dumps({"destination": "Ulivebot", "events": [full]}, ensure_ascii=False).encode()
        response = httpx.post(f"{self.gateway_url}/webhooks/line", content=body,
                              headers={"x-line-signature": sign_line(body), "content-type": "application/json"}, timeout=30)
        if response.status_code != 200:
            raise AssertionError(f"the gateway refused a signed LINE webhook: {response.status_code} {response.text}")
        return event_id if response.json().get("stored") else None

    def telegram_update(self, update: dict[str, Any]) -> str | None:
        """POST one Telegram update with the webhook secret token: its update_id, None when the gateway left it."""
        update_id = self.next_id()
        response = httpx.post(f"{self.gateway_url}/webhooks/telegram", json={"update_id": update_id, **update},
                              headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}, timeout=30)
        if response.status_code != 200:
            raise AssertionError(f"the gateway refused a Telegram update: {response.status_code} {response.text}")
        return str(update_id) if response.json().get("stored") else None

    # ---------------------------------------------------------------- what the platforms received
    def seen(self, channel: str, chat: str) -> list[Seen]:
        """Every message the bot sent to one LINE user/group or Telegram chat, in order."""
        out: list[Seen] = []
        if channel == "line":
            with self._lock:
                tokens = dict(self._reply_chats)
            # replies and pushes interleave; LINE keeps arrival order, the fake keeps two lists, so merge by arrival
            for kind, body in self._line_arrivals():
                target = tokens.get(body.get("replyToken", "")) if kind == "reply" else body.get("to")
                if target != chat:
                    continue
                for message in body.get("messages", []):
                    out.append(line_seen(message, chat, len(out), kind))
        else:
            for index, (name, params) in enumerate(list(self.telegram.calls)):
                if name == "sendMessage" and str(params.get("chat_id")) == chat:
                    out.append(telegram_seen(params, len(out), message_id=index + 1))
        return out

    def _line_arrivals(self) -> list[tuple[str, dict[str, Any]]]:
        replies = [("reply", b) for b in list(self.line.replies)]
        pushes = [("push", b) for b in list(self.line.pushes)]
        return sorted(replies + pushes, key=lambda item: item[1].get("_arrival", 0))

    def event_state(self, channel: str, external_id: str) -> str | None:
        from storage.models.channels import InboundEvent

        with self.engine.connect() as conn:  # type: ignore[union-attr]
            return conn.scalar(select(InboundEvent.state).where(InboundEvent.channel == channel,
                                                                 InboundEvent.external_id == external_id))

    def outbox_pending(self) -> int:
        from storage.models.outbox import Outbox

        with self.engine.connect() as conn:  # type: ignore[union-attr]
            rows = conn.execute(select(Outbox.state)).scalars().all()
        return sum(1 for r in rows if r in ("pending", "sending"))

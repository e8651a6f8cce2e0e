"""Fake servers on 127.0.0.1 for channel tests: Rasa's gateway channel and the LINE/Telegram APIs.

Each runs uvicorn in a thread on a free port and stops when the test ends.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def fake_parse(text: str) -> dict[str, Any]:
    """A stand-in for NLU: greet, deny, button payloads, an agency entity; anything else falls back."""
    stripped = text.strip()
    if stripped.startswith("/"):
        intent, confidence = stripped[1:].split("{")[0], 1.0
    elif "สวัสดี" in stripped:
        intent, confidence = "greet", 0.97
    elif stripped in ("ไม่", "ไม่ใช่", "ไม่ใช่ครับ", "ไม่ใช่ค่ะ"):
        intent, confidence = "deny", 0.92
    else:
        intent, confidence = "nlu_fallback", 0.31
    entities = []
    if "กทม." in stripped:
        start = stripped.index("กทม.")
        entities.append({"entity": "agency", "start": start, "end": start + 4, "value": "กรุงเทพมหานคร", "extractor": "DIETClassifier"})
    return {"intent": intent, "confidence": confidence, "entities": entities,
            "ranking": [{"name": intent, "confidence": confidence}, {"name": "help", "confidence": round(1 - confidence, 2)}]}


class FakeRasa:
    """Echoes like the assistant would: 'สวัสดี' gets a greeting with buttons; can be switched off.

    Asked with `include_nlu` (as the gateway does) it answers like engine.channel.GatewayInput,
    `{"messages": [...], "nlu": fake_parse(text)}`; `nlu_shape = False` answers the plain list
    of an older channel. Like GatewayInput, a `resumed` message whose `message_id` it has
    handled is answered as before and not handled again.
    """

    def __init__(self) -> None:
        self.up = True
        self.delay = 0.0  # seconds before answering (a slow Rasa)
        self.nlu_shape = True
        self.received: list[dict[str, Any]] = []  # messages handled (a resumed one answered from memory is not)
        self.requests: list[dict[str, Any]] = []  # every request as it came
        self.handled: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (sender, message_id) -> answer, as Rasa's tracker keeps it
        self.app = Starlette(routes=[Route("/webhooks/gateway/webhook", self.webhook, methods=["POST"]),
                                     Route("/webhooks/rest/webhook", self.webhook, methods=["POST"])])

    async def webhook(self, request: Request) -> JSONResponse:
        import asyncio

        if not self.up:
            return JSONResponse({"error": "down"}, status_code=503)
        body = await request.json()
        self.requests.append(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        key = (body.get("sender"), body.get("message_id"))
        if body.get("resumed") is True and key in self.handled:
            return JSONResponse(self.shape(body, self.handled[key]))  # like GatewayInput: answered from the tracker
        self.received.append(body)
        answer = self.answer(body)
        if body.get("message_id"):
            self.handled[key] = answer
        return JSONResponse(self.shape(body, answer))

    def shape(self, body: dict[str, Any], messages: list[dict[str, Any]]) -> Any:
        if body.get("include_nlu") is True and self.nlu_shape:
            return {"messages": messages, "nlu": fake_parse(body["message"])}
        return messages

    def answer(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        text = body["message"]
        if "หลายข้อความ" in text:
            return [{"recipient_id": body["sender"], "text": f"ข้อความที่ {i + 1}"} for i in range(7)]
        replies: list[dict[str, Any]] = [{"recipient_id": body["sender"], "text": f"ตอบ: {text}",
                                          "buttons": [{"title": "เมนู", "payload": "/help"}]}]
        if "ขอที่อยู่" in text:
            replies.append({"recipient_id": body["sender"], "custom": {"type": "location_request", "text": "กรุณาส่งตำแหน่งที่เกิดเหตุครับ"}})
        if "การ์ด" in text:
            replies.append({"recipient_id": body["sender"], "custom": {"type": "cards", "alt_text": "ผลค้นหา", "cards": [
                {"title": "พ.ร.บ.คุ้มครองข้อมูลส่วนบุคคล", "subtitle": "2562", "lines": ["สรุป"], "fields": [["หน่วยงาน", "สคส."]],
                 "link": {"label": "อ่านฉบับเต็ม", "url": "https://www.krisdika.go.th/"}, "buttons": [{"title": "ดูมาตรา", "payload": "/search_law"}]}]}})
        return replies


class FakeLineApi:
    """The parts of LINE's Messaging API the gateway calls; push honours X-Line-Retry-Key."""

    def __init__(self) -> None:
        self.replies: list[dict[str, Any]] = []
        self.pushes: list[dict[str, Any]] = []
        self.loading: list[dict[str, Any]] = []
        self.retry_keys: set[str] = set()
        self.used_tokens: set[str] = set()
        self.push_failures: list[tuple[int, dict[str, str]]] = []  # (status, headers) answered to the next pushes
        self.reply_failures: list[int] = []
        # a slow LINE: replies with a token starting "slow" and pushes to these chats wait `slow_delay`
        # seconds (or until `release()`) before answering
        self.slow_to: set[str] = set()
        self.slow_delay = 30.0
        self.slow_waiting = 0  # requests waiting right now
        self._released = False
        self.push_attempts: list[tuple[Any, str | None, int]] = []  # (injected clock time, retry key, status) of every push
        self.rich_menus: list[dict[str, Any]] = []
        self.rich_menu_images: list[tuple[str, str, int]] = []
        self.default_rich_menu: str | None = None
        self.app = Starlette(routes=[
            Route("/v2/bot/message/reply", self.reply, methods=["POST"]),
            Route("/v2/bot/message/push", self.push, methods=["POST"]),
            Route("/v2/bot/chat/loading/start", self.load, methods=["POST"]),
            Route("/v2/bot/richmenu", self.rich_menu, methods=["POST"]),
            Route("/v2/bot/richmenu/{menu_id}/content", self.rich_menu_content, methods=["POST"]),
            Route("/v2/bot/user/all/richmenu/{menu_id}", self.rich_menu_default, methods=["POST"]),
        ])

    def all_texts(self) -> list[str]:
        return [m.get("text", "") for r in self.replies + self.pushes for m in r["messages"]]

    async def rich_menu(self, request: Request) -> JSONResponse:
        if request.headers.get("authorization", "") != "Bearer test-token":
            return JSONResponse({"message": "Authentication failed"}, status_code=401)
        self.rich_menus.append(await request.json())
        return JSONResponse({"richMenuId": f"richmenu-{len(self.rich_menus)}"})

    async def rich_menu_content(self, request: Request) -> JSONResponse:
        body = await request.body()
        self.rich_menu_images.append((request.path_params["menu_id"], request.headers.get("content-type", ""), len(body)))
        return JSONResponse({})

    async def rich_menu_default(self, request: Request) -> JSONResponse:
        self.default_rich_menu = request.path_params["menu_id"]
        return JSONResponse({})

    def release(self) -> None:
        """Let every slow request answer now."""
        self._released = True

    async def _stall(self) -> None:
        import asyncio

        self.slow_waiting += 1
        try:
            waited = 0.0
            while not self._released and waited < self.slow_delay:
                await asyncio.sleep(0.05)
                waited += 0.05
        finally:
            self.slow_waiting -= 1

    async def reply(self, request: Request) -> JSONResponse:
        if self.reply_failures:
            return JSONResponse({"message": "failure"}, status_code=self.reply_failures.pop(0))
        body = await request.json()
        if str(body.get("replyToken", "")).startswith("slow"):
            await self._stall()
        if body["replyToken"] in self.used_tokens or body["replyToken"].startswith("expired"):
            return JSONResponse({"message": "Invalid reply token"}, status_code=400)
        self.used_tokens.add(body["replyToken"])
        self.replies.append(body)
        return JSONResponse({"sentMessages": [{"id": str(i), "quoteToken": "q"} for i, _ in enumerate(body["messages"])]})

    async def push(self, request: Request) -> JSONResponse:
        from common import clock

        key = request.headers.get("x-line-retry-key")
        body = await request.json()
        if body.get("to") in self.slow_to:
            await self._stall()
        if self.push_failures:
            status, headers = self.push_failures.pop(0)
            self.push_attempts.append((clock.now(), key, status))
            return JSONResponse({"message": "failure"}, status_code=status, headers=headers)
        if key and key in self.retry_keys:
            self.push_attempts.append((clock.now(), key, 409))
            return JSONResponse({"message": "The retry key is already accepted"}, status_code=409)
        self.push_attempts.append((clock.now(), key, 200))
        if key:
            self.retry_keys.add(key)
        self.pushes.append(body)
        return JSONResponse({"sentMessages": [{"id": "1", "quoteToken": "q"}]})

    async def load(self, request: Request) -> JSONResponse:
        self.loading.append(await request.json())
        return JSONResponse({})


class FakeTelegramApi:
    """The Bot API methods the gateway uses, at /bot<token>/<method>; records calls."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []
        self.failures: dict[str, list[tuple[int, dict[str, Any]]]] = {}  # method -> (HTTP status, body) answered next
        self.hold_call: dict[str, int] = {}  # method -> number of the call (1-based) that waits until release()
        self.fail_call: dict[str, dict[int, tuple[int, dict[str, Any]]]] = {}  # method -> {call number: (HTTP status, body)}
        self.delivered: list[dict[str, Any]] = []  # sendMessage calls that Telegram accepted
        self.holding = 0
        self._released = False
        self.app = Starlette(routes=[Route("/bot{token}/{method}", self.method, methods=["POST", "GET"])])

    def release(self) -> None:
        self._released = True

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    async def method(self, request: Request) -> JSONResponse:
        import json as _json

        if request.path_params["token"] != self.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
        name = request.path_params["method"]
        if request.headers.get("content-type", "").startswith("application/json"):
            params = await request.json()
        else:
            from urllib.parse import parse_qsl

            params = {}
            for key, value in parse_qsl((await request.body()).decode()):
                try:
                    params[key] = _json.loads(value)
                except (TypeError, ValueError):
                    params[key] = value
        self.calls.append((name, params))
        number = len(self.sent(name))
        if number in self.fail_call.get(name, {}):
            status, body = self.fail_call[name][number]
            return JSONResponse(body, status_code=status)
        if name == "sendMessage":
            self.delivered.append(params)
        if self.hold_call.get(name) == number:  # this call is delivered, but its answer comes late
            import asyncio

            self.holding += 1
            for _ in range(600):
                if self._released:
                    break
                await asyncio.sleep(0.05)
            self.holding -= 1
        if self.failures.get(name):
            status, body = self.failures[name].pop(0)
            return JSONResponse(body, status_code=status)
        if name == "getMe":
            return JSONResponse({"ok": True, "result": {"id": 999, "is_bot": True, "first_name": "ผู้ช่วย", "username": "thgov_bot"}})
        if name == "sendMessage":
            return JSONResponse({"ok": True, "result": {"message_id": len(self.calls), "date": 1700000000,
                                                        "chat": {"id": int(params["chat_id"]), "type": "private"}, "text": params.get("text", "")}})
        if name == "getUpdates":
            import asyncio

            offset = int(params.get("offset") or 0)
            updates = [u for u in self.updates if u["update_id"] >= offset]  # unconfirmed updates come again, as on Telegram
            if not updates:
                await asyncio.sleep(0.1)  # a long poll that found nothing
            return JSONResponse({"ok": True, "result": updates})
        return JSONResponse({"ok": True, "result": True})

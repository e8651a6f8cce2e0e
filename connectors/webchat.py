"""Local web chat and the chat API behind it (also used by `bot shell`).

`POST /api/chat/messages` stores the message as an inbound event — the same path
LINE and Telegram messages take — waits until the worker has processed it and
returns the replies. `GET /api/chat/messages?after=..` returns later (proactive)
messages.

Identity comes from the server, never from the body: a web visitor gets a random id in
a signed, HttpOnly, SameSite=Strict cookie on their first message, and reads only that
conversation. Speaking as another channel, user or chat (what `bot shell` does to try
LINE and Telegram flows without accounts) needs the local developer token
(`X-Local-Dev-Token`, derived from the installation secret under var/, which `bot shell`
reads). Requests must be JSON, from this page's own origin, to a host name we serve
(DNS rebinding), or they are refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import re
import secrets
import uuid
from urllib.parse import urlsplit
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from common import internal_auth
from common.ids import sender_id
from common.numbers import BIGINT_DIGITS, parse_number
from connectors.body import BodyTooLarge, load_json, read_body
from connectors.dbcall import db
from connectors.gateway_state import GatewayState
from connectors.text import clean_text
from storage.inbound import is_closed, store_new_event, web_messages
from usecases.admin_commands import is_admin_command

STATIC = Path(__file__).resolve().parent / "static"
_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
WAIT_SECONDS = 25.0
COOKIE = "webchat"
DEV_HEADER = "X-Local-Dev-Token"
_SESSION_PURPOSE = "web-chat-session"


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def dev_token(var_dir: Path) -> str:
    """The local developer token (`bot shell` sends it)."""
    return internal_auth.service_key(var_dir, internal_auth.LOCAL_CHAT)


def _session_key(state: GatewayState) -> bytes:
    return internal_auth.service_key(state.settings.var_dir, _SESSION_PURPOSE).encode()


def _sign(state: GatewayState, visitor: str) -> str:
    return hmac.new(_session_key(state), visitor.encode(), hashlib.sha256).hexdigest()[:40]


def _session(request: Request, state: GatewayState) -> str | None:
    """The visitor id in a valid session cookie, else None."""
    raw = request.cookies.get(COOKIE, "")
    visitor, _, signature = raw.partition(".")
    if not visitor or not _ID.match(visitor) or not hmac.compare_digest(signature.encode(), _sign(state, visitor).encode()):
        return None
    return visitor


def _set_session(response: Response, request: Request, state: GatewayState, visitor: str) -> None:
    response.set_cookie(COOKIE, f"{visitor}.{_sign(state, visitor)}", max_age=30 * 24 * 3600, path="/api/chat",
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")


_PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip", "x-forwarded-host")


def _is_developer(request: Request, state: GatewayState) -> bool:
    """The local developer token, from this host itself (loopback, not through a proxy)."""
    given = request.headers.get(DEV_HEADER)
    if given is None or not internal_auth.token_matches(given, dev_token(state.settings.var_dir)):
        return False
    client = request.client.host if request.client else ""
    return client in ("127.0.0.1", "::1", "::ffff:127.0.0.1") and not any(h in request.headers for h in _PROXY_HEADERS)


def _allowed_hosts(state: GatewayState) -> set[str]:
    hosts = {"127.0.0.1", "localhost", "::1", state.settings.gateway_host}
    if state.settings.public_base_url:
        hosts.add(urlsplit(state.settings.public_base_url).hostname or "")
    return {h for h in hosts if h}


def _refused_origin(request: Request, state: GatewayState) -> JSONResponse | None:
    """Host and Origin checks (DNS rebinding, cross-origin pages)."""
    host = urlsplit(f"//{request.headers.get('host', '')}").hostname or ""
    if host not in _allowed_hosts(state):
        return _bad("unknown host", 403)
    origin = request.headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin)
        if parts.hostname not in _allowed_hosts(state) or parts.netloc != request.headers.get("host", ""):
            return _bad("cross-origin requests are refused", 403)
    return None


async def page(request: Request) -> Response:
    return FileResponse(STATIC / "chat.html", media_type="text/html; charset=utf-8")


async def post_message(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    if not state.settings.local_chat_enabled:
        return _bad("local chat is disabled", 404)
    try:
        body = await read_body(request, state.settings.max_body_bytes)
    except BodyTooLarge:
        return _bad("request too large", 413)
    if state.worker.overloaded:
        return JSONResponse({"error": "busy"}, status_code=503, headers={"Retry-After": "5"})
    refused = _refused_origin(request, state)
    if refused is not None:
        return refused
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return _bad("body must be JSON (Content-Type: application/json)", 415)
    try:
        data = load_json(body or b"{}")
    except ValueError:
        return _bad("body must be JSON")
    if not isinstance(data, dict):
        return _bad("body must be a JSON object")
    wrong = next((k for k in _STRING_FIELDS if data.get(k) is not None and not isinstance(data[k], str)), None)
    if wrong is not None:
        return _bad(f"{wrong} must be a string")
    developer = _is_developer(request, state)
    new_visitor = None
    if developer:
        chat_id = str(data.get("chat_id") or "")
        user_id = str(data.get("user_id") or chat_id)
        if not _ID.match(chat_id) or not _ID.match(user_id):
            return _bad("chat_id and user_id: 1-64 letters, digits or _.:@-")
        channel = str(data.get("channel") or "web")
        chat_type = str(data.get("chat_type") or "private")
        if channel not in ("web", "line", "telegram") or chat_type not in ("private", "group", "supergroup", "room"):
            return _bad("unknown channel or chat_type")
    else:
        if str(data.get("channel") or "web") != "web" or data.get("user_id") or data.get("chat_id") \
                or str(data.get("chat_type") or "private") != "private":
            return _bad("choosing a channel, chat or user needs the local developer token", 403)
        visitor = _session(request, state)
        if visitor is None:
            visitor = new_visitor = "w" + secrets.token_hex(12)
        chat_id = user_id = visitor
        channel, chat_type = "web", "private"
    text, truncated = clean_text(str(data.get("text") or ""), state.settings.max_message_chars)
    metadata: dict[str, Any] = {
        "channel": channel, "user_id": user_id, "chat_id": chat_id, "chat_type": chat_type,
        "display_name": clean_text(str(data.get("display_name") or ""), 80)[0], "via": "local_chat",
    }
    if truncated:
        metadata["truncated"] = True
    location = data.get("location")
    if isinstance(location, dict) and {"latitude", "longitude"} <= location.keys():
        latitude, longitude = _coordinate(location["latitude"], 90), _coordinate(location["longitude"], 180)
        if latitude is None or longitude is None:
            return _bad("location needs numeric latitude and longitude")
        metadata["location"] = {"latitude": latitude, "longitude": longitude,
                                "address": clean_text(_plain(location.get("address")), 300)[0],
                                "title": clean_text(_plain(location.get("title")), 100)[0]}
        text = text or metadata["location"]["address"] or "ตำแหน่งที่ตั้ง"
    if not text:
        return _bad("text is empty")
    message_id = str(data.get("message_id") or uuid.uuid4().hex)[:64]
    kind = "admin_command" if is_admin_command(text) else "message"
    event = await db(state.engine, store_new_event, state.engine, lane="ingest", quick=True, channel="local", external_id=message_id,
                     conversation=sender_id(channel, chat_id, chat_type, user_id), text=text, metadata=metadata, kind=kind)
    if event is None:
        return _with_session(JSONResponse({"duplicate": True, "replies": []}), request, state, new_visitor)
    event_id = event.id
    waiter = state.worker.waiter(event_id)
    state.worker.stored([event])
    try:
        # the worker may have finished before the waiter existed: ask the store too
        await _until_closed(state, waiter, event_id)
    except TimeoutError:
        pending = JSONResponse({"event_id": event_id, "pending": True, "replies": [], "note": "กำลังดำเนินการ คำตอบจะตามมาในไม่ช้าครับ"}, status_code=202)
        return _with_session(pending, request, state, new_visitor)
    replies = await db(state.engine, web_messages, state.engine, chat_id, 0, event_id)
    answer = JSONResponse({"event_id": event_id, "replies": [{"id": i, **p} for i, p in replies],
                           "last_id": max((i for i, _ in replies), default=0), "notes": []})
    return _with_session(answer, request, state, new_visitor)


async def _until_closed(state: GatewayState, waiter: asyncio.Event, event_id: int) -> None:
    """Wait until the event is processed (TimeoutError after WAIT_SECONDS). With several gateways
    another one may process it (its conversation was claimed there): the store is asked too."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while not await db(state.engine, is_closed, state.engine, event_id, quick=True):
        left = deadline - loop.time()
        if left <= 0:
            raise TimeoutError
        try:
            await asyncio.wait_for(waiter.wait(), timeout=min(left, 0.5) if state.worker.claims else left)
            return
        except TimeoutError:
            if not state.worker.claims:
                raise


_STRING_FIELDS = ("text", "display_name", "message_id", "chat_id", "user_id", "channel", "chat_type")


def _coordinate(value: object, limit: float) -> float | None:
    """A finite number within ±limit (JSON has no NaN or infinity, and the database must not get one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and -limit <= number <= limit else None


def _plain(value: object) -> str:
    return value if isinstance(value, str) else ""


def _with_session(response: Response, request: Request, state: GatewayState, new_visitor: str | None) -> Response:
    if new_visitor is not None:
        _set_session(response, request, state, new_visitor)
    return response


async def get_messages(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    if not state.settings.local_chat_enabled:
        return _bad("local chat is disabled", 404)
    refused = _refused_origin(request, state)
    if refused is not None:
        return refused
    raw_after = request.query_params.get("after", "0")
    after = parse_number(raw_after, max_digits=BIGINT_DIGITS, thai=False)
    if after is None:
        return _bad("after must be a message number")
    if _is_developer(request, state):
        chat_id = request.query_params.get("chat_id", "")
        if not _ID.match(chat_id):
            return _bad("chat_id required")
    else:
        visitor = _session(request, state)
        if visitor is None:
            return JSONResponse({"messages": []})  # no conversation yet: nothing to read
        chat_id = visitor
    rows = await db(state.engine, web_messages, state.engine, chat_id, after)
    return JSONResponse({"messages": [{"id": i, **p} for i, p in rows]})

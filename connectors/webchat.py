"""Local web chat and the chat API behind it (also used by `bot shell`).

`POST /api/chat/messages` stores the message as an inbound event — the same path
LINE and Telegram messages take — waits until the worker has processed it and
returns the replies. `GET /api/chat/messages?chat_id=..&after=..` returns later
(proactive) messages. Only loopback clients may speak as another channel (to try
group and multi-user flows without accounts); others are always `web`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import uuid
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from common.ids import sender_id
from connectors.body import BodyTooLarge, read_body
from connectors.dbcall import db
from connectors.gateway_state import GatewayState
from connectors.text import clean_text
from storage.inbound import is_closed, store_new_event, web_messages
from usecases.admin_commands import is_admin_command

STATIC = Path(__file__).resolve().parent / "static"
_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
WAIT_SECONDS = 25.0


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


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
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return _bad("body must be JSON")
    if not isinstance(data, dict):
        return _bad("body must be a JSON object")
    chat_id = str(data.get("chat_id") or "")
    user_id = str(data.get("user_id") or chat_id)
    if not _ID.match(chat_id) or not _ID.match(user_id):
        return _bad("chat_id and user_id: 1-64 letters, digits or _.:@-")
    channel = str(data.get("channel") or "web")
    chat_type = str(data.get("chat_type") or "private")
    client_host = request.client.host if request.client else ""
    if channel != "web" and not _is_loopback(client_host):
        return _bad("only local clients may speak as another channel", 403)
    if channel not in ("web", "line", "telegram") or chat_type not in ("private", "group", "supergroup", "room"):
        return _bad("unknown channel or chat_type")
    text, truncated = clean_text(str(data.get("text") or ""), state.settings.max_message_chars)
    metadata: dict[str, Any] = {
        "channel": channel, "user_id": user_id, "chat_id": chat_id, "chat_type": chat_type,
        "display_name": str(data.get("display_name") or "")[:80], "via": "local_chat",
    }
    if truncated:
        metadata["truncated"] = True
    location = data.get("location")
    if isinstance(location, dict) and {"latitude", "longitude"} <= location.keys():
        try:
            metadata["location"] = {"latitude": float(location["latitude"]), "longitude": float(location["longitude"]),
                                    "address": str(location.get("address") or "")[:300], "title": str(location.get("title") or "")[:100]}
        except (TypeError, ValueError):
            return _bad("location needs numeric latitude and longitude")
        text = text or metadata["location"]["address"] or "ตำแหน่งที่ตั้ง"
    if not text:
        return _bad("text is empty")
    message_id = str(data.get("message_id") or uuid.uuid4().hex)[:64]
    kind = "admin_command" if is_admin_command(text) else "message"
    event = await db(state.engine, store_new_event, state.engine, lane="ingest", quick=True, channel="local", external_id=message_id,
                     conversation=sender_id(channel, chat_id, chat_type), text=text, metadata=metadata, kind=kind)
    if event is None:
        return JSONResponse({"duplicate": True, "replies": []})
    event_id = event.id
    waiter = state.worker.waiter(event_id)
    state.worker.stored([event])
    try:
        # the worker may have finished before the waiter existed: ask the store too
        if not await db(state.engine, is_closed, state.engine, event_id, quick=True):
            await asyncio.wait_for(waiter.wait(), timeout=WAIT_SECONDS)
    except TimeoutError:
        return JSONResponse({"event_id": event_id, "pending": True, "replies": [], "note": "กำลังดำเนินการ คำตอบจะตามมาในไม่ช้าครับ"}, status_code=202)
    replies = await db(state.engine, web_messages, state.engine, chat_id, 0, event_id)
    return JSONResponse({"event_id": event_id, "replies": [{"id": i, **p} for i, p in replies], "last_id": max((i for i, _ in replies), default=0), "notes": []})


async def get_messages(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    if not state.settings.local_chat_enabled:
        return _bad("local chat is disabled", 404)
    chat_id = request.query_params.get("chat_id", "")
    if not _ID.match(chat_id):
        return _bad("chat_id required")
    try:
        after = int(request.query_params.get("after", "0"))
    except ValueError:
        return _bad("after must be a number")
    rows = await db(state.engine, web_messages, state.engine, chat_id, after)
    return JSONResponse({"messages": [{"id": i, **p} for i, p in rows]})

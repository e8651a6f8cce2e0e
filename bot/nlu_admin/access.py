"""Who may use the /admin page and the helpers its routes share (bot.nlu_admin.page, page_models).

Each admin has their own token (`bot admin add NAME`, storage.admin_accounts); the legacy
shared ADMIN_TOKEN signs in as "shared-token". See bot/nlu_admin/page.py for the rules.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import logging
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.nlu_admin.workspace import Workspace
from common.numbers import BIGINT_DIGITS, parse_number
from connectors.body import load_json
from connectors.dbcall import db
from connectors.gateway_state import GatewayState
from storage.admin_accounts import any_admin, authenticate
from storage.db import session_scope

logger = logging.getLogger("bot.nlu_admin.page")

MAX_BODY = 64_000
FAILED_AUTH_DELAY = 0.5  # seconds: slows down guessing


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def token_matches(given: str, expected: str) -> bool:
    """Constant time, whatever the lengths."""
    return bool(expected) and hmac.compare_digest(_digest(given), _digest(expected))


SHARED_TOKEN_ADMIN = "shared-token"  # who the old ADMIN_TOKEN signs in as


async def _page_on(request: Request) -> bool:
    state: GatewayState = request.app.state.gateway
    if state.settings.admin_token:
        return True

    def exists() -> bool:
        with session_scope(state.engine) as s:
            return any_admin(s)

    return await db(state.engine, exists)


async def _refuse(request: Request) -> Response | None:
    """None when the request may proceed (the admin's name in request.state.admin); else 404 (page off),
    401 (no token) or 403 (wrong or revoked token)."""
    state: GatewayState = request.app.state.gateway
    if not await _page_on(request):
        return Response("Not Found", status_code=404)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        return JSONResponse({"error": "กรุณาใส่รหัสผู้ดูแล"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    if token_matches(given, state.settings.admin_token):
        request.state.admin = SHARED_TOKEN_ADMIN
        return None

    def lookup() -> str | None:
        with session_scope(state.engine) as s:
            admin = authenticate(s, given)
            return admin.name if admin else None

    name = await db(state.engine, lookup) if len(given) <= 200 else None
    if name is None:
        logger.warning("admin page: wrong or revoked token")
        await asyncio.sleep(FAILED_AUTH_DELAY)
        return JSONResponse({"error": "รหัสผู้ดูแลไม่ถูกต้อง"}, status_code=403)
    request.state.admin = name
    return None


def who(request: Request) -> str:
    return str(getattr(request.state, "admin", "unknown"))


def workspace(request: Request) -> Workspace:
    """Where this page reads and writes (bot.nlu_admin.workspace; tests set app.state.nlu_data_dir)."""
    ws = Workspace.from_env()
    override = getattr(request.app.state, "nlu_data_dir", None)
    return dataclasses.replace(ws, data=Path(override)) if override else ws


def data_dir(request: Request) -> Path:
    return workspace(request).data


async def _json_body(request: Request) -> dict[str, Any] | None:
    body = await request.body()
    if len(body) > MAX_BODY:
        return None
    try:
        data = load_json(body or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _ids(data: dict[str, Any]) -> list[int]:
    raw = data.get("ids")
    if not isinstance(raw, list):
        return []
    numbers = (parse_number(i, max_digits=BIGINT_DIGITS, thai=False) for i in raw[:10_000])
    return [n for n in numbers if n is not None]


def _bad(message: str, status: int = 400, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)

"""The admins' page in the gateway: review captured messages and annotate them into `nlu_data/`.

`GET /admin` serves a plain HTML page (bot/nlu_admin/static/admin.html); its script
calls the JSON API below with `Authorization: Bearer <token>` (the admin types the
token once; the page keeps it in the tab's sessionStorage). Each admin has their own
token (`bot admin add NAME`, stored as a SHA-256 digest; issue #25); the old shared
ADMIN_TOKEN still signs in, as the admin "shared-token". While there is no admin and
ADMIN_TOKEN is empty everything here answers 404: the page is never open by default.
A missing token is 401, a wrong or revoked one 403; tokens are compared in constant
time and never logged. Every change of nlu_data/ and every deploy records who did it.
Everything an admin reads is in Thai.

API: GET /admin/api/meta, GET /admin/api/queue, GET /admin/api/recent,
POST /admin/api/annotate, /admin/api/discard, /admin/api/flag; GET /admin/api/obstacles (obstacle reports, issue #24);
issue #25: GET /admin/api/whoami, GET|POST /admin/api/jobs, GET /admin/api/jobs/{id}, GET /admin/api/models,
GET /admin/api/chart/{name}.svg, POST /admin/api/deploy, /admin/api/rollback, GET /admin/api/history,
GET /admin/api/changes, GET /admin/api/changes.patch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from bot.nlu_admin.access import _bad, _json_body, _page_on, _refuse, _ids, data_dir, token_matches, who, workspace  # noqa: F401
from bot.nlu_admin.review import REASONS_TH, annotate as write, discard as drop, group_view
from bot.nlu_admin.training_data import DataError, ExampleConflict, NEW_INTENT_GROUP, domain_names, intent_files
from common.thai_datetime import format_thai
from connectors.dbcall import db
from connectors.gateway_state import GatewayState
from storage.db import session_scope
from storage.nlu_capture import purge_expired
from storage.obstacles import ranking
from storage.nlu_review import build_queue, counts, flag as mark, occurrence_counts, recent as latest, review_candidates

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"

ERRORS_TH = {
    "conflict": "ข้อความนี้เป็นตัวอย่างของเจตนาอื่นอยู่แล้ว",
    "intent_name": "ชื่อเจตนาต้องเป็นอักษรภาษาอังกฤษตัวเล็ก ตัวเลข หรือ _ (เช่น ask_parking)",
    "group_name": "ชื่อไฟล์ต้องเป็นอักษรภาษาอังกฤษตัวเล็ก ตัวเลข หรือ _",
    "empty": "กรุณาใส่ข้อความตัวอย่าง",
    "multiline": "ตัวอย่างต้องเป็นข้อความบรรทัดเดียว",
    "too_long": "ตัวอย่างยาวเกินไป",
    "markup": "รูปแบบการทำเครื่องหมายเอนทิตีไม่ถูกต้อง กรุณาเขียนเป็น [ข้อความ](ชื่อเอนทิตี) หรือ [ข้อความ](ชื่อเอนทิตี:ค่ามาตรฐาน)",
    "entity_name": "ชื่อเอนทิตีต้องเป็นอักษรภาษาอังกฤษตัวเล็ก ตัวเลข หรือ _",
    "move_empties": "ย้ายไม่ได้ เพราะเจตนาเดิมจะไม่เหลือตัวอย่างเลย",
    "data": "ไฟล์ข้อมูลฝึกอยู่ในรูปแบบที่ระบบแก้ไขให้ไม่ได้ กรุณาแก้ไขไฟล์ด้วยตนเอง",
}


# ---------------------------------------------------------------- routes


async def page(request: Request) -> Response:
    if not await _page_on(request):
        return Response("Not Found", status_code=404)
    if request.headers.get("authorization"):
        refused = await _refuse(request)
        if refused is not None:
            return refused
    return FileResponse(STATIC / "admin.html", media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
                                 "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                                            "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"})


async def meta(request: Request) -> Response:
    if (refused := await _refuse(request)) is not None:
        return refused
    state: GatewayState = request.app.state.gateway
    directory = data_dir(request)

    def read() -> dict[str, Any]:
        homes = intent_files(directory)
        domain_intents, entities = domain_names()
        groups = sorted({p.stem for p in directory.glob("*.yml")} | {NEW_INTENT_GROUP})
        return {
            "intents": {name: path.stem for name, path in sorted(homes.items())},
            "undeclared": sorted(set(homes) - domain_intents),
            "entities": sorted(entities),
            "groups": groups,
            "new_group": NEW_INTENT_GROUP,
        }

    def tally() -> dict[str, int]:
        with session_scope(state.engine) as s:
            return counts(s)

    info = await asyncio.to_thread(read)
    info["counts"] = await db(state.engine, tally)
    info["reasons"] = REASONS_TH
    info["retention_days"] = state.settings.nlu_capture_retention_days
    return JSONResponse(info)


async def queue(request: Request) -> Response:
    if (refused := await _refuse(request)) is not None:
        return refused
    state: GatewayState = request.app.state.gateway
    try:
        limit = max(1, min(200, int(request.query_params.get("limit", "50"))))
        below = max(0.0, min(1.0, float(request.query_params.get("below", "0.6"))))
    except ValueError:
        return _bad("ค่าที่ระบุไม่ถูกต้อง")

    def candidates() -> tuple[list[Any], dict[str, int]]:
        with session_scope(state.engine) as s:
            purge_expired(s, state.settings.nlu_capture_retention_days)
            rows = review_candidates(s, low_confidence=below)
            return rows, occurrence_counts(s, {r.norm_key for r in rows})

    rows, occurrences = await db(state.engine, candidates)

    def build() -> list[dict[str, Any]]:
        return [group_view(g) for g in build_queue(rows, occurrences, low_confidence=below, limit=limit)]

    return JSONResponse({"groups": await asyncio.to_thread(build)})  # word segmentation: off the storage lane


async def recent(request: Request) -> Response:
    if (refused := await _refuse(request)) is not None:
        return refused
    state: GatewayState = request.app.state.gateway

    def read() -> list[dict[str, Any]]:
        with session_scope(state.engine) as s:
            return [{"id": c.id, "text": c.text, "intent": c.intent, "confidence": round(c.confidence, 3), "flagged": c.flagged,
                     "status": c.status, "channel": c.channel, "captured_th": format_thai(c.captured_at, short=True)}
                    for c in latest(s, 50)]

    return JSONResponse({"captures": await db(state.engine, read)})


async def obstacles(request: Request) -> Response:
    """Laws and services ranked by obstacle reports (issue #24; the same ranking as `bot laws obstacles`)."""
    if (refused := await _refuse(request)) is not None:
        return refused
    state: GatewayState = request.app.state.gateway

    def read() -> list[dict[str, Any]]:
        with session_scope(state.engine) as s:
            return [r.as_json() for r in ranking(s, demo=request.query_params.get("demo") == "1", limit=100)]

    return JSONResponse({"ranking": await db(state.engine, read)})


async def annotate(request: Request) -> Response:
    if (refused := await _refuse(request)) is not None:
        return refused
    state: GatewayState = request.app.state.gateway
    data = await _json_body(request)
    if data is None:
        return _bad("ข้อมูลที่ส่งมาไม่ถูกต้อง")
    ids = _ids(data)
    intent = str(data.get("intent") or "").strip()
    example = str(data.get("example") or "")
    group = str(data.get("group") or "").strip() or None
    move = data.get("move") is True
    if not ids:
        return _bad("ไม่พบข้อความที่เลือก")
    directory = data_dir(request)

    def run() -> tuple[Any, int]:
        with session_scope(state.engine) as s:
            return write(s, ids, intent, example, data_dir=directory, group=group, move=move, author=who(request))

    try:
        written, marked = await db(state.engine, run)
    except ExampleConflict as exc:
        return _bad(f"{ERRORS_TH['conflict']}: {', '.join(exc.intents)} ต้องการย้ายมาเป็นตัวอย่างของ {intent} หรือไม่",
                    409, code="conflict", intents=exc.intents)
    except DataError as exc:
        return _bad(ERRORS_TH.get(exc.code, ERRORS_TH["data"]), 400, code=exc.code)
    if written.added:
        note = f"บันทึกเป็นตัวอย่างของ {intent} ในไฟล์ nlu_data/{written.path.name} แล้ว"
    else:
        note = f"ตัวอย่างนี้มีอยู่ใน {intent} แล้ว จึงไม่ได้เพิ่มซ้ำ"
    if written.moved_from:
        note += f" (ย้ายออกจาก {', '.join(written.moved_from)})"
    return JSONResponse({"ok": True, "added": written.added, "file": written.path.name, "resolved": marked, "message": note})


async def _on_selected(request: Request, act: Callable[[Session, list[int]], int]) -> int | Response:
    """Run `act(session, ids)` for the captures an admin selected; a refusal or a 400 as a Response."""
    if (refused := await _refuse(request)) is not None:
        return refused
    state: GatewayState = request.app.state.gateway
    ids = _ids(await _json_body(request) or {})
    if not ids:
        return _bad("ไม่พบข้อความที่เลือก")

    def run() -> int:
        with session_scope(state.engine) as s:
            return act(s, ids)

    return await db(state.engine, run)


async def discard(request: Request) -> Response:
    marked = await _on_selected(request, drop)
    if isinstance(marked, Response):
        return marked
    return JSONResponse({"ok": True, "resolved": marked, "message": f"ทิ้งข้อความแล้ว {marked} รายการ"})


async def flag(request: Request) -> Response:
    marked = await _on_selected(request, lambda s, ids: sum(mark(s, i) for i in ids))
    if isinstance(marked, Response):
        return marked
    return JSONResponse({"ok": True, "flagged": marked, "message": "ส่งเข้าคิวตรวจแล้ว" if marked else "ข้อความนี้ถูกตรวจไปแล้ว"})


def routes() -> list[Route]:
    from bot.nlu_admin import page_models

    return [*page_models.routes(),
        Route("/admin", page, methods=["GET"]),
        Route("/admin/api/meta", meta, methods=["GET"]),
        Route("/admin/api/queue", queue, methods=["GET"]),
        Route("/admin/api/recent", recent, methods=["GET"]),
        Route("/admin/api/annotate", annotate, methods=["POST"]),
        Route("/admin/api/discard", discard, methods=["POST"]),
        Route("/admin/api/flag", flag, methods=["POST"]),
        Route("/admin/api/obstacles", obstacles, methods=["GET"]),
    ]

"""The /admin page's model loop (issue #25): check and train as background jobs, the comparison with its
charts, deploy and roll back with the CLI's guard, the deployment history, the nlu_data/ change log as a patch.

Every route needs an admin's token (bot.nlu_admin.page._refuse). Deploying and rolling
back hold the same database guard as the jobs (a `deploy` row in admin_jobs), so a
deploy never overlaps a training run on any host.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.nlu_admin import charts, jobs
from bot.nlu_admin.audit import patch_text
from bot.nlu_admin.models import DeployRefused, ModelError, Store, sha256
from bot.nlu_admin.access import _bad, _json_body, _refuse, who, workspace
from common.thai_datetime import format_thai
from connectors.dbcall import db
from connectors.gateway_state import GatewayState
from storage import admin_jobs
from storage.admin_audit import changes, deployments
from storage.db import session_scope
from storage.models.admin import AdminJob

# The gate's and the deploy guard's reasons (English, as the CLI prints them) in the admins' words.
PROBLEMS_TH = [
    (re.compile(r"held-out accuracy fell by ([\d.]+) \(tolerance ([\d.]+)\)"), "ความแม่นยำกับชุดทดสอบแยกลดลง {0} (ยอมให้ลดได้ไม่เกิน {1})"),
    (re.compile(r"held-out macro-F1 fell by ([\d.]+) \(tolerance ([\d.]+)\)"), "macro-F1 กับชุดทดสอบแยกลดลง {0} (ยอมให้ลดได้ไม่เกิน {1})"),
    (re.compile(r"held-out accuracy ([\d.]+) is below ([\d.]+)"), "ความแม่นยำกับชุดทดสอบแยก {0} ต่ำกว่าเกณฑ์ขั้นต่ำ {1}"),
    (re.compile(r"entity F1 of (\S+) fell by ([\d.]+) \(tolerance ([\d.]+)\)"), "F1 ของเอนทิตี ({0}) ลดลง {1} (ยอมให้ลดได้ไม่เกิน {2})"),
    (re.compile(r"F1 of (\S+) fell by ([\d.]+) \(tolerance ([\d.]+)\)"), "F1 ของเจตนา {0} ลดลง {1} (ยอมให้ลดได้ไม่เกิน {2})"),
    (re.compile(r"cross-validation accuracy fell by ([\d.]+) \(tolerance ([\d.]+)\)"), "ความแม่นยำจากการตรวจไขว้ลดลง {0} (ยอมให้ลดได้ไม่เกิน {1})"),
    (re.compile(r"cross-validation macro-F1 fell by ([\d.]+) \(tolerance ([\d.]+)\)"), "macro-F1 จากการตรวจไขว้ลดลง {0} (ยอมให้ลดได้ไม่เกิน {1})"),
    (re.compile(r"the candidate has not been compared"), "โมเดลใหม่ยังไม่ได้เปรียบเทียบกับโมเดลปัจจุบัน"),
    (re.compile(r"the comparison is for another candidate"), "ผลการเปรียบเทียบเป็นของโมเดลใหม่รุ่นอื่น กรุณาฝึกและเปรียบเทียบใหม่"),
    (re.compile(r"the current model changed since the comparison"), "โมเดลปัจจุบันเปลี่ยนไปหลังการเปรียบเทียบ กรุณาเปรียบเทียบใหม่"),
    (re.compile(r"the comparison found a regression"), "การเปรียบเทียบพบว่าโมเดลใหม่แย่ลง"),
]


def in_thai(problem: str) -> str:
    for pattern, template in PROBLEMS_TH:
        match = pattern.search(problem)
        if match:
            return template.format(*match.groups())
    return problem


KIND_TH = {"check": "การตรวจข้อมูล", "train": "การฝึกโมเดล", "deploy": "การติดตั้งโมเดล"}
MAX_REASON = 1000


def _busy_message(busy: admin_jobs.Busy) -> str:
    if not busy.job_id:
        return "งานก่อนหน้าเพิ่งเสร็จ กรุณากดอีกครั้ง"
    return (f"เริ่มไม่ได้: {KIND_TH.get(busy.kind, busy.kind)} #{busy.job_id} ของ {busy.started_by} กำลังทำงานอยู่ "
            f"(เริ่มเมื่อ {format_thai(busy.started_at, short=True)} ที่เครื่อง {busy.host}) ระบบทำได้ทีละงาน กรุณารอให้เสร็จก่อน")


def _engine(request: Request) -> Any:
    state: GatewayState = request.app.state.gateway
    return state.engine


# ---------------------------------------------------------------- who, jobs


async def whoami(request: Request) -> Response:
    if (refused := await _refuse(request)) is not None:
        return refused
    return JSONResponse({"name": who(request)})


async def list_jobs(request: Request) -> Response:
    if (refused := await _refuse(request)) is not None:
        return refused
    engine = _engine(request)

    def read() -> dict[str, Any]:
        with session_scope(engine) as s:
            admin_jobs.close_stale(s)
            now = admin_jobs.running(s)
            return {"running": jobs.view(now) if now else None, "recent": [jobs.view(j) for j in admin_jobs.recent(s, 10)]}

    return JSONResponse(await db(engine, read))


async def one_job(request: Request) -> Response:
    if (refused := await _refuse(request)) is not None:
        return refused
    engine = _engine(request)
    job_id = int(request.path_params["job_id"])

    def read() -> dict[str, Any] | None:
        with session_scope(engine) as s:
            job = s.get(AdminJob, job_id)
            return jobs.view(job) if job else None

    found = await db(engine, read)
    return JSONResponse(found) if found else _bad("ไม่พบงานนี้", 404)


async def start_job(request: Request) -> Response:
    if (refused := await _refuse(request)) is not None:
        return refused
    data = await _json_body(request) or {}
    kind = str(data.get("kind") or "")
    if kind not in jobs.KINDS:
        return _bad("ไม่รู้จักงานนี้")
    try:
        job_id = await asyncio.to_thread(jobs.start, _engine(request), kind, who(request))
    except admin_jobs.Busy as busy:
        return _bad(_busy_message(busy), 409, code="busy", job=busy.job_id)
    except OSError:
        return _bad("เริ่มงานเบื้องหลังไม่ได้ กรุณาแจ้งผู้ดูแลระบบ", 500)
    return JSONResponse({"ok": True, "id": job_id, "message": f"เริ่ม{KIND_TH[kind]}แล้ว (งาน #{job_id}) ปิดหน้านี้ได้ งานจะทำต่อจนเสร็จ"},
                        status_code=202)


# ---------------------------------------------------------------- models and the comparison


def _last_verdict(engine: Any) -> tuple[dict[str, Any] | None, int | None]:
    with session_scope(engine) as s:
        job = admin_jobs.last_succeeded(s, "train")
        if job is None or not job.result:
            return None, None
        return job.result.get("verdict"), job.id


def _details(verdict: dict[str, Any] | None) -> dict[str, Any] | None:
    if not verdict or not verdict.get("details"):
        return None
    try:
        return json.loads(Path(verdict["details"]).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _model_info(store: Store, name: str) -> dict[str, Any] | None:
    path = store.model(name)
    if not path.exists():
        return None
    fingerprint = store.read_json(store.side(name, "fingerprint")) or {}
    return {"sha256": sha256(path), "trained_at": fingerprint.get("trained_at"), "size": path.stat().st_size}


async def models_view(request: Request) -> Response:
    if (refused := await _refuse(request)) is not None:
        return refused
    engine = _engine(request)
    ws = workspace(request)
    store = ws.store()

    def read() -> dict[str, Any]:
        from bot.nlu_admin.pipeline import served

        info = {name: _model_info(store, name) for name in ("current", "previous", "candidate")}
        verdict, job_id = _last_verdict(engine)
        state = store.read_json(store.compare_state)
        candidate = info["candidate"]
        current = info["current"]
        deployable = bool(state and candidate and state.get("candidate_sha256") == candidate["sha256"]
                          and (current is None or state.get("baseline_sha256") == current["sha256"]) and state.get("ok"))
        with session_scope(engine) as s:
            by_id = {d.model_id: d for d in reversed(deployments(s)) if d.model_id}
        replicas = []
        for replica in served():
            known = by_id.get(replica.get("model_id"))
            replica["deployment"] = ({"id": known.id, "action": known.action, "author": known.author,
                                      "at_th": format_thai(known.at, short=True), "model_sha256": known.model_sha256}
                                     if known else None)
            replicas.append(replica)
        return {"models": info, "verdict": verdict, "verdict_job": job_id, "compare_state": state, "deployable": deployable,
                "candidate_is_compared": bool(state and candidate and state.get("candidate_sha256") == candidate["sha256"]),
                "details": _details(verdict), "replicas": replicas,
                "problems_th": [in_thai(p) for p in (verdict or {}).get("problems") or []],
                "gate": {k: getattr(ws.gate, k) for k in ("tolerance", "intent_tolerance", "min_accuracy", "cv_tolerance", "entity_tolerance")}}

    return JSONResponse(await asyncio.to_thread(read))


def _history_points(engine: Any) -> list[dict[str, Any]]:
    with session_scope(engine) as s:
        rows = list(reversed(deployments(s, 50)))
    return [{"label": f"#{d.id}" + (" ↺" if d.action == "rollback" else ""), "accuracy": (d.figures or {}).get("held_out_accuracy"),
             "macro_f1": (d.figures or {}).get("held_out_macro_f1")} for d in rows]


async def chart(request: Request) -> Response:
    """Server-rendered SVG from the same data as `bot nlu compare` (details.json) or the deployment history."""
    if (refused := await _refuse(request)) is not None:
        return refused
    engine = _engine(request)
    name = request.path_params["name"]

    def draw() -> str | None:
        if name == "history":
            return charts.history_svg(_history_points(engine), "ความแม่นยำ (accuracy) และ macro-F1 กับชุดทดสอบแยก ตามการติดตั้งแต่ละครั้ง")
        details = _details(_last_verdict(engine)[0])
        if not details:
            return None
        held, cv = details.get("held_out") or {}, details.get("cross_validation")
        if name == "f1":
            return charts.f1_bars_svg(held.get("intents") or [], "F1 รายเจตนา กับชุดทดสอบแยก", "โมเดลปัจจุบัน", "โมเดลใหม่")
        if name == "cv_f1" and cv:
            return charts.f1_bars_svg(cv.get("intents") or [], "F1 รายเจตนา จากการตรวจไขว้", "ข้อมูลเดิม", "ข้อมูลใหม่")
        if name == "confusion":
            matrix = held.get("confusion") or {}
            return charts.confusion_svg(matrix.get("labels") or [], matrix.get("matrix") or [],
                                        "ตารางความสับสนของโมเดลใหม่ (แถว: เจตนาจริง, คอลัมน์: ที่ทาย)")
        return None

    svg = await asyncio.to_thread(draw)
    if svg is None:
        return _bad("ยังไม่มีผลการเปรียบเทียบ", 404)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


# ---------------------------------------------------------------- deploy, roll back


async def _guarded(request: Request, action: str, run: Any) -> Response:
    """Hold the database guard (a `deploy` job row) while `run(engine, store, author)` works."""
    engine = _engine(request)
    store = workspace(request).store()
    author = who(request)

    def go() -> dict[str, Any]:
        job_id = admin_jobs.start(engine, "deploy", author, host=jobs.host_name(), options={"action": action})
        ok, result, error = False, None, None
        try:
            result = run(engine, store, author)
            ok = True
            return result
        except ModelError as exc:
            error = str(exc)
            raise
        finally:
            with session_scope(engine) as s:
                admin_jobs.finish(s, job_id, ok=ok, result={"action": action, **(result or {})} if ok else None, error=error)

    try:
        result = await asyncio.to_thread(go)
    except admin_jobs.Busy as busy:
        return _bad(_busy_message(busy), 409, code="busy")
    except DeployRefused as exc:
        return _bad("ยังติดตั้งไม่ได้: โมเดลใหม่ยังไม่ผ่านการเปรียบเทียบ (ติดตั้งได้เมื่อเลือก “ติดตั้งแม้ไม่ผ่าน” พร้อมเหตุผล)", 409,
                    code="refused", reasons=exc.reasons, reasons_th=[in_thai(r) for r in exc.reasons])
    except ModelError as exc:
        return _bad(f"ทำไม่สำเร็จ: {exc}", 409, code="model")
    result.pop("verdict", None)
    return JSONResponse({"ok": True, **result})


async def deploy(request: Request) -> Response:
    if (refused := await _refuse(request)) is not None:
        return refused
    data = await _json_body(request)
    if data is None:
        return _bad("ข้อมูลที่ส่งมาไม่ถูกต้อง")
    force = data.get("force") is True
    reason = " ".join(str(data.get("reason") or "").split())[:MAX_REASON]
    if force and not reason:
        return _bad("การติดตั้งโดยไม่ผ่านการเปรียบเทียบต้องระบุเหตุผล", code="reason")

    def run(engine: Any, store: Store, author: str) -> dict[str, Any]:
        from bot.nlu_admin.pipeline import deploy_recorded

        return deploy_recorded(engine, store, author=author, force=force, reason=reason, echo=lambda _line: None)

    response = await _guarded(request, "deploy", run)
    return response


async def rollback(request: Request) -> Response:
    if (refused := await _refuse(request)) is not None:
        return refused
    data = await _json_body(request) or {}
    reason = " ".join(str(data.get("reason") or "").split())[:MAX_REASON]

    def run(engine: Any, store: Store, author: str) -> dict[str, Any]:
        from bot.nlu_admin.pipeline import rollback_recorded

        return rollback_recorded(engine, store, author=author, reason=reason, echo=lambda _line: None)

    return await _guarded(request, "rollback", run)


# ---------------------------------------------------------------- history and data changes


async def history(request: Request) -> Response:
    if (refused := await _refuse(request)) is not None:
        return refused
    engine = _engine(request)

    def read() -> list[dict[str, Any]]:
        with session_scope(engine) as s:
            return [{"id": d.id, "action": d.action, "author": d.author, "at_th": format_thai(d.at, short=True),
                     "at": d.at.isoformat(timespec="seconds"), "reason": d.reason, "forced": d.forced, "refusals": d.refusals,
                     "model_sha256": d.model_sha256, "replaced_sha256": d.replaced_sha256, "model_id": d.model_id, "rasa": d.rasa,
                     "figures": d.figures} for d in deployments(s)]

    return JSONResponse({"deployments": await db(engine, read)})


def _since(request: Request) -> int:
    raw = request.query_params.get("since", "0")
    return int(raw) if raw.isdigit() else 0


async def list_changes(request: Request) -> Response:
    if (refused := await _refuse(request)) is not None:
        return refused
    engine = _engine(request)

    def read() -> list[dict[str, Any]]:
        with session_scope(engine) as s:
            return [{"id": c.id, "author": c.author, "at_th": format_thai(c.at, short=True), "summary": c.summary, "file": c.file,
                     "diff": c.diff[:4000]} for c in changes(s, since=_since(request))]

    return JSONResponse({"changes": await db(engine, read)})


async def patch(request: Request) -> Response:
    """The changes as a `git format-patch` mailbox (`git am` applies it; each commit has its admin as author)."""
    if (refused := await _refuse(request)) is not None:
        return refused
    engine = _engine(request)

    def read() -> tuple[str, int]:
        with session_scope(engine) as s:
            rows = changes(s, since=_since(request))
            return patch_text(rows), (rows[-1].id if rows else 0)

    text, last = await db(engine, read)
    return Response(text, media_type="text/x-patch; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="nlu_data-changes-upto-{last}.patch"', "Cache-Control": "no-store"})


def routes() -> list[Route]:
    return [
        Route("/admin/api/whoami", whoami, methods=["GET"]),
        Route("/admin/api/jobs", list_jobs, methods=["GET"]),
        Route("/admin/api/jobs", start_job, methods=["POST"]),
        Route("/admin/api/jobs/{job_id:int}", one_job, methods=["GET"]),
        Route("/admin/api/models", models_view, methods=["GET"]),
        Route("/admin/api/chart/{name}.svg", chart, methods=["GET"]),
        Route("/admin/api/deploy", deploy, methods=["POST"]),
        Route("/admin/api/rollback", rollback, methods=["POST"]),
        Route("/admin/api/history", history, methods=["GET"]),
        Route("/admin/api/changes", list_changes, methods=["GET"]),
        Route("/admin/api/changes.patch", patch, methods=["GET"]),
    ]

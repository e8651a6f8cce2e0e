"""Public pages of the gateway (no sign-in): `/stats`, the open data, the law catalog.

Everything is rendered on the server as plain HTML with inline SVG charts and one inline
style sheet (connectors/static/public/public.css): no script, no CDN, nothing personal.
Figures come only from `storage.stats.published` (one suppression rule, docs/open-data.md);
law search is the bot's own (`storage.laws.search.search_laws`).
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from datetime import date
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Engine, func, select
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from common.numbers import INT_DIGITS, parse_number
from common.thai_datetime import MONTHS_ABBR, TZ
from common.wording.obstacles import public_count
from connectors.dbcall import db
from storage.db import session_scope
from storage.laws.search import search_laws
from storage.models.laws import Law, LawSection
from storage.obstacles import law_report_counts
from storage.service_laws import services_for_law
from storage.stats import CSV_FIELDS, DEMO, K, LICENCE, OTHER_AGENCY, OTHER_SERVICE, REAL, Figures, Published, default_dataset, published

STATIC = Path(__file__).resolve().parent / "static" / "public"
CSS = (STATIC / "public.css").read_text(encoding="utf-8")
SECTIONS_PER_PAGE = 100
LAWS_PER_PAGE = 50
CACHE = "public, max-age=300"
FIGURES_TTL = 60.0  # seconds; a /stats page load never recomputes more than once a minute


# --- formatting -------------------------------------------------------------


def thai_date(day: date) -> str:
    return f"{day.day} {MONTHS_ABBR[day.month - 1]} {day.year + 543}"


def duration(hours: float | None) -> str:
    if hours is None:
        return "—"
    if hours < 48:
        return f"{hours:.1f} ชม."
    return f"{hours / 24:.1f} วัน"


def num(value: int | float | None, suffix: str = "") -> str:
    if value is None:
        return "—"
    return (f"{value:,}" if isinstance(value, int) else f"{value:,.1f}") + suffix


def rating(f: Figures) -> str:
    return "—" if f.rating_avg is None else f"{f.rating_avg:.2f} / 5 ({f.ratings:,})"


def page(title: str, body: str, *, description: str = "") -> str:
    return f"""<!doctype html>
<html lang="th"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><meta name="description" content="{escape(description or title)}"><style>{CSS}</style></head>
<body><header class="top"><span class="site">บริการภาครัฐ</span><a href="/stats">สถิติหน่วยงาน</a><a href="/laws">ค้นหากฎหมาย</a>
<a href="/open-data/requests.csv">ข้อมูลเปิด</a></header>
<main>{body}</main>
<footer>ข้อมูลสถิติและข้อมูลเปิดเผยแพร่ภายใต้สัญญาอนุญาต CC BY 4.0 ·
ไม่มีข้อมูลส่วนบุคคล กลุ่มที่มีคำร้องน้อยกว่า {K} เรื่องจะถูกรวมหรือไม่แสดง</footer></body></html>"""


def html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers={"Cache-Control": CACHE, "X-Content-Type-Options": "nosniff",
                                                          "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"})


# --- charts (inline SVG) ----------------------------------------------------


class _Row:
    """A chart row: a name (agency or service) and its figures."""

    def __init__(self, agency: str, figures: Figures) -> None:
        self.agency, self.figures = agency, figures


def weekly_chart(pub: Published, agency: str | None = None, service: str | None = None) -> str:
    weeks = pub.weeks_of(agency, service)[-16:]
    if not weeks:
        return '<p class="muted">ยังไม่มีข้อมูลรายสัปดาห์ที่เผยแพร่ได้</p>'
    width, height, left, bottom, top = 520, 240, 40, 34, 14
    top_value = max(w.received for w in weeks) or 1
    step = (width - left - 10) / len(weeks)
    bar = max(4.0, step * 0.36)
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="แนวโน้มรายสัปดาห์: คำร้องที่รับและที่เสร็จสิ้น">']
    plot = height - bottom - top
    for i in range(5):
        value = top_value * i / 4
        y = top + plot - plot * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 6}" y2="{y:.1f}" stroke="#d9e2ec"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="12" text-anchor="end">{value:,.0f}</text>')
    for i, w in enumerate(weeks):
        x = left + i * step + step * 0.12
        for j, (value, colour, what) in enumerate(((w.received, "#1d4e89", "รับเรื่อง"), (w.resolved, "#2f8f5b", "เสร็จสิ้น"))):
            h = plot * value / top_value
            parts.append(f'<rect x="{x + j * bar:.1f}" y="{top + plot - h:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                         f'<title>สัปดาห์ {thai_date(w.week_start)}: {what} {value:,}</title></rect>')
        if len(weeks) <= 8 or i % 2 == (len(weeks) - 1) % 2:  # every other label when crowded; always the latest week
            label = f"{w.week_start.day} {MONTHS_ABBR[w.week_start.month - 1]}"
            parts.append(f'<text x="{x + bar:.1f}" y="{height - bottom + 16}" font-size="12" text-anchor="middle">{label}</text>')
    parts.append("</svg>")
    legend = ('<div class="legend"><span><i class="sw" style="background:#1d4e89"></i>รับเรื่อง</span>'
              '<span><i class="sw" style="background:#2f8f5b"></i>เสร็จสิ้น</span></div>')
    return legend + "".join(parts)


def agency_chart(items: list[tuple[str, Figures]]) -> str:
    rows = [_Row(name, f) for name, f in items[:15]]
    if not rows:
        return '<p class="muted">ยังไม่มีหน่วยงานหรือบริการที่มีคำร้องมากพอจะเผยแพร่</p>'
    width, row_h, label_w = 480, 46, 0
    height = row_h * len(rows) + 6
    top_value = max(a.figures.received for a in rows) or 1
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="คำร้องต่อหน่วยงาน แยกตามสถานะ">']
    for i, a in enumerate(rows):
        f = a.figures
        y = 18 + i * row_h
        scale = (width - 170) / top_value
        x = float(label_w)
        parts.append(f'<text x="0" y="{y}" font-size="14">{escape(a.agency)}</text>')
        for value, colour, what in ((f.resolved, "#2f8f5b", "เสร็จสิ้น"), (f.open, "#7b8794", "กำลังดำเนินการ"),
                                    (f.rejected + f.cancelled, "#b7791f", "ไม่สามารถดำเนินการได้หรือยกเลิก")):
            w = value * scale
            if w > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y + 5}" width="{w:.1f}" height="16" fill="{colour}"><title>{escape(a.agency)}: {what} {value:,}</title></rect>')
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 18}" font-size="13">{f.received:,} เรื่อง · เสร็จ {num(f.resolved_pct, "%")}</text>')
    parts.append("</svg>")
    legend = ('<div class="legend"><span><i class="sw" style="background:#2f8f5b"></i>เสร็จสิ้น</span>'
              '<span><i class="sw" style="background:#7b8794"></i>กำลังดำเนินการ</span>'
              '<span><i class="sw" style="background:#b7791f"></i>ไม่สามารถดำเนินการได้/ยกเลิก</span></div>')
    return legend + "".join(parts)


def speed_chart(items: list[tuple[str, Figures]]) -> str:
    rows = [_Row(name, f) for name, f in items if f.median_close_hours is not None][:15]
    if not rows:
        return '<p class="muted">ยังไม่มีหน่วยงานที่ปิดเรื่องมากพอจะคำนวณเวลาได้</p>'
    rows.sort(key=lambda a: a.figures.median_close_hours or 0)
    width, row_h = 480, 44
    height = row_h * len(rows) + 6
    top_value = max(a.figures.median_close_hours or 0 for a in rows) or 1
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="เวลาปิดเรื่อง (มัธยฐาน) ต่อหน่วยงาน">']
    for i, a in enumerate(rows):
        y = 18 + i * row_h
        hours = a.figures.median_close_hours or 0
        w = (width - 90) * hours / top_value
        parts.append(f'<text x="0" y="{y}" font-size="14">{escape(a.agency)}</text>'
                     f'<rect x="0" y="{y + 5}" width="{max(w, 2):.1f}" height="15" fill="#1d4e89"/>'
                     f'<text x="{max(w, 2) + 6:.1f}" y="{y + 17}" font-size="13">{duration(hours)}</text>')
    parts.append("</svg>")
    return "".join(parts)


# --- /stats -----------------------------------------------------------------


def _since(request: Request) -> date | None:
    raw = request.query_params.get("since", "").strip()
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _dataset(request: Request) -> str | None:
    wanted = request.query_params.get("data", "")
    return wanted if wanted in (REAL, DEMO) else None


def _published(engine: Engine, dataset: str | None, since: date | None) -> Published:
    with session_scope(engine) as s:
        return published(s, dataset=dataset, since=since)


async def _figures(request: Request) -> Published:
    """The published figures, computed at most once a minute per (data set, window) and shared by every reader."""
    state = request.app.state.gateway
    cache: dict[tuple[str | None, date | None], tuple[float, Published]] | None = getattr(request.app.state, "public_figures", None)
    if cache is None:
        cache = request.app.state.public_figures = {}
    key = (_dataset(request), _since(request))
    hit = cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < FIGURES_TTL:
        return hit[1]
    pub = await db(state.engine, _published, state.engine, *key)
    if len(cache) > 256:
        cache.clear()
    cache[key] = (time.monotonic(), pub)
    return pub


def _figure_cells(f: Figures) -> str:
    return (f"<td>{f.received:,}</td><td>{f.open:,}</td><td>{f.resolved:,}</td><td>{num(f.resolved_pct, '%')}</td>"
            f"<td>{f.rejected + f.cancelled:,}</td><td>{duration(f.median_first_response_hours)}</td>"
            f"<td>{duration(f.median_close_hours)}</td><td>{f.reopened:,}</td><td>{rating(f)}</td>"
            f"<td>{num(f.oldest_open_days)}</td>")


def stats_body(pub: Published, agency: str | None, service: str | None = None) -> str:
    t = pub.totals
    shown = [a for a in pub.agencies if not agency or a.agency == agency]
    if agency and shown:
        t = shown[0].figures
        service = None
    services = sorted({s.service for a in pub.agencies for s in a.services if s.service != OTHER_SERVICE})
    if service and service in services:
        t = pub.services[service]
        by_agency = [(a.agency, s.figures) for a in pub.agencies for s in a.services if s.service == service]
        chart_rows, chart_title = by_agency, f"หน่วยงานที่ให้บริการ {escape(service)}"
        shown = [a for a in shown if any(s.service == service for s in a.services)]
    elif agency and shown:
        chart_rows, chart_title = [(s.service, s.figures) for s in shown[0].services], f"คำร้องแยกตามบริการ · {escape(agency)}"
    else:
        service = None
        chart_rows, chart_title = [(a.agency, a.figures) for a in pub.agencies], "คำร้องต่อหน่วยงาน"
    service_options = "".join(f'<option value="{escape(x)}"{" selected" if x == service else ""}>{escape(x)}</option>' for x in services)
    banner = ""
    if pub.dataset == DEMO:
        banner = ('<div class="banner" id="demo-banner"><b>ข้อมูลสาธิต</b> ตัวเลขในหน้านี้สร้างขึ้นเพื่อสาธิตระบบ '
                  'ไม่ใช่คำร้องจริงของประชาชน</div>')
    options = "".join(f'<option value="{escape(a.agency)}"{" selected" if a.agency == agency else ""}>{escape(a.agency)}</option>'
                      for a in pub.agencies if a.agency != OTHER_AGENCY)
    since_value = pub.since.isoformat() if pub.since else ""
    data_field = f'<input type="hidden" name="data" value="{pub.dataset}">' if pub.dataset == DEMO else ""
    tiles = [
        (num(t.received), "คำร้องที่รับ"), (f"{num(t.resolved)} ({num(t.resolved_pct, '%')})", "ดำเนินการเสร็จสิ้น"),
        (num(t.open), "กำลังดำเนินการ"), (duration(t.median_first_response_hours), "ตอบครั้งแรก (มัธยฐาน)"),
        (duration(t.median_close_hours), "ปิดเรื่อง (มัธยฐาน)"), (num(t.reopened), "ถูกแจ้งว่ายังไม่เสร็จจริง"),
        (rating(t), "ความพึงพอใจเฉลี่ย"),
    ]
    rows = []
    for a in shown:
        forwarded = f' <span class="muted">(ส่งต่อให้หน่วยงานอื่น {a.forwarded:,} เรื่อง)</span>' if a.forwarded else ""
        rows.append(f'<tr class="agency"><td>{escape(a.agency)}{forwarded}</td>{_figure_cells(a.figures)}</tr>')
        for s in a.services:
            if service is None or s.service == service:
                rows.append(f"<tr><td>&nbsp;&nbsp;{escape(s.service)}</td>{_figure_cells(s.figures)}</tr>")
    table = ("<table id=\"agency-table\"><thead><tr><th>หน่วยงาน / บริการ</th><th>รับ</th><th>ค้าง</th><th>เสร็จ</th><th>เสร็จ %</th>"
             "<th>ไม่ดำเนินการ/ยกเลิก</th><th>ตอบครั้งแรก</th><th>ปิดเรื่อง</th><th>ยังไม่เสร็จจริง</th><th>คะแนน</th>"
             "<th>ค้างนานสุด (วัน)</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>") if rows else \
        '<p class="muted">ยังไม่มีตัวเลขที่เผยแพร่ได้สำหรับหน่วยงานนี้</p>'
    query = urlencode({k: v for k, v in (("since", since_value), ("data", pub.dataset if pub.dataset == DEMO else "")) if v})
    suffix = f"?{query}" if query else ""
    window = f"ตั้งแต่สัปดาห์ที่เริ่ม {thai_date(pub.since)}" if pub.since else "ทั้งหมด"
    withheld = (f'<p class="muted">บางคำร้องไม่ได้แสดงเพราะอยู่ในกลุ่มที่มีน้อยกว่า {K} เรื่องต่อสัปดาห์ '
                f'(ยอดรวมทุกยอดในหน้านี้คือผลรวมของกลุ่มที่เผยแพร่เท่านั้น)</p>') if pub.unpublished else ""
    return f"""
<h1>สถิติการให้บริการของหน่วยงานรัฐ</h1>
<p class="lead">ตัวเลขจากคำร้องที่ประชาชนยื่นผ่านผู้ช่วยตอบคำถาม ({window}) ปรับปรุงทุกครั้งที่เปิดหน้า
ณ {thai_date(pub.until.astimezone(TZ).date())} {pub.until.astimezone(TZ):%H:%M} น.</p>
{banner}
<form class="filters" method="get" action="/stats">
<label>หน่วยงาน<select name="agency"><option value="">ทุกหน่วยงาน</option>{options}</select></label>
<label>บริการ<select name="service"><option value="">ทุกบริการ</option>{service_options}</select></label>
<label>ตั้งแต่วันที่<input type="date" name="since" value="{since_value}"></label>{data_field}
<button type="submit">แสดง</button></form>
<div class="tiles" id="tiles">{"".join(f'<div class="tile"><div class="v">{escape(v)}</div><div class="k">{k}</div></div>' for v, k in tiles)}</div>
<h2>แนวโน้มรายสัปดาห์{f" · {escape(agency)}" if agency and shown else ""}{f" · {escape(service)}" if service else ""}</h2>
<div class="card" id="weekly">{weekly_chart(pub, agency if shown else None, service)}</div>
<div class="charts"><div><h2>{chart_title}</h2><div class="card" id="agencies">{agency_chart(chart_rows)}</div></div>
<div><h2>เวลาปิดเรื่อง (มัธยฐาน) เร็วไปช้า</h2><div class="card" id="speed">{speed_chart(chart_rows)}</div></div></div>
<h2>รายละเอียดตามหน่วยงานและบริการ</h2><div class="card">{table}</div>
{withheld}
<h2>นิยามและข้อมูลเปิด</h2>
<div class="card"><ul>
<li><b>ตอบครั้งแรก</b> คือเวลาตั้งแต่ยื่นคำร้องจนเจ้าหน้าที่เปลี่ยนสถานะหรือตอบกลับครั้งแรก</li>
<li><b>เสร็จสิ้น</b> นับเฉพาะคำร้องที่ดำเนินการเสร็จ คำร้องที่ไม่สามารถดำเนินการได้และที่ผู้ยื่นยกเลิกนับแยก</li>
<li>คำร้องที่ส่งต่อ นับให้หน่วยงานที่รับผิดชอบปัจจุบัน (ผู้ปิดเรื่อง) และนับเป็น "ส่งต่อ" ให้หน่วยงานที่ส่งต่อไป</li>
<li><b>ยังไม่เสร็จจริง</b> คือคำร้องที่ผู้ยื่นแจ้งภายใน 14 วันหลังปิดเรื่องว่ายังไม่ได้รับการแก้ไขจริง</li>
<li>กลุ่ม (หน่วยงาน × บริการ × สัปดาห์) ที่มีคำร้องน้อยกว่า {K} เรื่องจะรวมเป็น "{OTHER_SERVICE}" หรือ "{OTHER_AGENCY}"
หรือไม่แสดง และไม่แสดงคะแนนเฉลี่ยหรือค่ามัธยฐานที่คำนวณจากน้อยกว่า {K} รายการ</li>
</ul>
<p>ดาวน์โหลดข้อมูลเปิด (รายสัปดาห์ ต่อหน่วยงานและบริการ สัญญาอนุญาต CC BY 4.0):
<a id="csv" href="/open-data/requests.csv{suffix}">CSV</a> · <a id="json" href="/open-data/requests.json{suffix}">JSON</a></p></div>
"""


async def stats_page(request: Request) -> Response:
    pub = await _figures(request)
    agency = request.query_params.get("agency", "").strip() or None
    service = request.query_params.get("service", "").strip() or None
    return html(page("สถิติการให้บริการของหน่วยงานรัฐ", stats_body(pub, agency, service),
                     description="จำนวนคำร้อง อัตราการแก้ไข เวลาตอบ และความพึงพอใจ ต่อหน่วยงานและบริการ"))


# --- open data --------------------------------------------------------------


def open_data_rows(pub: Published) -> list[dict[str, Any]]:
    return [c.as_json() for c in pub.cells]


async def open_data_csv(request: Request) -> Response:
    pub = await _figures(request)
    out = io.StringIO()
    out.write(f"# licence: {LICENCE}; dataset: {pub.dataset}; k: {K}; schema: docs/open-data.md\n")
    writer = csv.DictWriter(out, fieldnames=["dataset", *CSV_FIELDS], lineterminator="\n")
    writer.writeheader()
    for row in open_data_rows(pub):
        writer.writerow({"dataset": pub.dataset, **{k: ("" if row[k] is None else row[k]) for k in CSV_FIELDS}})
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="requests.csv"', "Cache-Control": CACHE,
        "Link": '<https://creativecommons.org/licenses/by/4.0/>; rel="license"'})


async def open_data_json(request: Request) -> Response:
    pub = await _figures(request)
    body = {"licence": LICENCE, "dataset": pub.dataset, "k": K, "period": "week",
            "since": pub.since.isoformat() if pub.since else None, "generated_at": pub.until.isoformat(),
            "schema": "docs/open-data.md", "fields": CSV_FIELDS, "rows": open_data_rows(pub)}
    return JSONResponse(body, headers={"Cache-Control": CACHE, "Link": '<https://creativecommons.org/licenses/by/4.0/>; rel="license"'})


# --- law catalog ------------------------------------------------------------


def _decade(year: int | None) -> int | None:
    return None if year is None else year - year % 10


def _catalog(engine: Engine, q: str, group: str, law_type: str, decade: int | None, page_no: int) -> dict[str, Any]:
    with session_scope(engine) as s:
        laws = list(s.execute(select(Law.id, Law.title, Law.law_type, Law.year_be, Law.groups, Law.summary)))
        groups = Counter(g for row in laws for g in (row.groups or []))
        types = Counter(row.law_type for row in laws if row.law_type)
        decades = Counter(_decade(row.year_be) for row in laws if row.year_be)
        counts = law_report_counts(s, demo=default_dataset(s) == DEMO)
        results: list[dict[str, Any]] = []
        total = 0
        if q:
            for hit in search_laws(s, q, limit=20):
                results.append({"id": hit.law_id, "title": hit.title, "type": hit.law_type, "year": hit.year_be, "summary": hit.summary,
                                "sections": [(sec.number, sec.snippet) for sec in hit.sections[:3]], "reports": counts.get(hit.law_id, 0)})
            total = len(results)
        else:
            chosen = [row for row in laws if (not group or group in (row.groups or [])) and (not law_type or row.law_type == law_type)
                      and (decade is None or _decade(row.year_be) == decade)]
            chosen.sort(key=lambda row: (-(row.year_be or 0), row.title))
            total = len(chosen)
            for row in chosen[(page_no - 1) * LAWS_PER_PAGE: page_no * LAWS_PER_PAGE]:
                results.append({"id": row.id, "title": row.title, "type": row.law_type, "year": row.year_be, "summary": row.summary,
                                "sections": [], "reports": counts.get(row.id, 0)})
        return {"results": results, "total": total, "groups": groups.most_common(), "types": types.most_common(),
                "decades": sorted(decades.items(), reverse=True), "laws": len(laws)}


def _chips(name: str, items: list[tuple[Any, int]], current: str, params: dict[str, str], label: Any = None) -> str:
    out = []
    for value, n in items:
        query = urlencode({**{k: v for k, v in params.items() if v and k != "page"}, name: value})
        text = label(value) if label else value
        out.append(f'<a class="{"on" if str(value) == current else ""}" href="/laws?{query}">{escape(str(text))} ({n:,})</a>')
    return "".join(out)


async def laws_page(request: Request) -> Response:
    state = request.app.state.gateway
    q = request.query_params.get("q", "").strip()[:200]
    group = request.query_params.get("group", "").strip()
    law_type = request.query_params.get("type", "").strip()
    raw_decade = request.query_params.get("decade", "").strip()
    decade = parse_number(raw_decade, max_digits=4, thai=False)
    page_no = max(1, parse_number(request.query_params.get("page", "1"), max_digits=6, thai=False) or 1)
    data = await db(state.engine, _catalog, state.engine, q, group, law_type, decade, page_no)
    params = {"group": group, "type": law_type, "decade": raw_decade}
    items = []
    for r in data["results"]:
        meta = " · ".join(x for x in (r["type"], f"พ.ศ. {r['year']}" if r["year"] else "") if x)
        link = f"/laws/{r['id']}" + (f"?{urlencode({'q': q})}" if q else "")
        sections = "".join(f'<div class="muted">มาตรา {escape(n)}: {escape(snippet)}</div>' for n, snippet in r["sections"])
        reports = f' · รายงานว่าเป็นอุปสรรค: {public_count(r["reports"], K)}' if r["reports"] else ""
        items.append(f'<li><a class="t" href="{link}">{escape(r["title"])}</a><div class="muted">{escape(meta)}{reports}</div>'
                     f'<div>{escape(r["summary"][:220])}</div>{sections}</li>')
    if q:
        heading = f"ผลการค้นหา “{escape(q)}” {data['total']:,} ฉบับ" if items else f"ไม่พบกฎหมายที่ตรงกับ “{escape(q)}” ลองใช้คำอื่น เช่น ชื่อเรื่องหรือสถานการณ์ที่พบ"
    else:
        heading = f"กฎหมาย {data['total']:,} ฉบับ" + (" (กรองแล้ว)" if any(params.values()) else "")
    pager = ""
    if not q and data["total"] > LAWS_PER_PAGE:
        pages = (data["total"] + LAWS_PER_PAGE - 1) // LAWS_PER_PAGE
        links = []
        for n in range(1, pages + 1):
            query = urlencode({**{k: v for k, v in params.items() if v}, "page": n})
            links.append(f'<a class="{"on" if n == page_no else ""}" href="/laws?{query}">{n}</a>')
        pager = f'<div class="chips">หน้า {"".join(links)}</div>'
    body = f"""
<h1>ค้นหากฎหมาย</h1>
<p class="lead">ค้นจากชื่อกฎหมาย ชื่อเรียกทั่วไป หรือเล่าสถานการณ์ที่พบ เช่น “โดนทวงหนี้โหด” หรือ “เพื่อนบ้านเสียงดัง”
ระบบเดียวกับที่ผู้ช่วยในแชตใช้ ({data['laws']:,} ฉบับในระบบ)</p>
<form class="filters" method="get" action="/laws"><label>คำค้น<input type="search" name="q" id="q" value="{escape(q)}" size="40"
placeholder="เช่น พ.ร.บ.คอม หรือ ขายของออนไลน์แล้วไม่ได้ของ"></label><button type="submit" id="search">ค้นหา</button></form>
<div class="card"><div class="muted">หมวดหมู่</div><div class="chips" id="groups">{_chips("group", data["groups"], group, params)}</div>
<div class="muted">ประเภท</div><div class="chips">{_chips("type", data["types"], law_type, params)}</div>
<div class="muted">ปีที่ประกาศ (พ.ศ.)</div><div class="chips">{_chips("decade", data["decades"], raw_decade, params, lambda d: f"{d}–{d + 9}")}</div>
{'<div class="chips"><a href="/laws">ล้างตัวกรอง</a></div>' if any(params.values()) or q else ""}</div>
<h2 id="heading">{heading}</h2><ul class="results" id="results">{"".join(items)}</ul>{pager}
"""
    return html(page("ค้นหากฎหมาย", body, description="ค้นหากฎหมายไทยด้วยภาษาที่ใช้ในชีวิตประจำวัน"))


def _law(engine: Engine, law_id: int, q: str, section_page: int) -> dict[str, Any] | None:
    with session_scope(engine) as s:
        law = s.get(Law, law_id)
        if law is None:
            return None
        total = s.scalar(select(func.count()).select_from(LawSection).where(LawSection.law_id == law_id)) or 0
        sections = list(s.execute(select(LawSection.number, LawSection.text).where(LawSection.law_id == law_id)
                                  .order_by(LawSection.position).offset((section_page - 1) * SECTIONS_PER_PAGE).limit(SECTIONS_PER_PAGE)))
        hits = []
        if q:
            hit = next((h for h in search_laws(s, q, limit=10) if h.law_id == law_id), None)
            hits = [(sec.number, sec.snippet) for sec in hit.sections] if hit else []
        return {"title": law.title, "type": law.law_type, "year": law.year_be, "agency": law.agency, "summary": law.summary,
                "url": law.url, "groups": law.groups or [], "aliases": law.aliases or [], "total": total, "sections": sections,
                "hits": hits, "services": services_for_law(s, law), "demo": default_dataset(s) == DEMO,
                "reports": law_report_counts(s, demo=default_dataset(s) == DEMO).get(law_id, 0)}


async def law_page(request: Request) -> Response:
    state = request.app.state.gateway
    law_id = parse_number(request.path_params["law_id"], max_digits=INT_DIGITS, thai=False) or 0
    q = request.query_params.get("q", "").strip()[:200]
    raw = request.query_params.get("page", "1")
    section_page = max(1, parse_number(raw, max_digits=6, thai=False) or 1)
    data = await db(state.engine, _law, state.engine, law_id, q, section_page) if law_id else None
    if data is None:
        return html(page("ไม่พบกฎหมาย", '<h1>ไม่พบกฎหมายฉบับนี้</h1><p><a href="/laws">กลับไปค้นหากฎหมาย</a></p>'), status=404)
    meta = " · ".join(x for x in (data["type"], f"พ.ศ. {data['year']}" if data["year"] else "", data["agency"]) if x)
    official = (f'<a id="official" href="{escape(data["url"])}" rel="noopener">อ่านฉบับทางการ</a>' if data["url"].startswith("http")
                else '<span class="muted">ยังไม่มีลิงก์ฉบับทางการในระบบ</span>')
    services = "".join(
        f"<li>{escape(name)}" + (f' <span class="muted">(มาตรา {", ".join(escape(x) for x in sections)})</span>' if sections else "") + "</li>"
        for name, sections in data["services"])
    services_html = f'<ul id="services">{services}</ul>' if services else '<p class="muted" id="services">ยังไม่มีบริการในระบบที่อ้างอิงกฎหมายฉบับนี้</p>'
    hits = "".join(f'<div class="section hit"><b>มาตรา {escape(n)}</b> {escape(snippet)}</div>' for n, snippet in data["hits"])
    hits_html = f'<h2>มาตราที่ตรงกับ “{escape(q)}”</h2><div class="card">{hits}</div>' if hits else ""
    sections = "".join(f'<div class="section" id="s{escape(n)}"><b>มาตรา {escape(n)}</b> {escape(text)}</div>' for n, text in data["sections"])
    if not sections:
        sections = '<p class="muted">ยังไม่มีข้อความมาตราของกฎหมายฉบับนี้ในระบบ</p>'
    pages = (data["total"] + SECTIONS_PER_PAGE - 1) // SECTIONS_PER_PAGE
    pager = ""
    if pages > 1:
        pager = '<div class="chips">หน้า ' + "".join(
            f'<a class="{"on" if n == section_page else ""}" href="?{urlencode({"page": n, **({"q": q} if q else {})})}">{n}</a>'
            for n in range(1, pages + 1)) + "</div>"
    reports = data["reports"]
    body = f"""
<p><a href="/laws{('?' + urlencode({'q': q})) if q else ''}">← ค้นหากฎหมาย</a></p>
<h1 id="law-title">{escape(data["title"])}</h1><p class="lead">{escape(meta)}</p>
<div class="card"><p>{escape(data["summary"]) or '<span class="muted">ยังไม่มีคำอธิบายโดยย่อ</span>'}</p>
<p>{official}</p>
<p class="muted">ชื่อที่ใช้เรียก: {escape(", ".join(data["aliases"][:8])) or "—"} · หมวดหมู่: {escape(", ".join(data["groups"])) or "—"}</p></div>
<h2>บริการที่อาศัยกฎหมายฉบับนี้</h2><div class="card">{services_html}</div>
<h2>เสียงจากประชาชน</h2><div class="card" id="obstacles"><p>รายงานว่ากฎหมายนี้เป็นอุปสรรคต่อการรับบริการ: <b>{public_count(reports, K)}</b>{" (ข้อมูลสาธิต)" if data["demo"] else ""}</p>
<p class="muted">หากกฎหมายหรือขั้นตอนนี้ทำให้การติดต่อราชการยุ่งยาก แจ้งได้ในแชตของผู้ช่วย โดยพิมพ์ “กฎหมายนี้เป็นอุปสรรค” ตามด้วยเหตุผล
ความเห็นจะถูกปิดบังข้อมูลส่วนตัวและส่งต่อให้หน่วยงานที่ทบทวนกฎหมาย (รัฐธรรมนูญ มาตรา 77)</p></div>
{hits_html}
<h2>ตัวบท ({data["total"]:,} มาตรา)</h2><div class="card" id="sections">{sections}{pager}</div>
"""
    return html(page(data["title"], body, description=data["summary"][:160]))


def routes() -> list[Route]:
    """The public routes; mounted by connectors.app.create_app (docs/security.md)."""
    return [
        Route("/stats", stats_page),
        Route("/open-data/requests.csv", open_data_csv),
        Route("/open-data/requests.json", open_data_json),
        Route("/laws", laws_page),
        Route("/laws/{law_id}", law_page),
    ]



"""ask_agency_stats: "สถิติกรมที่ดิน", "หน่วยงานไหนแก้เรื่องไฟถนนเร็วที่สุด", answered from the public figures.

The figures are `storage.stats.published()` — the same suppressed numbers as /stats and the open
data (docs/open-data.md), so a chat answer never reveals a cell the page withholds.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import db
from actions.services import latest_entity
from common.settings import get_settings
from storage.agencies import get_agency
from storage.services import Service, ServiceMatch, find_services, key
from storage.stats import DEMO, OTHER_AGENCY, Figures, Published, fastest_for_service, published

Events = list[dict[str, Any]]
_TOPIC = re.compile(r".*(?:เรื่อง|แก้|ซ่อม|บริการ)\s*(.+?)\s*(?:ได้)?\s*(?:เร็ว|ไว|นาน|ช้า|กี่|ดีที่สุด)")
_FASTEST = re.compile(r"เร็วที่สุด|เร็วสุด|ไวที่สุด|ไวสุด|ไหนเร็ว|ที่ไหนดี|หน่วยงานไหน|อันดับ")


def _hours(hours: float | None) -> str:
    if hours is None:
        return "ยังมีข้อมูลไม่พอ"
    return f"{hours:.1f} ชั่วโมง" if hours < 48 else f"{hours / 24:.1f} วัน"


def describe(name: str, f: Figures) -> str:
    """One agency's or service's figures as a polite Thai paragraph."""
    parts = [f"รับคำร้อง {f.received:,} เรื่อง ดำเนินการเสร็จ {f.resolved:,} เรื่อง ({f.resolved_pct or 0:.1f}%) ยังดำเนินการอยู่ {f.open:,} เรื่อง"]
    if f.rejected or f.cancelled:
        parts.append(f"ไม่สามารถดำเนินการได้ {f.rejected:,} เรื่อง ผู้ยื่นยกเลิก {f.cancelled:,} เรื่อง")
    parts.append(f"เวลาตอบครั้งแรก (มัธยฐาน) {_hours(f.median_first_response_hours)} · เวลาปิดเรื่อง (มัธยฐาน) {_hours(f.median_close_hours)}")
    if f.reopened:
        parts.append(f"ประชาชนแจ้งว่ายังไม่เสร็จจริง {f.reopened:,} เรื่อง")
    parts.append(f"ความพึงพอใจเฉลี่ย {f.rating_avg:.2f}/5 จาก {f.ratings:,} คะแนน" if f.rating_avg is not None else "คะแนนความพึงพอใจยังมีไม่พอจะเผยแพร่")
    return f"📊 {name}\n" + "\n".join(f"• {p}" for p in parts)


def _footer(pub: Published) -> str:
    base = get_settings().public_base_url
    where = f"{base}/stats" if base else "หน้า \"สถิติหน่วยงาน\" บนเว็บไซต์"
    demo = "\n(ข้อมูลสาธิต ไม่ใช่คำร้องจริง)" if pub.dataset == DEMO else ""
    return f"{demo}\nกลุ่มที่มีคำร้องน้อยกว่า 5 เรื่องจะไม่แสดงแยก ดูกราฟและดาวน์โหลดข้อมูลเปิดได้ที่ {where}"


def answer(pub: Published, *, agency: str | None, service: str | None, fastest: bool) -> str:
    """The Thai answer for an agency, a service ranking, or the overall picture."""
    if service and (fastest or not agency):
        ranked = fastest_for_service(pub, service)
        timed = [(a, f) for a, f in ranked if f.median_close_hours is not None and a != OTHER_AGENCY]
        if not ranked:
            return f"ยังไม่มีสถิติของบริการ {service} ที่เผยแพร่ได้ครับ (ต้องมีคำร้องอย่างน้อย 5 เรื่องต่อสัปดาห์ต่อหน่วยงาน)" + _footer(pub)
        if not timed:
            return f"บริการ {service} ยังมีเรื่องที่ปิดแล้วไม่พอจะเทียบความเร็วได้ครับ\n" + describe(f"{service} · {ranked[0][0]}", ranked[0][1]) + _footer(pub)
        lines = [f"{i}. {a} — ปิดเรื่องภายใน {_hours(f.median_close_hours)} (มัธยฐาน) เสร็จ {f.resolved_pct or 0:.1f}% จาก {f.received:,} เรื่อง"
                 for i, (a, f) in enumerate(timed[:5], start=1)]
        return f"🏁 หน่วยงานที่แก้เรื่อง {service} เร็วที่สุด\n" + "\n".join(lines) + _footer(pub)
    if agency:
        row = pub.agency(agency)
        if row is None:
            return f"ยังไม่มีสถิติของ {agency} ที่เผยแพร่ได้ครับ (ต้องมีคำร้องอย่างน้อย 5 เรื่องต่อสัปดาห์)" + _footer(pub)
        text = describe(agency, row.figures)
        if service:
            cell = next((s for s in row.services if s.service == service), None)
            if cell is not None:
                text = describe(f"{agency} · {service}", cell.figures)
        elif row.services:
            text += "\nบริการที่มีคำร้องมากที่สุด: " + ", ".join(f"{s.service} ({s.figures.received:,})" for s in row.services[:3])
        if row.forwarded:
            text += f"\n• ส่งต่อให้หน่วยงานอื่นที่รับผิดชอบ {row.forwarded:,} เรื่อง"
        return text + _footer(pub)
    if not pub.agencies:
        return "ยังไม่มีสถิติที่เผยแพร่ได้ครับ" + _footer(pub)
    text = describe("ภาพรวมทุกหน่วยงาน", pub.totals)
    text += "\nหน่วยงานที่มีคำร้องมากที่สุด: " + ", ".join(f"{a.agency} ({a.figures.received:,})" for a in pub.agencies[:3] if a.agency != OTHER_AGENCY)
    return text + _footer(pub)


class ActionAgencyStats(Action):
    def name(self) -> str:
        return "action_agency_stats"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        text = (tracker.latest_message.get("text") or "").strip()
        with db.session() as s:
            pub = published(s)
            agency_name = latest_entity(tracker, "agency")
            agency = get_agency(s, agency_name) if agency_name else None
            if agency is None:  # "สถิติกรมที่ดิน" without an entity: a published agency named in the text
                agency_hit = next((a.agency for a in pub.agencies if a.agency != OTHER_AGENCY and a.agency in text), None)
            else:
                agency_hit = agency.name
            service_name = latest_entity(tracker, "service")
            match = find_services(s, entity=service_name, text=None if service_name else text)
            fastest = bool(_FASTEST.search(text))
            topic = _TOPIC.search(text)
            if not match.services and topic:  # "แก้เรื่องไฟถนนเร็วที่สุด": the topic is part of a service's name or alias
                wanted = key(topic.group(1))
                found = [x for x in s.scalars(select(Service).order_by(Service.id)) if wanted and wanted in x.match_text]
                match = ServiceMatch(found[:1], "contained" if found else "none")
            loose = fastest or agency_hit is None  # "ไฟถนน" for ไฟถนนดับ, unless an agency was named
            accepted = ("exact", "alias", "contained") + (("words", "fuzzy") if loose else ())
            service = match.services[0].name if match.services and match.how in accepted else None
            dispatcher.utter_message(text=answer(pub, agency=agency_hit, service=service, fastest=fastest))
        return []

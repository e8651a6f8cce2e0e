"""search_law: find laws for a name, a topic, an everyday situation or a section.

- "<law> มาตรา N" (any writing: ป.อาญา / ประมวลกฎหมายอาญา / กฎหมายอาญา, ม.341, มาตรา ๓๔๑)
  shows that section's text, trimmed to fit a LINE message, with the official link and the
  date the text is as of.
- "มาตราไหน..." about a topic shows the best matching sections of the best law.
- Anything else lists the laws above the relevance floor, each linking to its official text;
  when no law fits, the citizen hears so and where to ask.

Card buttons carry the law's own id (`/search_law{"law_id": "123", "law_topic": "..."}`), so an
old card opens its own law whatever was searched since. The results are also remembered
(slots `law_results`, `law_query`) for typed follow-ups such as "อันที่สอง".
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import db
from actions.official_parsing import entity_values
from actions.services import utter_service_card
from common.numbers import parse_number
from common.replies import button, card, cards
from common.thai_datetime import MONTHS_FULL
from storage.laws.corpus import CORPUS_DATE, corpus_date
from storage.laws.search import LawHit, search_laws
from storage.laws.sections import SectionLookup, best_sections, find_section, section_text
from storage.laws.text import clean_title, terms
from storage.models.laws import Law
from storage.services import find_services

# Menu-button payloads carry no words to search for.
_NO_QUERY = {"", "/search_law"}
_ORDINALS = {"แรก": 1, "หนึ่ง": 1, "สอง": 2, "สาม": 3, "สี่": 4, "ห้า": 5, "หก": 6, "เจ็ด": 7, "แปด": 8, "เก้า": 9, "สิบ": 10}
_PICK = re.compile(r"(?:อัน|ฉบับ|ข้อ|รายการ|ตัว)\s*(?:ที่)?\s*(แรก|หนึ่ง|สอง|สาม|สี่|ห้า|หก|เจ็ด|แปด|เก้า|สิบ|[1-9])(?![0-9])")
_SECTIONS = re.compile(r"(มาตรา(?:ที่)?(?:เกี่ยวข้อง|ที่เกี่ยว|ไหน|อะไร)|ดูมาตรา(?!\s*[0-9๐-๙])|รายละเอียด(?:เพิ่ม)?)")
# "ทำไงดี", "ต้องทำยังไง", "ช่วยด้วย": the person needs to act, not only to read the law.
_HELP_SEEKING = re.compile(
    r"ทำ\s*(ไง|ยังไง|ยังงัย|อย่างไร)|ต้องทำ|ช่วยด้วย|ช่วยหน่อย|แก้\s*(ไข)?\s*(ยังไง|ไง|อย่างไร)"
    r"|what (should|can|do) i do|help me", re.I)


def situation_service(session: Any, query: str) -> Any:
    """The one service whose name or alias the help-seeking message itself mentions (its card has the
    hotline and where to report); None for any other message, or when the words fit several."""
    if not _HELP_SEEKING.search(query):
        return None
    match = find_services(session, text=query)
    return match.single if match.how in ("exact", "alias", "contained") else None


# A topic question that asks for sections rather than laws: "มาตราไหนพูดถึงค่าชดเชย".
_WANTS_SECTIONS = re.compile(r"มาตรา\s*(?:ไหน|ใด|อะไร|ที่เกี่ยว)|which section|what section")
# Where a citizen can ask when no law in the catalog fits (also on the card, as a link).
OFFICIAL_SEARCH = "https://www.krisdika.go.th"
SECTION_BUDGET = 1500  # characters of section text in one reply (a LINE bubble stays readable)
LINE_CHARS = 450  # per card line (the LINE renderer cuts lines at 500)


def follow_up_pick(text: str) -> int | None:
    """1-based position a follow-up refers to ("อันที่สอง" -> 2, "ขอดูมาตราที่เกี่ยวข้อง" -> 1), else None."""
    text = text.translate(str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789"))
    match = _PICK.search(text)
    sections = _SECTIONS.search(text)
    rest = _SECTIONS.sub(" ", _PICK.sub(" ", text))
    if not (match or sections) or not _too_vague(re.sub(r"ขอ|ดู|ของ|อ่าน|เปิด|หน่อย|ครับ|ค่ะ|คะ|นะ|ที่เกี่ยวข้อง|เกี่ยวข้อง|ทั้งหมด", " ", rest)):
        return None  # a new question that happens to mention sections
    if match:
        word = match.group(1)
        return _ORDINALS.get(word) or int(word)
    return 1


def _too_vague(query: str) -> bool:
    return not terms(query, drop_stopwords=True)


def thai_date(day: date) -> str:
    return f"{day.day} {MONTHS_FULL[day.month - 1]} {day.year + 543}"


def as_of_line(day: date | None) -> str:
    when = f"ข้อมูล ณ วันที่ {thai_date(day)} " if day else ""
    return f"{when}กฎหมายอาจมีการแก้ไขภายหลัง โปรดตรวจสอบฉบับล่าสุดจากลิงก์ทางการ"


def section_lines(body: str, budget: int = SECTION_BUDGET) -> list[str]:
    """Section text as card lines: the heading dropped (the title says it), paragraphs kept, trimmed to `budget`."""
    body = re.sub(r"^\s*มาตรา\s*[0-9๐-๙/]+(?:\s*(?:ทวิ|ตรี|จัตวา|เบญจ|ฉ|สัตต|อัฏฐ|นว|ทศ)(?![ก-๙]))?\s*", "", body.strip())
    paragraphs = [" ".join(p.split()) for p in body.split("\n") if p.strip()]
    lines: list[str] = []
    for paragraph in paragraphs:  # "(๑)" alone on a line joins the text after it
        if lines and (re.fullmatch(r"\([0-9๐-๙]+\)", lines[-1]) or len(lines[-1]) + len(paragraph) < 120):
            lines[-1] = f"{lines[-1]} {paragraph}"
        else:
            lines.append(paragraph)
    out: list[str] = []
    used = 0
    for line in lines:
        while line and len(out) < 8:
            room = min(LINE_CHARS, budget - used)
            if room <= 40:
                break
            piece, line = line[:room], line[room:]
            out.append(piece)
            used += len(piece)
        if used >= budget - 40 or len(out) >= 8:
            break
    trimmed = sum(len(x) for x in lines) > used
    if trimmed and out:
        out[-1] = out[-1].rstrip() + " …"
        out.append("(ข้อความยาว ตัดมาเพียงบางส่วน อ่านต่อได้จากลิงก์ด้านล่างครับ)")
    return out or ["(ไม่มีข้อความ)"]


def _official_link(url: str) -> dict[str, str]:
    if url.startswith("http"):
        return {"label": "อ่านฉบับเต็ม (สำนักงานคณะกรรมการกฤษฎีกา)", "url": url}
    return {"label": "ค้นฉบับทางการที่สำนักงานคณะกรรมการกฤษฎีกา", "url": OFFICIAL_SEARCH}


def law_payload(law_id: int, topic: str = "", section: str | None = None) -> str:
    """A button payload that opens this law (and section) whatever the latest search was."""
    entities: dict[str, str] = {"law_id": str(law_id)}
    if topic:
        entities["law_topic"] = topic[:80]
    if section:
        entities["law_section"] = section
    return "/search_law" + json.dumps(entities, ensure_ascii=False)


def _subtitle(law_type: str, year_be: int | None) -> str | None:
    return " · ".join(x for x in (law_type, f"พ.ศ. {year_be}" if year_be else "") if x) or None


class ActionSearchLaw(Action):
    def name(self) -> str:
        return "action_search_law"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = (tracker.latest_message.get("text") or "").strip()
        entities = tracker.latest_message.get("entities") or []
        topics = entity_values(entities, "law_topic")
        law_ids = [n for n in (parse_number(v, thai=False) for v in entity_values(entities, "law_id")) if n is not None]
        if law_ids:  # a card's button: this law, whatever the latest search was
            sections = entity_values(entities, "law_section")
            return self._open_law(dispatcher, law_ids[0], topic=" ".join(topics), section=sections[0] if sections else None)
        query = text if not text.startswith("/") else " ".join(topics)
        previous = [n for n in (parse_number(str(x), thai=False) for x in tracker.get_slot("law_results") or []) if n is not None]
        pick = follow_up_pick(query)
        if pick is not None and previous:
            if not 1 <= pick <= len(previous):
                dispatcher.utter_message(response="utter_law_pick_out_of_range", count=str(len(previous)))
                return []
            return self._open_law(dispatcher, previous[pick - 1], topic=tracker.get_slot("law_query") or "")
        if pick is not None or query in _NO_QUERY or _too_vague(query):
            dispatcher.utter_message(response="utter_ask_law_query")
            return []
        with db.session() as s:
            lookup = find_section(s, query, context_law_ids=previous)
            if lookup is not None:
                return self._show_section(dispatcher, s, lookup)
            hits = search_laws(s, query, limit=5)
            if not hits:
                # "บัตรปชชหายทำไงดี": no law fits, but a service does; its card says where to go
                service = find_services(s, text=query).single
                if service is not None:
                    utter_service_card(dispatcher, s, service)
                    return []
                dispatcher.utter_message(response="utter_no_law_fits")
                return []
            service = situation_service(s, query)
            if service is not None:  # "โดนโกงออนไลน์ทำไงดี": where to report (1441) first, then the laws
                utter_service_card(dispatcher, s, service)
            if _WANTS_SECTIONS.search(query.lower()):
                self._show_best_sections(dispatcher, s, hits[0], query)
            else:
                items = [self._law_card(hit, query) for hit in hits]
                dispatcher.utter_message(response="utter_law_results", json_message=cards(f"กฎหมายที่เกี่ยวข้อง {len(items)} ฉบับ", items))
        return [SlotSet("law_results", [hit.law_id for hit in hits]), SlotSet("law_query", query)]

    @staticmethod
    def _law_card(hit: LawHit, query: str) -> dict[str, Any]:
        lines = [hit.summary] if hit.summary else []
        lines += [f"มาตรา {sec.number}: {sec.snippet}" for sec in hit.sections[:2]]
        return card(hit.title, subtitle=_subtitle(hit.law_type, hit.year_be), lines=lines[:3], link=_official_link(hit.url),
                    buttons=[button("ดูมาตราที่เกี่ยวข้อง", law_payload(hit.law_id, query)),
                             button("กฎหมายนี้เป็นอุปสรรค", "/report_obstacle" + json.dumps({"law_topic": hit.title}, ensure_ascii=False))])

    def _show_section(self, dispatcher: CollectingDispatcher, s: Any, lookup: SectionLookup) -> list[dict[str, Any]]:
        number = lookup.ref.number
        if lookup.law_id is None:
            dispatcher.utter_message(response="utter_ask_law_for_section", number=number)
            return []
        law = s.get(Law, lookup.law_id)
        if lookup.section is None:
            has_text = law is not None and bool(law.sections)
            dispatcher.utter_message(response="utter_law_section_not_found" if has_text else "utter_law_text_missing",
                                     number=number, law=lookup.law_title)
            if law is not None:
                item = card(lookup.law_title, subtitle=_subtitle(law.law_type, law.year_be), lines=[law.summary] if law.summary else [],
                            link=_official_link(law.url), buttons=[button("ดูมาตราที่เกี่ยวข้อง", law_payload(law.id))])
                dispatcher.utter_message(json_message=cards(lookup.law_title, [item]))
            return [SlotSet("law_results", [lookup.law_id])]
        section = lookup.section
        dated = corpus_date(s) or (CORPUS_DATE if law is not None and law.from_corpus else None)
        item = card(f"{section.law_title} มาตรา {section.number}", subtitle=None,
                    lines=[*section_lines(section.text), as_of_line(dated)], link=_official_link(section.url),
                    buttons=[button("มาตราอื่นที่เกี่ยวข้อง", law_payload(section.law_id, lookup.ref.rest))])
        dispatcher.utter_message(response="utter_law_section", json_message=cards(f"{section.law_title} มาตรา {section.number}", [item]))
        return [SlotSet("law_results", [section.law_id]), SlotSet("law_query", lookup.ref.rest)]

    def _show_best_sections(self, dispatcher: CollectingDispatcher, s: Any, hit: LawHit, query: str) -> None:
        law = s.get(Law, hit.law_id)
        self._utter_sections(dispatcher, s, law, query)

    def _utter_sections(self, dispatcher: CollectingDispatcher, s: Any, law: Law, topic: str) -> None:
        title = clean_title(law.title)
        found = best_sections(s, law.id, topic, limit=3) if law.sections else []
        dated = corpus_date(s) or (CORPUS_DATE if law.from_corpus else None)
        lines = [law.summary] if law.summary else []
        buttons = []
        for sec in found:
            excerpt = " ".join(section_lines(sec.text, budget=220)[:1])
            lines.append(f"มาตรา {sec.number}: {excerpt}")
            buttons.append(button(f"อ่านมาตรา {sec.number}", law_payload(law.id, section=sec.number)))
        if found:
            lines.append(as_of_line(dated))
        else:
            lines.append("ยังไม่มีข้อความมาตราของกฎหมายฉบับนี้ในระบบ อ่านฉบับทางการได้จากลิงก์ด้านล่างครับ")
        item = card(title, subtitle=_subtitle(law.law_type, law.year_be), lines=lines, link=_official_link(law.url), buttons=buttons)
        dispatcher.utter_message(response="utter_law_sections", json_message=cards(title, [item]))

    def _open_law(self, dispatcher: CollectingDispatcher, law_id: int, *, topic: str = "", section: str | None = None) -> list[dict[str, Any]]:
        with db.session() as s:
            law = s.get(Law, law_id)
            if law is None:
                dispatcher.utter_message(response="utter_law_gone")
                return []
            if section:
                found = section_text(s, law_id, section)
                if found is not None:
                    dated = corpus_date(s) or (CORPUS_DATE if law.from_corpus else None)
                    item = card(f"{found.law_title} มาตรา {found.number}", subtitle=None,
                                lines=[*section_lines(found.text), as_of_line(dated)], link=_official_link(found.url),
                                buttons=[button("มาตราอื่นที่เกี่ยวข้อง", law_payload(law_id, topic))])
                    dispatcher.utter_message(response="utter_law_section", json_message=cards(item["title"], [item]))
                    return []
            self._utter_sections(dispatcher, s, law, topic)
        return []


__all__ = ["ActionSearchLaw", "button", "follow_up_pick", "law_payload", "section_lines"]

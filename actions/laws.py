"""search_law: find laws for a name, a topic or an everyday situation.

The results are remembered (slots `law_results`, `law_query`), so that a follow-up
such as "ขอดูมาตราที่เกี่ยวข้อง" or "อันที่สอง" opens one of them with its best
matching sections instead of starting a new search.
"""

from __future__ import annotations

from typing import Any

import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import db
from actions.official_parsing import entity_values
from common.replies import button, card, cards
from storage.laws.search import search_laws
from storage.laws.text import terms
from storage.models.laws import Law

# Menu-button payloads carry no words to search for.
_NO_QUERY = {"", "/search_law"}
_ORDINALS = {"แรก": 1, "หนึ่ง": 1, "สอง": 2, "สาม": 3, "สี่": 4, "ห้า": 5, "หก": 6, "เจ็ด": 7, "แปด": 8, "เก้า": 9, "สิบ": 10}
_PICK = re.compile(r"(?:อัน|ฉบับ|ข้อ|รายการ|ตัว)\s*(?:ที่)?\s*(แรก|หนึ่ง|สอง|สาม|สี่|ห้า|หก|เจ็ด|แปด|เก้า|สิบ|[1-9])(?![0-9])")
_SECTIONS = re.compile(r"(มาตรา(?:ที่)?(?:เกี่ยวข้อง|ที่เกี่ยว|ไหน|อะไร)|ดูมาตรา(?!\s*[0-9๐-๙])|รายละเอียด(?:เพิ่ม)?)")


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


class ActionSearchLaw(Action):
    def name(self) -> str:
        return "action_search_law"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = (tracker.latest_message.get("text") or "").strip()
        topics = entity_values(tracker.latest_message.get("entities") or [], "law_topic")
        query = text if not text.startswith("/") else " ".join(topics)
        previous = tracker.get_slot("law_results") or []
        pick = follow_up_pick(query)
        if pick is not None and previous:
            return self._open(dispatcher, tracker, previous, pick)
        if pick is not None or query in _NO_QUERY or _too_vague(query):
            dispatcher.utter_message(response="utter_ask_law_query")
            return []
        with db.session() as s:
            hits = search_laws(s, query, limit=5)
            items = []
            for hit in hits:
                lines = [hit.summary] if hit.summary else []
                lines += [f"มาตรา {sec.number}: {sec.snippet}" for sec in hit.sections[:2]]
                subtitle = " · ".join(x for x in (hit.law_type, f"พ.ศ. {hit.year_be}" if hit.year_be else "") if x)
                link = {"label": "อ่านฉบับเต็ม", "url": hit.url} if hit.url.startswith("http") else None
                position = len(items) + 1
                items.append(card(hit.title, subtitle=subtitle or None, lines=lines[:3], link=link,
                                  buttons=[button("ดูมาตราที่เกี่ยวข้อง", '/search_law{"law_topic": "ฉบับที่ %d"}' % position)]))
            law_ids = [hit.law_id for hit in hits]
        if not items:
            dispatcher.utter_message(response="utter_no_law_found")
            return []
        dispatcher.utter_message(
            response="utter_law_results",
            json_message=cards(f"กฎหมายที่เกี่ยวข้อง {len(items)} ฉบับ", items),
        )
        return [SlotSet("law_results", law_ids), SlotSet("law_query", query)]

    def _open(self, dispatcher: CollectingDispatcher, tracker: Tracker, law_ids: list[int], pick: int) -> list[dict[str, Any]]:
        if not 1 <= pick <= len(law_ids):
            dispatcher.utter_message(response="utter_law_pick_out_of_range", count=str(len(law_ids)))
            return []
        law_id = law_ids[pick - 1]
        query = tracker.get_slot("law_query") or ""

        with db.session() as s:
            hit = next((h for h in search_laws(s, query, limit=10) if h.law_id == law_id), None) if query else None
            law = s.get(Law, law_id)
            if law is None:
                dispatcher.utter_message(response="utter_no_law_found")
                return []
            lines = [law.summary] if law.summary else []
            sections = hit.sections if hit is not None else []
            lines += [f"มาตรา {sec.number}: {sec.snippet}" for sec in sections]
            if not sections:
                lines.append("ยังไม่มีข้อความมาตราของกฎหมายฉบับนี้ในระบบ อ่านฉบับเต็มได้จากลิงก์ด้านล่างครับ")
            url = law.url or ""
            item = card(law.title, subtitle=f"{law.law_type} พ.ศ. {law.year_be}" if law.year_be else law.law_type,
                        lines=lines, link={"label": "อ่านฉบับเต็ม", "url": url} if url.startswith("http") else None,
                        buttons=[button("กฎหมายนี้เป็นอุปสรรค", '/report_obstacle{"law_topic": "%s"}' % law.title)])  # issue #24
            dispatcher.utter_message(response="utter_law_sections", json_message=cards(law.title, [item]))
        return []


__all__ = ["ActionSearchLaw", "button"]

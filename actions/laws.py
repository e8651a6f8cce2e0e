"""search_law: find laws for a name, a topic or an everyday situation."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import db
from actions.official_parsing import entity_values
from bot.replies import button, card, cards
from storage.laws.search import search_laws

# Menu-button payloads carry no words to search for.
_NO_QUERY = {"", "/search_law"}


class ActionSearchLaw(Action):
    def name(self) -> str:
        return "action_search_law"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = (tracker.latest_message.get("text") or "").strip()
        topics = entity_values(tracker.latest_message.get("entities") or [], "law_topic")
        query = text if not text.startswith("/") else " ".join(topics)
        if query in _NO_QUERY:
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
                items.append(card(hit.title, subtitle=subtitle or None, lines=lines[:3], link=link))
        if not items:
            dispatcher.utter_message(response="utter_no_law_found")
            return []
        dispatcher.utter_message(
            response="utter_law_results",
            json_message=cards(f"กฎหมายที่เกี่ยวข้อง {len(items)} ฉบับ", items),
        )
        return []


__all__ = ["ActionSearchLaw", "button"]

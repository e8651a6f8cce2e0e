"""ask_service_info: what a government service needs, from the service catalog."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import db
from actions.service_cards import card_message
from common.replies import button
from common.wording.laws import citation
from storage.agencies import get_agency
from storage.service_laws import laws_for_service
from storage.services import Service, find_services

Events = list[dict[str, Any]]


# Words that say what kind of thing is wanted, not which service: a "service" entity that covers only one
# of them ("อยาก[ร้องเรียน]ค่ะ", "ขอ[ใบอนุญาต]เลี้ยงจระเข้") names none, whatever the synonym mapper made of it.
GENERIC_SERVICE_WORDS = frozenset({
    "ร้องเรียน", "ร้องทุกข์", "แจ้ง", "แจ้งเรื่อง", "แจ้งปัญหา", "คำร้อง", "ยื่นคำร้อง", "ใบอนุญาต", "ขออนุญาต",
    "บริการ", "เรื่อง", "เอกสาร", "ลงทะเบียน", "ขึ้นทะเบียน", "ทะเบียน", "บัตร", "ใบรับรอง", "หนังสือรับรอง",
})


def _said(tracker: Tracker, entity: dict[str, Any]) -> str:
    text = tracker.latest_message.get("text") or ""
    start, end = entity.get("start"), entity.get("end")
    return text[start:end].strip() if isinstance(start, int) and isinstance(end, int) else str(entity.get("value") or "")


def generic_service_only(tracker: Tracker, value: str) -> bool:
    """`value` came from the message's service entities and they are all generic words (GENERIC_SERVICE_WORDS)."""
    found = [e for e in tracker.latest_message.get("entities") or [] if e.get("entity") == "service"]
    return (any(str(e.get("value") or "") == value for e in found)
            and all(_said(tracker, e) in GENERIC_SERVICE_WORDS for e in found))


def latest_entity(tracker: Tracker, name: str) -> str | None:
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == name and entity.get("value"):
            if name == "service" and _said(tracker, entity) in GENERIC_SERVICE_WORDS:
                continue
            return str(entity["value"])
    return None


def choice_buttons(services: list[Service], intent: str) -> list[dict[str, str]]:
    return [button(s.name, '/%s{"service": "%s"}' % (intent, s.name)) for s in services[:10]]



def utter_service_card(dispatcher: CollectingDispatcher, session, service: Service) -> None:  # type: ignore[no-untyped-def]
    """The service's card (documents, fees, where, the agency's phone, the laws it rests on)."""
    agency = get_agency(session, service.agency)
    dispatcher.utter_message(response="utter_service_info_intro", service=service.name,
                             json_message=card_message(service, agency.phone if agency else None, law_citations(session, service.name)))


def law_citations(session, service: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The acts (and sections) a service rests on, worded for its card."""
    return [citation(ref.title, ref.sections) for ref in laws_for_service(session, service)]

class ActionServiceInfo(Action):
    def name(self) -> str:
        return "action_service_info"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        entity = latest_entity(tracker, "service")
        text = tracker.latest_message.get("text") or ""
        with db.session() as s:
            match = find_services(s, entity=entity, text=None if text.startswith("/") else text)
            if match.single is not None:
                utter_service_card(dispatcher, s, match.single)
                return [SlotSet("service", match.single.name)]
            if match.services:
                dispatcher.utter_message(response="utter_which_service", buttons=choice_buttons(match.services, "ask_service_info"))
                return []
        dispatcher.utter_message(response="utter_service_unknown")
        return []


"""ask_service_info: what a government service needs, from the service catalog."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import db
from common.replies import button, card, cards
from storage.services import Service, find_services, get_agency

Events = list[dict[str, Any]]


def latest_entity(tracker: Tracker, name: str) -> str | None:
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == name and entity.get("value"):
            return str(entity["value"])
    return None


def service_card(service: Service, agency_phone: str | None = None) -> dict[str, Any]:
    fields = [("หน่วยงาน", service.agency), ("ค่าธรรมเนียม", service.fee or "-"), ("ระยะเวลา", service.duration or "-")]
    if agency_phone:
        fields.append(("โทร", agency_phone))
    lines = [service.summary] if service.summary else []
    if service.documents:
        lines.append("เอกสารที่ต้องใช้:")
        lines += [f"• {d}" for d in service.documents]
    if service.where_to:
        lines.append(f"ยื่นที่: {service.where_to}")
    if service.how:
        lines.append(f"ขั้นตอน: {service.how}")
    action = "แจ้งเรื่องนี้" if service.kind in ("report", "complaint") else "ยื่นคำร้องผ่านแชต"
    return card(
        service.name,
        subtitle=service.agency,
        lines=lines,
        fields=fields,
        link={"label": "เว็บไซต์หน่วยงาน", "url": service.url} if service.url else None,
        buttons=[button(action, '/request_service{"service": "%s"}' % service.name)],
    )


def choice_buttons(services: list[Service], intent: str) -> list[dict[str, str]]:
    return [button(s.name, '/%s{"service": "%s"}' % (intent, s.name)) for s in services[:10]]


class ActionServiceInfo(Action):
    def name(self) -> str:
        return "action_service_info"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        entity = latest_entity(tracker, "service")
        text = tracker.latest_message.get("text") or ""
        with db.session() as s:
            match = find_services(s, entity=entity, text=None if text.startswith("/") else text)
            if match.single is not None:
                service = match.single
                agency = get_agency(s, service.agency)
                payload = card_message(service, agency.phone if agency else None)
                dispatcher.utter_message(response="utter_service_info_intro", service=service.name, json_message=payload)
                return [SlotSet("service", service.name)]
            if match.services:
                dispatcher.utter_message(response="utter_which_service", buttons=choice_buttons(match.services, "ask_service_info"))
                return []
        dispatcher.utter_message(response="utter_service_unknown")
        return []


def card_message(service: Service, phone: str | None) -> dict[str, Any]:
    docs = ", ".join(service.documents[:4]) if service.documents else "-"
    alt = f"{service.name} ({service.agency}) เอกสาร: {docs} · ค่าธรรมเนียม: {service.fee or '-'} · ระยะเวลา: {service.duration or '-'}"
    return cards(alt, [service_card(service, phone)])

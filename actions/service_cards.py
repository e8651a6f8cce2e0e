"""The service feature's card (what a service needs), shared by its action and `bot services show`.

No rasa_sdk here: the CLI shows the same card without loading the action server's SDK.
"""

from __future__ import annotations

from typing import Any

from common.replies import button, card, cards
from storage.services import Service, in_person_only


def service_card(service: Service, agency_phone: str | None = None, laws: list[str] | None = None) -> dict[str, Any]:
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
    if laws:  # the laws the service rests on (storage/service_laws.py, issue #24)
        lines.append("กฎหมายที่เกี่ยวข้อง:")
        lines += [f"• {law}" for law in laws]
    buttons = [button("ขั้นตอนนี้ยุ่งยาก", '/report_obstacle{"service": "%s"}' % service.name)]
    if in_person_only(service.name):  # a passport or an ID card needs the person there: no chat filing to offer
        lines.append("บริการนี้ต้องไปยื่นด้วยตนเองที่หน่วยงาน ยื่นผ่านแชตไม่ได้ครับ")
    else:
        action = "แจ้งเรื่องนี้" if service.kind in ("report", "complaint") else "ยื่นคำร้องผ่านแชต"
        buttons.insert(0, button(action, '/request_service{"service": "%s"}' % service.name))
    return card(
        service.name,
        subtitle=service.agency,
        lines=lines,
        fields=fields,
        link={"label": "เว็บไซต์หน่วยงาน", "url": service.url} if service.url else None,
        buttons=buttons,
    )


def card_message(service: Service, phone: str | None, laws: list[str] | None = None) -> dict[str, Any]:
    docs = ", ".join(service.documents[:4]) if service.documents else "-"
    alt = f"{service.name} ({service.agency}) เอกสาร: {docs} · ค่าธรรมเนียม: {service.fee or '-'} · ระยะเวลา: {service.duration or '-'}"
    return cards(alt, [service_card(service, phone, laws)])

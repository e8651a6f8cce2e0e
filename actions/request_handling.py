"""update_request_status: officials of the responsible agency move citizens' requests on.

"REQ-000123 รับเรื่องแล้ว", "REQ-000123 ไม่อนุมัติ เอกสารไม่ครบ", "ส่งต่อ REQ-000123 ให้กรมที่ดิน".
Only officials of the agency the request is with may touch it; the citizen hears
about every change (storage.requests queues the notices).
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import db
from actions.identity import speaker_of
from actions.services import latest_entity
from bot.replies import button
from storage.agencies import CHOICE, CONFIRM, FALLBACK_DESK, Resolution, resolve_agency
from storage.ids import format_request_id, parse_request_id
from storage.officials import PermissionDenied, require_official
from storage.requests import (
    OFFICIAL_STATUSES,
    STATUS_THAI,
    InvalidTransition,
    NotYourAgency,
    RequestClosed,
    RequestNotFound,
    UnstaffedAgency,
    forward_request,
    update_request_status,
)

Events = list[dict[str, Any]]
FORWARD = re.compile(r"ส่งต่อ|โอนเรื่อง|forward|ส่งให้|ส่งเรื่องให้")


def _note(text: str, entities: list[dict[str, Any]]) -> str:
    """What the official wrote besides the ID and the status words: the reason or note."""
    if text.startswith("/"):
        return ""
    spans = sorted((e["start"], e["end"]) for e in entities if "start" in e and e.get("entity") in ("request_id", "request_status", "agency"))
    kept, last = [], 0
    for start, end in spans:
        kept.append(text[last:start])
        last = max(last, end)
    kept.append(text[last:])
    rest = re.sub(r"(?i)req[\s-]*[0-9๐-๙]{1,6}|เปลี่ยนสถานะ|สถานะ|เป็น|ส่งต่อ|ให้|แล้ว|ครับ|ค่ะ|คำร้อง|เรื่อง|เหตุผล|:", " ", "".join(kept))
    rest = " ".join(rest.split())[:500]
    return rest if len(re.findall(r"[0-9A-Za-z\u0E01-\u0E2E]", rest)) >= 3 else ""


CONFIRMED = "!"  # "#<agency id>!" in a button payload: forward although nobody staffs the agency yet


def _forward_button(label: str, code: str, agency: str) -> dict[str, str]:
    return button(label, '/update_request_status{"request_id": "%s", "agency": "%s"}' % (code, agency))


def forward_question(found: Resolution, code: str) -> dict[str, Any]:
    """What to ask when the target is not exactly one catalog agency: nothing is forwarded."""
    buttons = [_forward_button(c.name, code, f"#{c.agency_id}") for c in found.candidates]
    if found.outcome == CONFIRM:
        text = f"หมายถึง {found.agency.name} ใช่ไหมครับ กดปุ่มเพื่อยืนยันการส่งต่อ {code}"
    elif found.outcome == CHOICE:
        text = f"\"{found.query}\" ตรงกับหลายหน่วยงานครับ เลือกหน่วยงานที่จะส่งต่อ {code}"
    elif found.how == "generic":
        text = f"\"{found.query}\" ยังไม่ได้ระบุว่าเป็นหน่วยงานใดครับ {code} ยังอยู่ที่หน่วยงานเดิม กรุณาพิมพ์ชื่อหน่วยงานให้ครบ เช่น \"ส่งต่อ {code} ให้กรมโยธาธิการและผังเมือง\""
    elif buttons:
        text = f"ไม่พบ \"{found.query}\" ในรายชื่อหน่วยงานครับ {code} ยังอยู่ที่หน่วยงานเดิม หน่วยงานที่ชื่อใกล้เคียงมีดังนี้"
    else:
        text = f"ไม่พบ \"{found.query}\" ในรายชื่อหน่วยงานครับ {code} ยังอยู่ที่หน่วยงานเดิม กรุณาตรวจชื่อหน่วยงานอีกครั้ง"
    return {"text": text, "buttons": buttons} if buttons else {"text": text}


def unstaffed_warning(found: Resolution, code: str) -> dict[str, Any]:
    target = found.agency
    return {
        "text": (f"⚠️ {target.name} ยังไม่มีเจ้าหน้าที่หรือกลุ่มที่เชื่อมไว้ในระบบครับ ถ้าส่งต่อ คำร้อง {code} จะไปรอที่โต๊ะกลาง "
                 f"{FALLBACK_DESK} เพื่อประสานหน่วยงานต่อ"),
        "buttons": [_forward_button(f"ยืนยันส่งต่อให้ {target.name}", code, f"#{target.agency_id}{CONFIRMED}")],
    }


class ActionUpdateRequestStatus(Action):
    def name(self) -> str:
        return "action_update_request_status"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        speaker = speaker_of(tracker)
        text = tracker.latest_message.get("text") or ""
        entities = tracker.latest_message.get("entities") or []
        request_id = parse_request_id(latest_entity(tracker, "request_id")) or parse_request_id(text)
        status = latest_entity(tracker, "request_status")
        agency_name = latest_entity(tracker, "agency")
        with db.session() as s:
            try:
                actor = require_official(s, speaker.channel, speaker.user_id)
            except PermissionDenied:
                dispatcher.utter_message(response="utter_officials_only")
                return []
            if request_id is None:
                dispatcher.utter_message(response="utter_request_needs_id")
                return []
            code = format_request_id(request_id)
            note = _note(text, entities)
            try:
                if agency_name and (FORWARD.search(text) or not status) and agency_name != actor.agency:
                    confirmed = agency_name.endswith(CONFIRMED)  # a button of the unstaffed-agency warning
                    found = resolve_agency(s, agency_name.removesuffix(CONFIRMED))
                    if not found.is_exact:
                        dispatcher.utter_message(**forward_question(found, code))
                        return []
                    try:
                        request = forward_request(s, actor, request_id, found.agency.name, note, allow_unstaffed=confirmed)
                    except UnstaffedAgency:
                        dispatcher.utter_message(**unstaffed_warning(found, code))
                        return []
                    except ValueError as same:  # named their own agency by another name
                        if "already" not in str(same):
                            raise
                        dispatcher.utter_message(text=f"{code} อยู่กับ {found.agency.name} อยู่แล้วครับ")
                        return []
                    dispatcher.utter_message(response="utter_request_forwarded", request_id=code, agency=request.agency)
                    return []
                if status not in OFFICIAL_STATUSES:
                    dispatcher.utter_message(response="utter_request_needs_status", request_id=code)
                    return []
                if status == "rejected" and not note:
                    dispatcher.utter_message(response="utter_reject_needs_reason", request_id=code)
                    return []
                request = update_request_status(s, actor, request_id, status, note)
            except (RequestNotFound, NotYourAgency):
                # the same answer for both: an official of another agency learns nothing about it
                dispatcher.utter_message(response="utter_request_not_for_you", request_id=code)
                return []
            except RequestClosed as closed:
                dispatcher.utter_message(response="utter_request_already_closed", request_id=code, status=STATUS_THAI[closed.status])
                return []
            except InvalidTransition as invalid:
                dispatcher.utter_message(
                    text=f"เปลี่ยนสถานะ {code} จาก \"{STATUS_THAI[invalid.current]}\" เป็น \"{STATUS_THAI[invalid.wanted]}\" ไม่ได้ครับ"
                )
                return []
            dispatcher.utter_message(response="utter_request_status_updated", request_id=code, status=STATUS_THAI[request.status])
        return []

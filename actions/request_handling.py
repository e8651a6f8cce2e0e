"""update_request_status: officials of the responsible agency move citizens' requests on.

"REQ-000123 รับเรื่องแล้ว", "รับเรื่อง REQ-000123 ครับ เดี๋ยวส่งช่างไปดู" (status words before or
after the ID; the rest is the note, verbatim), "REQ-000123 ไม่อนุมัติ เอกสารไม่ครบ",
"ส่งต่อ REQ-000123 ให้กรมที่ดิน เหตุผล ...", and questions such as "วันนี้มีคำร้องใหม่เข้ามามั้ย".
A message that holds only a task ID (T-3) is handed to the task action, whatever the classifier said.
Only officials of the agency the request is with may touch it; the citizen hears
about every change (storage.requests queues the notices).
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions import db
from actions.idempotency import once_per_message
from actions.identity import speaker_of
from actions.official_parsing import asks_for_request_list, forward_parts, id_kinds, is_payload, request_status_in, request_update_parts
from actions.services import latest_entity
from common import clock as app_clock
from common.ids import format_request_id, parse_request_id
from common.replies import button
from common.thai_datetime import TZ, format_thai
from common.wording.requests import STATUS_THAI
from storage.agencies import CHOICE, CONFIRM, FALLBACK_DESK, Resolution, get_agency, resolve_agency
from storage.officials import PermissionDenied, find_official, require_official
from storage.requests import (
    OFFICIAL_STATUSES,
    InvalidTransition,
    NotYourAgency,
    RequestClosed,
    RequestNotFound,
    UnstaffedAgency,
    agency_requests,
    forward_request,
    update_request_status,
)
from storage.models.services import SUBMITTED, ServiceRequest

Events = list[dict[str, Any]]
FORWARD = re.compile(r"ส่งต่อ|โอนเรื่อง|forward|ส่งให้|ส่งเรื่องให้")
LIST_LIMIT = 20
# the statuses offered as buttons (a rejection needs a typed reason, a forward a typed target)
STATUS_CHOICES = {"received": "รับเรื่องแล้ว", "in_progress": "กำลังดำเนินการ", "need_info": "ขอข้อมูลเพิ่ม", "completed": "เสร็จสิ้น"}


def status_buttons(code: str) -> list[dict[str, str]]:
    """Buttons that each carry the real request ID and one status."""
    return [
        {"title": STATUS_CHOICES[status], "payload": '/update_request_status{"request_id": "%s", "request_status": "%s"}' % (code, status)}
        for status in STATUS_CHOICES
    ]


def _list_requests(dispatcher: CollectingDispatcher, session, actor, scope: str) -> None:  # type: ignore[no-untyped-def]
    """Answer "วันนี้มีคำร้องใหม่เข้ามามั้ย": the agency's requests, new ones or all still open."""
    # new requests: the newest first (an official asking "anything new today?" wants the latest, not the backlog)
    rows = agency_requests(session, actor, limit=200, newest_first=scope in ("new", "today"))
    if scope in ("new", "today"):
        rows = [r for r in rows if r.status == SUBMITTED]
    if scope == "today":
        today = app_clock.now().astimezone(TZ).date()
        rows = [r for r in rows if _local(r.created_at).date() == today]
    label = {"today": "คำร้องใหม่วันนี้", "new": "คำร้องใหม่ที่ยังไม่ได้รับเรื่อง"}.get(scope, "คำร้องที่ยังเปิดอยู่")
    if not rows:
        dispatcher.utter_message(response="utter_official_no_requests", what=label, agency=actor.agency)
        return
    lines = [
        f"• {r.code} {r.service} · {STATUS_THAI[r.status]} · {format_thai(_local(r.created_at), short=True)} · {(r.details or '-')[:60]}"
        for r in rows[:LIST_LIMIT]
    ]
    if len(rows) > LIST_LIMIT:
        lines.append(f"และอีก {len(rows) - LIST_LIMIT} เรื่อง (ดูทั้งหมดด้วยคำสั่ง /requests)")
    dispatcher.utter_message(response="utter_official_request_list", what=label, agency=actor.agency, count=len(rows), requests="\n".join(lines))


def _local(moment):  # type: ignore[no-untyped-def]
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(TZ)


def _forwarding(text: str) -> bool:
    """A forwarding word that leads the command, not one inside the note after a status
    ("รับเรื่อง REQ-000004 เดี๋ยวส่งให้ช่างดู" is an acceptance)."""
    forward = FORWARD.search(text)
    if forward is None:
        return False
    status = request_status_in(text)
    return status is None or forward.start() < status[1][0]


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


def is_official_request_update(tracker: Tracker) -> bool:
    """An official's message in a group that names exactly one request ID and a status for it
    ("REQ-000093 ไม่อนุมัติครับ เป็นไฟของหมู่บ้านจัดสรร …"): an update of that request, whatever the
    classifier made of the reason's words (a reason often names the problem, like a citizen's report)."""
    text = tracker.latest_message.get("text") or ""
    if is_payload(text) or id_kinds(text) != {"request"} or request_status_in(text) is None:
        return False
    speaker = speaker_of(tracker)
    if not speaker.in_group:
        return False
    with db.session() as s:
        official = find_official(s, speaker.channel, speaker.user_id)
        return official is not None and official.active


class ActionUpdateRequestStatus(Action):
    def name(self) -> str:
        return "action_update_request_status"

    @once_per_message
    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        text = tracker.latest_message.get("text") or ""
        entities = tracker.latest_message.get("entities") or []
        kinds = id_kinds(text)
        if kinds == {"task"}:  # "T-3 เสร็จแล้ว" classified as a request update: it is a task
            return [FollowupAction("action_update_task_status")]
        speaker = speaker_of(tracker)
        request_id = parse_request_id(text) or parse_request_id(latest_entity(tracker, "request_id"))
        with db.session() as s:
            try:
                actor = require_official(s, speaker.channel, speaker.user_id)
            except PermissionDenied:
                dispatcher.utter_message(response="utter_officials_only")
                return []
            if request_id is None:
                scope = asks_for_request_list(text)
                if scope is not None:
                    _list_requests(dispatcher, s, actor, scope)
                else:
                    dispatcher.utter_message(response="utter_request_needs_id")
                return []
            code = format_request_id(request_id)
            status, note = request_update_parts(text, entities)
            note = note[:500]
            try:
                target, reason = None, ""
                if is_payload(text):
                    pressed = latest_entity(tracker, "agency")
                    if pressed and pressed.startswith("#"):  # a choice or confirm button of a forward (carries the agency id)
                        target = pressed
                elif _forwarding(text) or (status is None and latest_entity(tracker, "agency")):
                    # the words the official typed, resolved by the catalog: not the classifier's synonym
                    # ("การไฟฟ้า" fits three agencies and is asked about; "เขตราชเทวี" is the district office)
                    target, reason, _span = forward_parts(text, entities)
                    if not target:
                        dispatcher.utter_message(response="utter_forward_needs_target", request_id=code)
                        return []
                if target and target != actor.agency:
                    confirmed = target.endswith(CONFIRMED)  # a button of the unstaffed-agency warning
                    found = resolve_agency(s, target.removesuffix(CONFIRMED))
                    if not found.is_exact:
                        dispatcher.utter_message(**forward_question(found, code))
                        return []
                    try:
                        request = forward_request(s, actor, request_id, found.agency.name, reason[:300], allow_unstaffed=confirmed)
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
                    current = s.get(ServiceRequest, request_id)
                    if current is None or current.agency != actor.agency:
                        raise RequestNotFound(code)
                    dispatcher.utter_message(response="utter_request_which_status", request_id=code,
                                             current=STATUS_THAI[current.status], buttons=status_buttons(code))
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
            if note:
                dispatcher.utter_message(response="utter_request_note_sent", note=note)
        return []

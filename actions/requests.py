"""Citizens' service requests: the request form, tracking, cancelling and rating.

The form (`request_form` in bot/domain/requests.yml) collects the service, the
details, a location when the service needs one (a LINE location message or a
typed address) and an optional contact, then asks for confirmation. Every slot is
filled here, in Python, so that a stop word ("ยกเลิก", "ไม่เอาแล้ว") ends the form
at any step whatever the intent classifier made of it.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import db, ratelimit
from actions.idempotency import once_per_message
from actions.identity import citizen_of, shared_location, speaker_of
from actions.services import choice_buttons, latest_entity
from common.ids import format_request_id, parse_request_id
from common.numbers import parse_number
from common.replies import button, card, cards, location_request
from common.wording.requests import STATUS_THAI, rating_buttons, status_lines
from storage.models.services import COMPLETED, OPEN_STATUSES
from storage.requests import (
    NotCompleted,
    RequestClosed,
    RequestNotFound,
    cancel_request,
    create_request,
    get_own_request,
    latest_open_request,
    list_own_requests,
    rate_request,
)
from storage.requests import latest_completed_unrated
from storage.services import find_services, get_service

Events = list[dict[str, Any]]
FORM_SLOTS = ("service", "request_details", "request_location", "request_contact", "request_confirm")
_END = r"(?=\s|$|\{|ครับ|ค่ะ|คะ|นะ|จ้า|คำร้อง|เรื่อง|การ|ก่อน|ดีกว่า|เลย)"
STOP = re.compile(r"^\s*(/cancel_request|ยกเลิก|ไม่เอาแล้ว|ไม่ยื่นแล้ว|ไม่แจ้งแล้ว|พอแล้ว|หยุด|cancel|stop)" + _END, re.IGNORECASE)
SKIP = re.compile(r"^\s*(/deny|ไม่ต้อง|ไม่มี|ไม่ใช่|ไม่สะดวก|ไม่|ข้าม|skip|no)" + _END, re.IGNORECASE)
YES = re.compile(r"^\s*(/affirm|ใช่|ยืนยัน|ตกลง|โอเค|ok|ได้|ส่งเลย|ยื่นเลย|yes|ถูกต้อง)", re.IGNORECASE)
PHONE = re.compile(r"(?<!\d)0[0-9](?:[\s-]?[0-9]){7,8}(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
WORDISH = re.compile(r"[0-9A-Za-z\u0E01-\u0E2E\u0E50-\u0E59]")
MIN_DETAILS = 3


def _text(tracker: Tracker) -> str:
    return (tracker.latest_message.get("text") or "").strip()


def _intent(tracker: Tracker) -> str:
    return str((tracker.latest_message.get("intent") or {}).get("name") or "")


def _request_id(tracker: Tracker) -> int | None:
    return parse_request_id(latest_entity(tracker, "request_id")) or parse_request_id(_text(tracker))


def _not_found(dispatcher: CollectingDispatcher) -> Events:
    dispatcher.utter_message(response="utter_request_not_found")
    return []


class ValidateRequestForm(FormValidationAction):
    def name(self) -> str:
        return "validate_request_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        name = tracker.get_slot("service")
        if name:
            with db.session() as s:
                service = get_service(s, name)
                if service is not None and not service.needs_location:
                    return [slot for slot in domain_slots if slot != "request_location"]
        return domain_slots

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        requested = tracker.get_slot("requested_slot")
        text = _text(tracker)
        if requested and (STOP.match(text) or _intent(tracker) == "cancel_request" and requested != "request_confirm"):
            return [SlotSet("request_stopped", True), SlotSet("requested_slot", None)]
        if requested and _intent(tracker) == "human_handoff":
            return [SlotSet("request_stopped", True), SlotSet("requested_slot", None)]
        if not requested and tracker.get_slot("service") and latest_entity(tracker, "service") is None:
            # "อยากยื่นคำร้อง" right after asking about some service: ask which one rather than assume it
            tracker.slots["service"] = None
            for event in tracker.events:
                if event.get("event") == "slot" and event.get("name") == "service":
                    event["value"] = None
            return [SlotSet("service", None), *await super().run(dispatcher, tracker, domain)]
        return await super().run(dispatcher, tracker, domain)

    # Extraction: only the slot being asked for takes the message.

    async def extract_request_details(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return {"request_details": _text(tracker)} if tracker.get_slot("requested_slot") == "request_details" else {}

    async def extract_request_location(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "request_location":
            return {}
        shared = shared_location(tracker)
        if shared:
            return {"request_location": {k: shared.get(k) for k in ("latitude", "longitude", "address", "title") if shared.get(k) is not None}}
        return {"request_location": {"text": _text(tracker)}}

    async def extract_request_contact(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return {"request_contact": _text(tracker)} if tracker.get_slot("requested_slot") == "request_contact" else {}

    async def extract_request_confirm(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "request_confirm":
            return {}
        text = _text(tracker)
        if _intent(tracker) == "affirm" or YES.match(text):
            return {"request_confirm": True}
        if _intent(tracker) in ("deny", "cancel_request") or SKIP.match(text):
            return {"request_confirm": False}
        return {"request_confirm": "unclear"}

    async def extract_service(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "service":
            return {}
        return {"service": latest_entity(tracker, "service") or _text(tracker)}

    # Validation

    def validate_service(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        requested = tracker.get_slot("requested_slot")
        earlier = _value_before_this_turn(tracker, "service")
        if requested and requested != "service" and earlier:
            # a service word inside the details ("ไฟดับทั้งซอย") must not change what is being filed
            return {"service": earlier}
        text = str(value or "")
        if not text.strip():
            return {"service": None}  # nothing said yet: the form asks
        with db.session() as s:
            match = find_services(s, entity=text, text=text)
            if match.single is not None:
                return {"service": match.single.name}
            if match.services:
                dispatcher.utter_message(response="utter_which_service", buttons=choice_buttons(match.services, "request_service"))
            else:
                dispatcher.utter_message(response="utter_request_service_unknown")
        return {"service": None}

    def validate_request_details(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        text = str(value or "").strip()
        if len(WORDISH.findall(text)) < MIN_DETAILS:
            dispatcher.utter_message(response="utter_details_too_short")
            return {"request_details": None}
        if len(text) > 1000:
            dispatcher.utter_message(response="utter_details_truncated")
            text = text[:1000]
        return {"request_details": text}

    def validate_request_location(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if isinstance(value, dict) and "latitude" in value:
            return {"request_location": value}
        text = str((value or {}).get("text") if isinstance(value, dict) else value or "").strip()
        if len(WORDISH.findall(text)) < 5:
            # the form asks again right after this, with the "send location" button
            dispatcher.utter_message(text="ยังอ่านตำแหน่งไม่ได้ครับ ขอเป็นที่อยู่หรือจุดสังเกตที่เป็นข้อความ เช่น \"หน้าโรงเรียนวัดสามัคคี ซอย 5\"")
            return {"request_location": None}
        return {"request_location": {"address": text[:300]}}

    def validate_request_contact(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        text = str(value or "").strip()
        if SKIP.match(text) or _intent(tracker) == "deny":
            return {"request_contact": "-"}
        phone = PHONE.search(text.translate(str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")))
        email = EMAIL.search(text)
        if phone:
            return {"request_contact": re.sub(r"[\s-]", "", phone.group(0))}
        if email:
            return {"request_contact": email.group(0)}
        dispatcher.utter_message(response="utter_contact_invalid")
        return {"request_contact": None}

    def validate_request_confirm(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if value is True or value is False:
            return {"request_confirm": value}
        dispatcher.utter_message(response="utter_confirm_unclear")
        return {"request_confirm": None}


def _value_before_this_turn(tracker: Tracker, slot: str) -> Any:
    """The slot's value before the latest user message (what the form had already settled)."""
    events = tracker.events
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    for event in reversed(events[:last_user]):
        if event.get("event") == "slot" and event.get("name") == slot:
            return event.get("value")
    return tracker.slots.get(slot) if last_user == len(events) else None


def _location_text(location: dict[str, Any] | None) -> str:
    if not location:
        return "-"
    if "latitude" in location:
        place = location.get("title") or location.get("address") or "ตำแหน่งที่ส่งมา"
        return f"{place} ({float(location['latitude']):.5f}, {float(location['longitude']):.5f})"
    return str(location.get("address") or location.get("text") or "-")


class ActionAskRequestConfirm(Action):
    """The summary the citizen confirms before anything is filed."""

    def name(self) -> str:
        return "action_ask_request_confirm"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        service_name = tracker.get_slot("service") or "-"
        with db.session() as s:
            service = get_service(s, service_name)
            agency = service.agency if service else "-"
        fields = [("บริการ", service_name), ("หน่วยงานที่รับผิดชอบ", agency), ("รายละเอียด", tracker.get_slot("request_details") or "-")]
        if tracker.get_slot("request_location"):
            fields.append(("สถานที่", _location_text(tracker.get_slot("request_location"))))
        contact = tracker.get_slot("request_contact")
        fields.append(("ติดต่อกลับ", contact if contact and contact != "-" else "ทางแชตนี้"))
        summary = card("ตรวจสอบก่อนส่งคำร้อง", fields=fields, buttons=[button("ยืนยันส่ง", "/affirm"), button("ยกเลิก", "/deny")])
        alt = "ตรวจสอบก่อนส่งคำร้อง: " + " · ".join(f"{k}: {v}" for k, v in fields)
        dispatcher.utter_message(response="utter_ask_request_confirm", json_message=cards(alt, [summary]),
                                 buttons=[{"title": "ยืนยันส่ง", "payload": "/affirm"}, {"title": "ยกเลิก", "payload": "/deny"}])
        return []


class ActionAskRequestLocation(Action):
    def name(self) -> str:
        return "action_ask_request_location"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        dispatcher.utter_message(json_message=location_request(
            "ขอตำแหน่งที่เกิดเหตุด้วยครับ กดปุ่ม \"ส่งตำแหน่ง\" หรือพิมพ์ที่อยู่และจุดสังเกต (พิมพ์ \"ยกเลิก\" เพื่อหยุดได้ทุกขั้นตอน)"
        ))
        return []


def _reset() -> Events:
    return [SlotSet(slot, None) for slot in (*FORM_SLOTS, "request_stopped")]


class ActionSubmitRequest(Action):
    """After the form: file the request, or say it was not filed."""

    def name(self) -> str:
        return "action_submit_request"

    @once_per_message
    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        if tracker.get_slot("request_stopped") or tracker.get_slot("request_confirm") is not True:
            if _intent(tracker) == "human_handoff":
                return [*_reset(), FollowupAction("action_human_handoff")]
            dispatcher.utter_message(response="utter_request_not_filed")
            return _reset()
        speaker = speaker_of(tracker)
        citizen = citizen_of(speaker)
        if ratelimit.refused(dispatcher, "requests", citizen.key, tracker.sender_id if speaker.in_group else None):
            return _reset()
        location = tracker.get_slot("request_location")
        contact = tracker.get_slot("request_contact")
        with db.session() as s:
            service = get_service(s, tracker.get_slot("service") or "")
            if service is None:
                dispatcher.utter_message(response="utter_request_service_unknown")
                return _reset()
            request = create_request(
                s, citizen, service, details=tracker.get_slot("request_details") or "",
                location=location if isinstance(location, dict) else None,
                contact=contact if contact and contact != "-" else None,
            )
            code, agency, duration = request.code, request.agency, service.duration or f"ประมาณ {service.duration_days} วัน"
        dispatcher.utter_message(response="utter_request_filed", request_id=code, agency=agency, duration=duration,
                                 buttons=[{"title": "ดูสถานะ", "payload": '/check_request_status{"request_id": "%s"}' % code}])
        return _reset()


class ActionStopRequestForm(Action):
    def name(self) -> str:
        return "action_stop_request_form"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        dispatcher.utter_message(response="utter_request_not_filed")
        return _reset()


def status_card(request) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    buttons = []
    if request.status in OPEN_STATUSES:
        buttons.append(button("ยกเลิกคำร้องนี้", '/cancel_request{"request_id": "%s"}' % request.code))
    if request.status == COMPLETED:
        buttons.append(button("ให้คะแนนบริการ", '/rate_service{"request_id": "%s"}' % request.code))
    return card(
        f"คำร้อง {request.code}",
        subtitle=f"{request.service} · {request.agency}",
        fields=[("สถานะ", STATUS_THAI[request.status])],
        lines=["ความคืบหน้า:", *status_lines(request.history, request.anonymised)],
        buttons=buttons,
    )


class ActionCheckRequestStatus(Action):
    def name(self) -> str:
        return "action_check_request_status"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        citizen = citizen_of(speaker_of(tracker))
        request_id = _request_id(tracker)
        with db.session() as s:
            try:
                request = get_own_request(s, citizen.key, request_id)
            except RequestNotFound:
                if request_id is None:
                    dispatcher.utter_message(response="utter_no_requests_yet")
                    return []
                return _not_found(dispatcher)
            items = [status_card(request)]
            alt = f"คำร้อง {request.code} ({request.service}) สถานะ: {STATUS_THAI[request.status]}"
            others = [r for r in list_own_requests(s, citizen.key) if r.id != request.id] if request_id is None else []
            buttons = [button(r.code, '/check_request_status{"request_id": "%s"}' % r.code) for r in others[:4]]
            dispatcher.utter_message(response="utter_request_status_intro", json_message=cards(alt, items), buttons=buttons)
        return []


class ActionCancelRequest(Action):
    def name(self) -> str:
        return "action_cancel_request"

    @once_per_message
    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        citizen = citizen_of(speaker_of(tracker))
        request_id = _request_id(tracker)
        with db.session() as s:
            if request_id is None:
                # "cancel my request": show the latest open one and let the citizen press to confirm
                latest = latest_open_request(s, citizen.key)
                if latest is None:
                    dispatcher.utter_message(response="utter_no_open_requests")
                    return []
                dispatcher.utter_message(
                    response="utter_confirm_cancel", request_id=latest.code, service=latest.service,
                    buttons=[button(f"ยกเลิก {latest.code}", '/cancel_request{"request_id": "%s"}' % latest.code), button("ไม่ยกเลิก", "/deny")],
                )
                return []
            try:
                request = cancel_request(s, citizen.key, request_id)
            except RequestNotFound:
                return _not_found(dispatcher)
            except RequestClosed as closed:
                dispatcher.utter_message(response="utter_request_already_closed", request_id=format_request_id(request_id), status=STATUS_THAI[closed.status])
                return []
            dispatcher.utter_message(response="utter_request_cancelled", request_id=request.code)
        return []


RATING_WORDS = {"หนึ่ง": 1, "สอง": 2, "สาม": 3, "สี่": 4, "ห้า": 5}


def _rating(tracker: Tracker) -> int | None:
    value = latest_entity(tracker, "rating")
    if value is None:
        without_ids = re.sub(r"(?i)req[\s_-]*[0-9๐-๙]+", " ", _text(tracker))
        match = re.search(r"(?<![0-9๐-๙])([1-5๑-๕])(?![0-9๐-๙])", without_ids)
        value = match.group(1) if match else None
    if value is None:
        return None
    value = str(value).translate(str.maketrans("๑๒๓๔๕", "12345"))
    if value in RATING_WORDS:
        return RATING_WORDS[value]
    number = parse_number(value, max_digits=1)
    return number if number is not None and 1 <= number <= 5 else None


def _comment(text: str) -> str | None:
    if text.startswith("/"):
        return None
    rest = re.sub(r"(?i)req[\s-]*[0-9๐-๙]+|ให้คะแนน|ให้|คะแนน|ดาว|[1-5๑-๕]|หนึ่ง|สอง|สาม|สี่|ห้า|ประเมิน(ความพึงพอใจ)?|ครับ|ค่ะ|เลย", " ", text)
    rest = " ".join(rest.split())
    return rest if len(WORDISH.findall(rest)) >= 4 else None


class ActionRateService(Action):
    def name(self) -> str:
        return "action_rate_service"

    @once_per_message
    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        citizen = citizen_of(speaker_of(tracker))
        request_id = _request_id(tracker)
        score = _rating(tracker)
        with db.session() as s:
            if score is None:
                try:
                    request = get_own_request(s, citizen.key, request_id) if request_id else None
                except RequestNotFound:
                    return _not_found(dispatcher)
                if request is None:
                    request = latest_completed_unrated(s, citizen.key)
                if request is None:
                    dispatcher.utter_message(response="utter_nothing_to_rate")
                    return []
                dispatcher.utter_message(response="utter_ask_rating", request_id=request.code, service=request.service,
                                         buttons=rating_buttons(request.code))
                return []
            try:
                request = rate_request(s, citizen.key, request_id, score, _comment(_text(tracker)))
            except RequestNotFound:
                if request_id is None:
                    dispatcher.utter_message(response="utter_nothing_to_rate")
                    return []
                return _not_found(dispatcher)
            except NotCompleted as not_done:
                dispatcher.utter_message(response="utter_rate_not_completed", request_id=format_request_id(request_id) if request_id else "",
                                         status=STATUS_THAI[not_done.status])
                return []
            dispatcher.utter_message(response="utter_rating_thanks", rating=str(score), request_id=request.code, agency=request.agency)
        return []

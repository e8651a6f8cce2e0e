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
from actions.places import Routing, district_answer, names_an_area, nearest_districts, place_of, place_text, route
from actions.request_handling import ActionUpdateRequestStatus, is_official_request_update
from actions.services import choice_buttons, generic_service_only, latest_entity, utter_service_card
from common.ids import format_request_id, parse_request_id
from common.numbers import parse_number
from common.replies import button, card, cards, location_request
from common.wording.requests import (
    NOT_IN_BANGKOK,
    STATUS_THAI,
    ask_bangkok_district,
    ask_local_area,
    filed_via_fallback_desk,
    pin_only,
    place_not_recognised,
    place_noted,
    rating_buttons,
    status_lines,
)
from storage.models.services import COMPLETED, OPEN_STATUSES
from storage.requests import (
    NotCompleted,
    RequestClosed,
    add_attachment,
    RequestNotFound,
    cancel_request,
    create_request,
    get_own_request,
    latest_open_request,
    list_own_requests,
    rate_request,
)
from storage.requests import latest_completed_unrated
from storage.agencies import FALLBACK_DESK
from storage.officials import agency_chats
from storage.services import find_services, get_service

Events = list[dict[str, Any]]
FORM_SLOTS = ("service", "request_details", "request_location", "request_contact", "request_confirm", "request_photos")
_END = r"(?=\s|$|\{|ครับ|ค่ะ|คะ|นะ|จ้า|คำร้อง|เรื่อง|การ|ก่อน|ดีกว่า|เลย)"
STOP = re.compile(r"^\s*(/cancel_request|ยกเลิก|ไม่เอาแล้ว|ไม่ยื่นแล้ว|ไม่แจ้งแล้ว|พอแล้ว|หยุด|cancel|stop)" + _END, re.IGNORECASE)
SKIP = re.compile(r"^\s*(/deny|ไม่ต้อง|ไม่มี|ไม่ใช่|ไม่สะดวก|ไม่|ข้าม|skip|no)" + _END, re.IGNORECASE)
YES = re.compile(r"^\s*(/affirm|ใช่|ยืนยัน|ตกลง|โอเค|ok|ได้|ส่งเลย|ยื่นเลย|yes|ถูกต้อง)", re.IGNORECASE)
NATURAL_YES = re.compile(r"(ค่ะ|ครับ|คับ|ค่า|โอเค|ได้|ใช่|ยืนยัน|ส่ง|ยื่น|ตกลง|จ้า|ok|เอา|ถูก|yes|👍)", re.IGNORECASE)
PHONE = re.compile(r"(?<!\d)0[0-9](?:[\s-]?[0-9]){7,8}(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
WORDISH = re.compile(r"[0-9A-Za-z\u0E01-\u0E2E\u0E50-\u0E59]")
MIN_DETAILS = 3
# an information question asked in the middle of the form ("ต้องใช้เอกสารอะไรบ้าง", "กี่วันเสร็จ")
QUESTION = re.compile(
    r"(เอกสาร\S*(อะไร|ไร|ไหน|บ้าง)|ใช้(อะไร|ไร)บ้าง|กี่วัน|ใช้เวลา(นาน|กี่|เท่า)|นานไหม|นานมั้ย|นานไม๊|ค่าธรรมเนียม|เสียเงิน|เสียค่า|ฟรีไหม|ฟรีมั้ย"
    r"|เท่าไหร่|เท่าไร|ต้องเตรียม|ทำที่ไหน|ยื่นที่ไหน|ติดต่อที่ไหน|เบอร์(โทร)?(อะไร|ไหน)|ต้องไปเอง)"
)
# a change of mind about what is being filed ("เปลี่ยนเป็นแจ้งถนนชำรุดแทน", "ไม่ใช่ไฟถนน เป็นเรื่องขยะ")
CHANGE = re.compile(r"(เปลี่ยนเป็น|ขอเปลี่ยน|เปลี่ยนเรื่อง|แทนดีกว่า|แทนครับ|แทนค่ะ|แทนนะ|\Sแทน$|ไม่ใช่.{0,20}(เป็น|แต่|คือ)|เอาเป็น|จริงๆ(แล้ว)?(เป็น|คือ|จะ))")
# words of someone asking for a person (the form stops for them only): a free-text answer the classifier
# reads as a handoff ("ไฟดับสองต้น ตรงหัวมุมกับหน้าร้านยา", 0.51) is the answer to the question asked
ASKS_FOR_PERSON = re.compile(r"(เจ้าหน้าที่|จนท|พนักงาน|แอดมิน|admin|คนจริง|คุยกับคน|ขอคน|ขอสายคน|ผู้รับผิดชอบ|human|agent|live chat|ต่อสาย|โอนสาย)",
                             re.IGNORECASE)
EDIT_DETAILS = re.compile(r"(แก้|เปลี่ยน|เพิ่ม)\s*(ไข)?\s*(รายละเอียด|ข้อความ)")
EDIT_PLACE = re.compile(r"(แก้|เปลี่ยน)\s*(ไข)?\s*(ที่อยู่|สถานที่|ตำแหน่ง|จุด|โลเคชั่น|โลเคชัน)")
EDIT_CONTACT = re.compile(r"(แก้|เปลี่ยน)\s*(ไข)?\s*(เบอร์|เบอ|อีเมล|เมล|ช่องทางติดต่อ)")
# words of a filing that say nothing about the problem itself: what is left is the citizen's own details
_FILING_WORDS = re.compile(
    r"(อยากให้|อยาก|ต้องการ|ขอ|แจ้ง|ร้องเรียน|ร้องทุกข์|ยื่น|คำร้อง|เรื่อง|ช่วย|ด้วย|หน่อย|ครับ|ค่ะ|คะ|คับ|ค่า|จ้า|จ้ะ|นะ|ที|เลย|ให้|มา|ซ่อม|แก้ไข|ดู)"
)
MIN_OWN_DETAILS = 8
# words that make a message a place, whatever else it says
PLACE = re.compile(r"(ซอย|ซ\.|ถนน|ถ\.|ตำบล|ต\.|อำเภอ|อ\.|จังหวัด|จ\.|แขวง|เขต|เลขที่|กรุงเทพ|หมู่บ้าน|ม\.\s*\d|หน้า|ข้าง|ตรง|ใกล้|แถว|ปาก)")
PHOTO_MAX = 10


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
        if requested and _intent(tracker) == "human_handoff" and (ASKS_FOR_PERSON.search(text) or text.startswith("/human_handoff")):
            return [SlotSet("request_stopped", True), SlotSet("requested_slot", None)]
        photo = shared_photo(tracker)
        if requested and (photo is not None or _intent(tracker) == "share_photo"):
            return await self._go_on(dispatcher, tracker, domain, self._photo(dispatcher, tracker, photo))
        if requested and requested != "service" and not text.startswith("/"):
            handled = self._interruption(dispatcher, tracker, requested, text)
            if handled is not None:
                return await self._go_on(dispatcher, tracker, domain, handled)
        if not requested:
            return await self._start(dispatcher, tracker, domain, text)
        return await super().run(dispatcher, tracker, domain)

    async def _start(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, text: str) -> Events:
        """The form's first turn: keep what the first message already says (the service and the details).

        The slot set first also tells Rasa this turn is validated, so this runs once (not again after activation).
        """
        events: Events = [SlotSet("request_stopped", False)]
        entity = latest_entity(tracker, "service")
        if tracker.get_slot("service") and entity is None:
            # "อยากยื่นคำร้อง" right after asking about some service: ask which one rather than assume it
            _forget(tracker, "service")
            events.append(SlotSet("service", None))
        if text.startswith("/"):
            return [*events, *await super().run(dispatcher, tracker, domain)]
        if is_official_request_update(tracker):
            # read as the update it is; nothing to file (the form ends without a word of its own)
            done = ActionUpdateRequestStatus().run(dispatcher, tracker, domain)
            return [*events, *done, SlotSet("request_confirm", "answered"), SlotSet("request_stopped", True), SlotSet("requested_slot", None)]
        with db.session() as s:
            match = find_services(s, entity=entity, text=text)
            if match.how == "fuzzy" and entity is None:
                match = find_services(s, entity=None, text=None)  # a near spelling of a generic word is no choice
            service = match.single
            asks = (QUESTION.search(text) and len(text) <= 60) or (service is not None and service.kind not in ("report", "complaint") and QUESTION_START.search(text))
            if service is not None and asks:
                # "ลงทะเบียนเบี้ยคนแก่ที่ไหนครับ", "แจ้งไฟถนนดับต้องใช้อะไรบ้าง": a question, not a filing; the card
                # answers it (its button starts the form) and nothing is filed
                utter_service_card(dispatcher, s, service)
                return [*events, SlotSet("request_confirm", "answered"), SlotSet("request_stopped", True), SlotSet("requested_slot", None)]
            if service is not None:
                tracker.slots["service"] = service.name
                events.append(SlotSet("service", service.name))
                own = own_details(text, service)
            else:
                own = own_details(text, None)
                if len(match.services) > 1:
                    dispatcher.utter_message(response="utter_which_service", buttons=choice_buttons(match.services, "request_service"))
        if own:
            tracker.slots["request_details"] = text[:1000]
            events.append(SlotSet("request_details", text[:1000]))
        later = await super().run(dispatcher, tracker, domain)
        if service is not None:
            # the mapping's guess from the entity alone must not undo the service read from the whole message
            later = [e for e in later if not (e.get("event") == "slot" and e.get("name") == "service")]
        return [*events, *later]

    async def _go_on(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, events: Events) -> Events:
        """The form goes on after a photo, a question or an edit: the next slot it needs is asked."""
        tracker.add_slots(events)
        following = await self.next_requested_slot(dispatcher, tracker, domain)
        return [*events, following] if following is not None else events

    def _photo(self, dispatcher: CollectingDispatcher, tracker: Tracker, photo: dict[str, Any] | None) -> Events:
        photos = list(tracker.get_slot("request_photos") or [])
        if photo is None:
            dispatcher.utter_message(text="ยังไม่ได้รับไฟล์รูปครับ ลองส่งรูปอีกครั้งได้เลยครับ")
            return [SlotSet("request_photos", photos)]
        if len(photos) >= PHOTO_MAX:
            dispatcher.utter_message(text=f"แนบรูปได้สูงสุด {PHOTO_MAX} รูปต่อคำร้องครับ รูปนี้ยังไม่ได้แนบ")
            return [SlotSet("request_photos", photos)]
        photos.append(photo)
        dispatcher.utter_message(text=f"ได้รับรูปแล้วครับ (รูปที่ {len(photos)}) จะแนบไปกับคำร้องนี้ให้เจ้าหน้าที่ดูด้วย")
        return [SlotSet("request_photos", photos)]

    def _interruption(self, dispatcher: CollectingDispatcher, tracker: Tracker, requested: str, text: str) -> Events | None:
        """A question, a change of mind or an edit in the middle of the form: handled, then the form goes on."""
        earlier = _service_before_this_turn(tracker)
        keep: Events = [SlotSet("request_stopped", False)]
        if tracker.get_slot("service") != earlier:
            keep.append(SlotSet("service", earlier))  # the entity mapping's guess from this message
        asked = _intent(tracker) == "ask_service_info" and _confidence(tracker) >= 0.8 and len(text) < 80
        if requested == "request_location" and not QUESTION.search(text) and _answers_where(text):
            return None  # "อ.เมือง จ.ขอนแก่นค่ะ" answers the question, whatever the classifier made of it
        if (QUESTION.search(text) and len(text) <= 60) or asked:
            with db.session() as s:
                named = latest_entity(tracker, "service")
                target = get_service(s, named) if named else None
                if target is None:
                    found = find_services(s, text=text)
                    target = found.single
                target = target or get_service(s, earlier or "")
                if target is None:
                    return None
                utter_service_card(dispatcher, s, target)
            dispatcher.utter_message(text=f"ต่อเรื่องที่กำลังแจ้ง{(' (' + earlier + ')') if earlier else ''}นะครับ ตอบคำถามด้านล่างได้เลย หรือพิมพ์ \"ยกเลิก\" หากไม่ต้องการแจ้งต่อ")
            return keep
        if CHANGE.search(text) or (requested == "request_confirm" and not YES.match(text) and not SKIP.match(text)):
            with db.session() as s:
                found = find_services(s, entity=latest_entity(tracker, "service"), text=_CHANGE_WORDS.sub(" ", text))
                new = found.single
                if new is not None and new.name != earlier:
                    dispatcher.utter_message(text=f"เปลี่ยนเป็นแจ้งเรื่อง \"{new.name}\" ({new.agency}) แล้วครับ")
                    events = [SlotSet("request_stopped", False), SlotSet("service", new.name), SlotSet("request_confirm", None)]
                    own = own_details(_CHANGE_WORDS.sub(" ", text), new)
                    events.append(SlotSet("request_details", text[:1000] if own else None))
                    if not new.needs_location:
                        events.append(SlotSet("request_location", None))
                    return events
        if requested == "request_location" and earlier and not PLACE.search(text) and shared_location(tracker) is None:
            with db.session() as s:
                same = find_services(s, text=text).single
            if same is not None and same.name == earlier:
                # "น้ำไม่ไหลตั้งแต่เมื่อวานเช้า ทั้งหมู่ 4 …" at the place question: more about the problem, not the place
                details = f"{tracker.get_slot('request_details') or ''} {text}".strip()[:1000]
                dispatcher.utter_message(text="รับรายละเอียดเพิ่มไว้แล้วครับ")
                return [*keep, SlotSet("request_details", details)]
        if requested == "request_confirm":
            return self._edit(dispatcher, tracker, text, keep)
        return None

    def _edit(self, dispatcher: CollectingDispatcher, tracker: Tracker, text: str, keep: Events) -> Events | None:
        """Edits at the confirmation card in plain Thai: phone, details, place."""
        digits = text.translate(str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789"))
        phone = PHONE.search(digits)
        email = EMAIL.search(text)
        if phone or email or EDIT_CONTACT.search(text):
            value = re.sub(r"[\s-]", "", phone.group(0)) if phone else (email.group(0) if email else None)
            dispatcher.utter_message(text=f"แก้ช่องทางติดต่อเป็น {value} แล้วครับ" if value else "ได้ครับ ขอช่องทางติดต่อใหม่ครับ")
            return [*keep, SlotSet("request_contact", value), SlotSet("request_confirm", None)]
        if EDIT_DETAILS.search(text):
            dispatcher.utter_message(text="ได้ครับ พิมพ์รายละเอียดใหม่ได้เลย")
            return [*keep, SlotSet("request_details", None), SlotSet("request_confirm", None)]
        if EDIT_PLACE.search(text):
            dispatcher.utter_message(text="ได้ครับ ส่งตำแหน่งหรือพิมพ์ที่อยู่ใหม่ได้เลย")
            return [*keep, SlotSet("request_location", None), SlotSet("request_confirm", None)]
        return None

    # Extraction: only the slot being asked for takes the message.

    async def extract_request_details(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return {"request_details": _text(tracker)} if tracker.get_slot("requested_slot") == "request_details" else {}

    async def extract_request_location(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "request_location":
            return {}
        shared = shared_location(tracker)
        if shared:
            return {"request_location": {k: shared.get(k) for k in ("latitude", "longitude", "address", "title") if shared.get(k) is not None}}
        pending = tracker.get_slot("request_location")
        if _asks_place(pending):
            return {"request_location": {**pending, "reply": _text(tracker)}}  # the answer to "which district?", with the pin
        return {"request_location": {"text": _text(tracker)}}

    async def extract_request_contact(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return {"request_contact": _text(tracker)} if tracker.get_slot("requested_slot") == "request_contact" else {}

    async def extract_request_confirm(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "request_confirm":
            return {}
        text = _text(tracker)
        if YES.match(text) or (_intent(tracker) == "affirm" and NATURAL_YES.search(text)):
            return {"request_confirm": True}  # filing needs a real yes: a bare "อืมม" is asked again
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
        if text and requested in (None, "service") and generic_service_only(tracker, text):
            text = ""  # "อยากร้องเรียนค่ะ": the entity is the word ร้องเรียน, no service is named yet
        if not text.strip():
            return {"service": None}  # nothing said yet: the form asks
        said = _text(tracker)
        with db.session() as s:
            # the entity first, then the whole message ("แม่อายุ60แล้ว ลงทะเบียนเบี้ยคนแก่": the entity may be a stray word)
            match = find_services(s, entity=text, text=text)
            if match.single is None and said and not said.startswith("/") and said != text:
                whole = find_services(s, entity=None, text=said)
                if whole.single is not None or not match.services:
                    match = whole
            if match.single is not None:
                chosen = {"service": match.single.name}
                if requested == "service" and not tracker.get_slot("request_details") and own_details(said, match.single):
                    chosen["request_details"] = said[:1000]  # a whole description answers both questions
                return chosen
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
            return {"request_location": self._pin(value, dispatcher, tracker)}
        text = str((value or {}).get("text") if isinstance(value, dict) else value or "").strip()
        if len(WORDISH.findall(text)) < 5:
            # the form asks again right after this, with the "send location" button
            dispatcher.utter_message(text="ยังอ่านตำแหน่งไม่ได้ครับ ขอเป็นที่อยู่หรือจุดสังเกตที่เป็นข้อความ เช่น \"หน้าโรงเรียนวัดสามัคคี ซอย 5\"")
            return {"request_location": None}
        return {"request_location": {"address": text[:300]}}

    def _pin(self, value: dict[str, Any], dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        """A shared pin: kept; when nothing names its area (a Telegram pin never has an address), the district is asked.

        While the question is open the slot holds the pin with `ask_place` ("bangkok": district buttons, "elsewhere":
        the อำเภอ typed) and `place_tries`; `next_requested_slot` keeps asking the location until the answer is merged
        into the pin's address (or given up: after a second answer that names no area, the pin is taken as it is).
        """
        if "reply" not in value:
            if _asks_place(value) or not _pin_needs_area(value, tracker.get_slot("request_details")):
                return value
            where = "bangkok" if nearest_districts(value["latitude"], value["longitude"]) else "elsewhere"
            return {**value, "ask_place": where, "place_tries": 0}
        reply = str(value.get("reply") or "").strip()
        pin = _settled(value)
        if value.get("ask_place") == "bangkok" and _NOT_BANGKOK.search(reply):
            return {**pin, "ask_place": "elsewhere", "place_tries": 0}  # the pin is near the border: ask the อำเภอ instead
        if SKIP.match(reply) or _DONT_KNOW.search(reply):
            dispatcher.utter_message(text=pin_only())
            return pin
        district = district_answer(reply) if value.get("ask_place") == "bangkok" else None
        place = place_of(reply)
        if district or names_an_area(place):
            area = f"เขต{district} กรุงเทพมหานคร" if district and not place.district else _POLITE.sub("", reply)[:200] or reply[:200]
            if place.district and "กรุงเทพ" not in area and not re.search(r"กทม|bangkok", area, re.I):
                area = f"{area} กรุงเทพมหานคร"
            dispatcher.utter_message(text=place_noted(area))
            address = " ".join(p for p in (str(value.get("address") or "").strip(), area) if p)
            return {**pin, "address": address[:300]}
        tries = int(value.get("place_tries") or 0) + 1
        if tries >= 2:
            dispatcher.utter_message(text=pin_only())
            return pin
        dispatcher.utter_message(text=place_not_recognised())
        return {**pin, "ask_place": value.get("ask_place"), "place_tries": tries}

    async def next_requested_slot(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any] | None:
        if _asks_place(tracker.slots.get("request_location")):
            required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
            if "request_location" in required:
                return SlotSet("requested_slot", "request_location")  # the district question is still open
        return await super().next_requested_slot(dispatcher, tracker, domain)

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


def _service_before_this_turn(tracker: Tracker) -> Any:
    """The service the form had settled before this message (a guess mapped from this message's entity does not count)."""
    events = tracker.events
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    before = [e for e in events[:last_user] if e.get("event") == "slot" and e.get("name") == "service"]
    if before:
        return before[-1].get("value")
    changed_now = any(e.get("event") == "slot" and e.get("name") == "service" for e in events[last_user:])
    return None if changed_now else tracker.get_slot("service")


def _forget(tracker: Tracker, slot: str) -> None:
    tracker.slots[slot] = None
    for event in tracker.events:
        if event.get("event") == "slot" and event.get("name") == slot:
            event["value"] = None


def _confidence(tracker: Tracker) -> float:
    return float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)


QUESTION_START = re.compile(r"(ที่ไหน|ยังไง|อย่างไร|ทำไง|ไหม|มั้ย|ไม๊|อะไรบ้าง|ไรบ้าง|เท่าไหร่|เท่าไร|กี่วัน|\?)")
_CHANGE_WORDS = re.compile(r"เปลี่ยนเป็น|ขอเปลี่ยน|เปลี่ยนเรื่อง|ไม่ใช่เรื่อง\S*|ไม่ใช่|แทน|เอาเป็น|ดีกว่า")


def own_details(text: str, service: Any) -> bool:
    """Whether the message says more than "file <service>": then it is kept as the details."""
    if text.startswith("/"):
        return False
    rest = text.lower()
    names = [service.name, *service.aliases] if service is not None else []
    for name in sorted(names, key=len, reverse=True):
        rest = rest.replace(str(name).lower(), " ")
    rest = _FILING_WORDS.sub(" ", rest)
    return len(WORDISH.findall(rest)) >= MIN_OWN_DETAILS


def shared_photo(tracker: Tracker) -> dict[str, Any] | None:
    """A photo the citizen sent with the latest message (the gateway's `photo` metadata), if any."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    photo = metadata.get("photo")
    if isinstance(photo, dict) and photo.get("message_id"):
        return {"provider": str(photo.get("provider") or "line"), "message_id": str(photo["message_id"])}
    return None


def _answers_where(text: str) -> bool:
    """The message names a place: a Bangkok เขต, an อำเภอ, a ตำบล or a province."""
    return names_an_area(place_of(text)) or district_answer(text) is not None or bool(re.search(r"(?:จังหวัด|จ\.)\s*[\u0e01-\u0e4e]", text))


def routing_of(service_agency: str, tracker: Tracker) -> Routing:
    """The agency serving the place the citizen described (Bangkok's district office, the local body's area)."""
    return route(service_agency, place_of(place_text(tracker.get_slot("request_details"), tracker.get_slot("request_location"))))


_PLACE_KEYS = ("ask_place", "place_tries", "reply")
# a pin's address that says nothing about the area ("กรุงเทพมหานคร", "Thailand", a postcode): the district is still asked
_GENERIC_ADDRESS = re.compile(r"กรุงเทพมหานคร|กรุงเทพฯ?|กทม\.?|bangkok|thailand|ประเทศไทย|ตำแหน่งที่ตั้ง|location|[\d\s,.\-/]", re.IGNORECASE)
_NOT_BANGKOK = re.compile(rf"{re.escape(NOT_IN_BANGKOK)}|(ไม่ได้อยู่|ไม่ใช่|ไม่ได้|นอก)\s*(ใน|ที่)?\s*(กรุงเทพ|กทม|bangkok)|ต่างจังหวัด|ปริมณฑล", re.IGNORECASE)
_POLITE = re.compile(r"^\s*(อยู่|ที่)+\s*|\s*(ครับ|ค่ะ|คะ|คับ|ค่า|จ้า|จ้ะ|นะ|ผม|ฮะ|ๆ|[!.\s])+$")
_DONT_KNOW = re.compile(r"ไม่(ทราบ|รู้|แน่ใจ|ชัวร์)|ไม่รู้สิ|ข้ามไป")


def _asks_place(location: Any) -> bool:
    """Whether the slot holds a pin whose district is being asked."""
    return isinstance(location, dict) and "latitude" in location and bool(location.get("ask_place"))


def _settled(location: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in location.items() if k not in _PLACE_KEYS}


def _pin_needs_area(pin: dict[str, Any], details: str | None) -> bool:
    """A pin with no words naming its area (its own address, title or the details), so routing cannot tell the office."""
    own = " ".join(str(pin.get(k) or "") for k in ("address", "title"))
    if _GENERIC_ADDRESS.sub("", own).strip():
        return False  # a LINE pin's address ("ซอยร่มเย็น", "ถนนอู่ทอง อยุธยา"): the citizen's words, kept as they are
    return not names_an_area(place_of(place_text(details, pin)))


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
            agency = routing_of(service.agency, tracker).label if service else "-"
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
        pin = tracker.get_slot("request_location")
        if _asks_place(pin):
            again = int(pin.get("place_tries") or 0) > 0
            districts = nearest_districts(pin["latitude"], pin["longitude"]) if pin.get("ask_place") == "bangkok" else []
            text, buttons = ask_bangkok_district(districts, again) if districts else ask_local_area(again)
            dispatcher.utter_message(text=text, buttons=buttons)
            return []
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
        if tracker.get_slot("request_confirm") == "answered":  # a question answered at the start: nothing to file
            return _reset()
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
            routing = routing_of(service.agency, tracker)
            if isinstance(location, dict) and routing.office:
                location = {**location, "office": routing.office}  # the office on the ground, shown to the officials
            request = create_request(
                s, citizen, service, details=tracker.get_slot("request_details") or "", agency=routing.agency,
                location=location if isinstance(location, dict) else None,
                contact=contact if contact and contact != "-" else None,
                attachments=[p for p in tracker.get_slot("request_photos") or [] if isinstance(p, dict)],
            )
            code, agency, duration = request.code, routing.label, service.duration or f"ประมาณ {service.duration_days} วัน"
            unstaffed = routing.agency != FALLBACK_DESK and not agency_chats(s, routing.agency)
        dispatcher.utter_message(response="utter_request_filed", request_id=code, agency=agency, duration=duration,
                                 buttons=[{"title": "ดูสถานะ", "payload": '/check_request_status{"request_id": "%s"}' % code}])
        if unstaffed:  # storage.requests routes it to the fallback desk: say so instead of "ส่งถึง …" alone
            dispatcher.utter_message(text=filed_via_fallback_desk(routing.agency, FALLBACK_DESK))
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


CONFIRM_CANCEL = re.compile(r"ต้องการยกเลิกคำร้อง (REQ-\d{6})")
KEEP_REQUEST = re.compile(r"^\s*(ไม่|ยังไม่|อย่า|ไม่ต้อง)\s*ยกเลิก")


def asked_to_cancel(tracker: Tracker) -> str | None:
    """The request the bot's previous message asked to cancel ("ต้องการยกเลิกคำร้อง REQ-… ใช่ไหมครับ"), if it did."""
    events = tracker.events
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    for event in reversed(events[:last_user]):
        if event.get("event") == "user":
            return None
        if event.get("event") == "bot":
            found = CONFIRM_CANCEL.search(event.get("text") or "")
            if found:
                return found.group(1)
    return None


def _kept(dispatcher: CollectingDispatcher, code: str | None) -> Events:
    if code:
        dispatcher.utter_message(text=f"รับทราบครับ ไม่ยกเลิก คำร้อง {code} ยังดำเนินการต่อตามปกติ")
    else:
        dispatcher.utter_message(response="utter_ok")
    return []


class ActionAffirmInContext(Action):
    """A bare "ใช่ค่ะ" / "โอเค" / "ได้เลย": yes to the question the bot just asked, if it asked one."""

    def name(self) -> str:
        return "action_affirm_in_context"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        code = asked_to_cancel(tracker)
        if code is None:
            dispatcher.utter_message(response="utter_anything_else")
            return []
        return _cancel(dispatcher, tracker, parse_request_id(code))


class ActionDenyInContext(Action):
    """A bare "ไม่" / "ไม่ใช่": no to the question the bot just asked."""

    def name(self) -> str:
        return "action_deny_in_context"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        return _kept(dispatcher, asked_to_cancel(tracker))


def _cancel(dispatcher: CollectingDispatcher, tracker: Tracker, request_id: int | None) -> Events:
    citizen = citizen_of(speaker_of(tracker))
    with db.session() as s:
        try:
            request = cancel_request(s, citizen.key, request_id)
        except RequestNotFound:
            return _not_found(dispatcher)
        except RequestClosed as closed:
            dispatcher.utter_message(response="utter_request_already_closed", request_id=format_request_id(request_id), status=STATUS_THAI[closed.status])
            return []
        dispatcher.utter_message(response="utter_request_cancelled", request_id=request.code)
    return []


class ActionCancelRequest(Action):
    def name(self) -> str:
        return "action_cancel_request"

    @once_per_message
    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        if KEEP_REQUEST.match(_text(tracker)):  # "ไม่ยกเลิกแล้วค่ะ"
            return _kept(dispatcher, asked_to_cancel(tracker))
        citizen = citizen_of(speaker_of(tracker))
        request_id = _request_id(tracker)
        pending = asked_to_cancel(tracker) if request_id is None else None
        if pending is not None:  # "ยกเลิกเลยค่ะ" right after the bot asked about that request: the wish repeated is a yes
            return _cancel(dispatcher, tracker, parse_request_id(pending))
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


RECENT_REQUEST_MINUTES = 60


class ActionReceivePhoto(Action):
    """A photo outside the request form: attached to the request filed in the last hour, else a polite note."""

    def name(self) -> str:
        return "action_receive_photo"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        from datetime import UTC, timedelta

        from common import clock as app_clock

        photo = shared_photo(tracker)
        speaker = speaker_of(tracker)
        if photo is not None and not speaker.in_group:
            citizen = citizen_of(speaker)
            with db.session() as s:
                latest = latest_open_request(s, citizen.key)
                if latest is not None:
                    created = latest.created_at if latest.created_at.tzinfo else latest.created_at.replace(tzinfo=UTC)
                    if app_clock.now() - created <= timedelta(minutes=RECENT_REQUEST_MINUTES):
                        request = add_attachment(s, citizen.key, latest.id, photo)
                        dispatcher.utter_message(text=f"แนบรูปประกอบกับคำร้อง {request.code} ({request.service}) ให้แล้วครับ เจ้าหน้าที่จะเห็นรูปนี้ด้วย")
                        return []
        dispatcher.utter_message(text=(
            "ได้รับรูปแล้วครับ แต่ตอนนี้ผมอ่านได้เฉพาะข้อความ ตำแหน่งที่ตั้ง และการกดปุ่ม จึงยังไม่รู้ว่ารูปนี้เกี่ยวกับเรื่องอะไร "
            "หากเป็นรูปประกอบเรื่องที่จะแจ้ง พิมพ์ \"แจ้งเรื่อง\" แล้วส่งรูประหว่างกรอกข้อมูลได้เลยครับ 🙏"
        ))
        return []

"""PDPA rights in the chat: "what do you hold about me" and "erase my data".

`delete_my_data` covers both; the wording decides. Erasure is confirmed first
(`erase_form`); the action then records the decision (a `pdpa_erase` custom message)
and the gateway's use-case (usecases/erasure.py) erases, after the turn, storage and
Rasa's own record of every conversation of the person, then tells them.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import AllSlotsReset, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import db
from common.wording.privacy import export_lines
from storage.privacy import holdings
from storage.retention import Retention
from actions.identity import citizen_of, speaker_of
from actions.requests import SKIP, STOP, YES

Events = list[dict[str, Any]]
ERASE_MARKER = "pdpa_erase"  # usecases.erasure.MARKER (the action server does not import the gateway's use-cases)
logger = logging.getLogger(__name__)
ERASE_WORDS = re.compile(r"ลบ|delete|erase|ถอน|ทำลาย|ล้าง|เพิกถอน", re.IGNORECASE)
# "แล้ว pdpa ล่ะครับ", "กฎหมายคุ้มครองข้อมูลส่วนบุคคลว่าไง": a question about the law, not a use of one's rights
LAW_QUESTION = re.compile(r"กฎหมาย|พ\.?ร\.?บ|มาตรา|โทษ|ปรับ|คืออะไร|ว่าไง|ว่ายังไง|ล่ะ|หรอ|เหรอ|law|act\b", re.IGNORECASE)
MINE = re.compile(r"ของ(ฉัน|ผม|หนู|เรา|ดิฉัน|กู|ข้า)|ตัวเอง|ส่วนตัว|ข้อมูลผม|ข้อมูลฉัน|ข้อมูลหนู|my ", re.IGNORECASE)
# at the erasure question: a natural no ("ไม่ลบแล้วค่ะ", "ยังไม่ลบ", "เก็บไว้ก่อน") and a natural yes ("ลบเลยค่ะ")
ERASE_NO = re.compile(r"^\s*(ไม่|ยังไม่|อย่า|ไม่ต้อง|ไม่อยาก|ไม่เอา|ไม่ดีกว่า)\s*(ลบ|เอา|ต้อง|ดีกว่า|แล้ว|ครับ|ค่ะ|คะ|$)|เก็บไว้(ก่อน|เหมือนเดิม)|เปลี่ยนใจ|ยกเลิกการลบ")
ERASE_YES = re.compile(r"^\s*(ลบ(เลย|ได้|ทั้งหมด|ข้อมูล|ให้หมด|ไปเลย|ออก)|ยืนยัน|ใช่|ตกลง|โอเค|ok|ได้(เลย|ครับ|ค่ะ)?|จัดไป|เอาเลย|yes)", re.IGNORECASE)
# intents that are another request: the erasure question steps aside and the request is answered
ANSWER_INSTEAD = {"search_law": "action_search_law", "ask_service_info": "action_service_info",
                  "check_request_status": "action_check_request_status", "human_handoff": "action_human_handoff"}
EXPORT = re.compile(r"(ขอดู|ดูข้อมูล|มีข้อมูล|เก็บข้อมูลอะไร|เก็บอะไร|ข้อมูลอะไรของ|export|ส่งออก|ขอสำเนา|สำเนาข้อมูล|เข้าถึงข้อมูล|รู้ว่าเก็บ|what data|my data\?)", re.IGNORECASE)


def _conversation(tracker: Tracker) -> str:
    return tracker.sender_id or ""


def retention_notice() -> list[str]:
    """How long things are kept, as configured (storage.retention; docs/privacy.md), in the person's words."""
    policy = Retention.from_env()
    return [
        f"ระยะเวลาที่เก็บ: ข้อความที่คุณพิมพ์ บันทึกการสนทนากับผู้ช่วย และการแจ้งเตือนที่ส่งแล้ว เก็บไว้ไม่เกิน {policy.messages_days} วัน"
        f" (ข้อความสำหรับปรับปรุงความเข้าใจของผู้ช่วย {policy.nlu_capture_days} วัน บันทึกการสนทนาในระบบผู้ช่วย {policy.tracker_days} วัน)",
        "คำร้องที่ยังดำเนินการอยู่เก็บไว้จนกว่าจะปิดเรื่อง เมื่อปิดเรื่องแล้ว"
        f" {policy.closed_requests_days} วัน ระบบจะลบรายละเอียด สถานที่ ช่องทางติดต่อ และข้อมูลที่ระบุตัวคุณ"
        " เหลือไว้เพียงสถิติแบบไม่ระบุตัวตน (ประเภทบริการ หน่วยงาน สถานะ วันที่ และคะแนนความพึงพอใจ)",
    ]


class ActionPrivacyRequest(Action):
    """Export right away; for erasure, say what goes and ask to confirm (the form asks)."""

    def name(self) -> str:
        return "action_privacy_request"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        speaker = speaker_of(tracker)
        if speaker.in_group:
            dispatcher.utter_message(response="utter_privacy_private_only")
            return [SlotSet("privacy_mode", "none")]
        text = tracker.latest_message.get("text") or ""
        citizen = citizen_of(speaker)
        with db.session() as s:
            lines = export_lines(holdings(s, citizen, _conversation(tracker)), citizen.reply_to)
        if not ERASE_WORDS.search(text) and not EXPORT.search(text) and not MINE.search(text) and LAW_QUESTION.search(text):
            return [SlotSet("privacy_mode", "none"), FollowupAction("action_search_law")]
        if EXPORT.search(text) and not ERASE_WORDS.search(text):
            lines += retention_notice()
            dispatcher.utter_message(response="utter_privacy_export", items="\n".join(f"• {line}" for line in lines))
            return [SlotSet("privacy_mode", "export")]
        return [SlotSet("privacy_mode", "erase")]


class ValidateEraseForm(FormValidationAction):
    def name(self) -> str:
        return "validate_erase_form"

    async def extract_erase_confirm(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "erase_confirm":
            return {}
        text = (tracker.latest_message.get("text") or "").strip()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        confidence = float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)
        if STOP.match(text) or SKIP.match(text) or ERASE_NO.search(text) or intent in ("deny", "cancel_request"):
            return {"erase_confirm": False}
        if YES.match(text) or ERASE_YES.match(text) or intent == "affirm":
            return {"erase_confirm": True}
        if intent in ANSWER_INSTEAD and confidence >= 0.8 and not text.startswith("/"):
            return {"erase_confirm": "other"}  # another request: nothing erased, and that request is answered
        return {"erase_confirm": "unclear"}

    def validate_erase_confirm(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if value is True or value is False or value == "other":
            return {"erase_confirm": value}
        dispatcher.utter_message(response="utter_erase_unclear")
        return {"erase_confirm": None}


class ActionEraseMyData(Action):
    def name(self) -> str:
        return "action_erase_my_data"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        if tracker.get_slot("erase_confirm") is not True:
            dispatcher.utter_message(response="utter_erase_kept")
            events: Events = [SlotSet("erase_confirm", None), SlotSet("privacy_mode", None)]
            intent = (tracker.latest_message.get("intent") or {}).get("name")
            if tracker.get_slot("erase_confirm") == "other" and intent in ANSWER_INSTEAD:
                events.append(FollowupAction(ANSWER_INSTEAD[intent]))
            return events
        speaker = speaker_of(tracker)
        citizen = citizen_of(speaker)
        with db.session() as s:
            requests = len(holdings(s, citizen, _conversation(tracker)).requests)
        # Only the decision: Rasa holds this conversation until the turn ends and would write back
        # anything deleted now. The gateway sees the marker, erases everywhere (usecases/erasure.py),
        # then delivers the words below, or says what went wrong.
        dispatcher.utter_message(json_message={ERASE_MARKER: {"confirmed": True}})
        dispatcher.utter_message(response="utter_erase_done", requests=str(requests))
        # Rasa appends this turn after the action; resetting leaves nothing about the person in it.
        return [AllSlotsReset()]

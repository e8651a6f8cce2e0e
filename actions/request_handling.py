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
from common.ids import format_request_id, parse_request_id
from storage.officials import PermissionDenied, require_official
from storage.requests import (
    OFFICIAL_STATUSES,
    STATUS_THAI,
    NotYourAgency,
    RequestClosed,
    RequestNotFound,
    forward_request,
    update_request_status,
)
from storage.services import get_agency

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
                    agency = get_agency(s, agency_name)
                    request = forward_request(s, actor, request_id, agency.name if agency else agency_name, note)
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
            dispatcher.utter_message(response="utter_request_status_updated", request_id=code, status=STATUS_THAI[request.status])
        return []

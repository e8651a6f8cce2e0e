"""reopen_request: "ยังไม่เสร็จจริง" — the citizen says a completed request is not actually fixed (storage.requests.reopen_request)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import db
from actions.idempotency import once_per_message
from actions.identity import citizen_of, speaker_of
from actions.services import latest_entity
from common.ids import parse_request_id
from common.wording.requests import STATUS_THAI
from storage.requests import NotCompleted, ReopenTooLate, RequestNotFound, reopen_request

Events = list[dict[str, Any]]
_TRIGGERS = ("ยังไม่เสร็จจริง", "ยังไม่เสร็จ", "ยังไม่ได้แก้", "ยังไม่ได้รับการแก้ไข")


def _reason(text: str) -> str:
    if text.startswith("/"):
        return ""
    for word in _TRIGGERS:
        text = text.replace(word, " ")
    return " ".join(text.split())


class ActionReopenRequest(Action):
    def name(self) -> str:
        return "action_reopen_request"

    @once_per_message
    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        speaker = speaker_of(tracker)
        if speaker.in_group:
            dispatcher.utter_message(response="utter_reopen_private_only")
            return []
        citizen = citizen_of(speaker)
        text = (tracker.latest_message.get("text") or "").strip()
        request_id = parse_request_id(latest_entity(tracker, "request_id")) or parse_request_id(text)
        with db.session() as s:
            try:
                request = reopen_request(s, citizen.key, request_id, reason=_reason(text))
            except RequestNotFound:
                dispatcher.utter_message(response="utter_reopen_nothing" if request_id is None else "utter_request_not_found")
                return []
            except NotCompleted as not_done:
                dispatcher.utter_message(response="utter_reopen_not_completed", status=STATUS_THAI[not_done.status])
                return []
            except ReopenTooLate:
                dispatcher.utter_message(response="utter_reopen_too_late")
                return []
            dispatcher.utter_message(response="utter_reopened", request_id=request.code, service=request.service, agency=request.agency)
        return []

"""human_handoff: hand the citizen's conversation to the responsible agency's officials."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import db, ratelimit
from actions.idempotency import once_per_message
from actions.identity import citizen_of, speaker_of
from storage.agencies import get_agency
from common.wording.handoff import BOT_IS_BACK
from storage.handoff import BACK_TO_BOT, active_handoff, release_handoff, start_handoff
from storage.requests import latest_open_request, list_own_requests
from storage.services import get_service

Events = list[dict[str, Any]]


class ActionHumanHandoff(Action):
    def name(self) -> str:
        return "action_human_handoff"

    @once_per_message
    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        speaker = speaker_of(tracker)
        if speaker.in_group:
            dispatcher.utter_message(response="utter_handoff_private_only")
            return []
        citizen = citizen_of(speaker)
        text = tracker.latest_message.get("text") or ""
        if BACK_TO_BOT.match(text):
            # "คุยกับบอท" after the handoff already ended: the assistant is simply here
            dispatcher.utter_message(text=BOT_IS_BACK, buttons=[{"title": "ดูเมนู", "payload": "/help"}])
            return []
        conversation = tracker.sender_id or citizen.key
        if ratelimit.refused(dispatcher, "handoffs", citizen.key):
            return []
        with db.session() as s:
            if active_handoff(s, conversation) is not None:
                dispatcher.utter_message(response="utter_handoff_already")
                return []
            request = latest_open_request(s, citizen.key) or next(iter(list_own_requests(s, citizen.key, limit=1)), None)
            agency = None
            if request is None and tracker.get_slot("service"):
                service = get_service(s, tracker.get_slot("service"))
                agency = service.agency if service else None
            handoff, told = start_handoff(
                s, citizen, conversation, agency=agency, request=request,
                reason="" if text.startswith("/") else text,
            )
            name = handoff.agency
            if told == 0:
                record = get_agency(s, name)
                contact = f"โดยตรงที่ {record.phone} หรือ" if record is not None and record.phone else ""
                release_handoff(s, None, handoff.id)
                dispatcher.utter_message(response="utter_handoff_nobody", agency=name, contact=contact)
                return []
        dispatcher.utter_message(response="utter_handoff_started", agency=name)
        return []

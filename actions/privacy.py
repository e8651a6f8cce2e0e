"""PDPA rights in the chat: "what do you hold about me" and "erase my data".

`delete_my_data` covers both; the wording decides. Erasure is confirmed first
(`erase_form`), then `storage.privacy.erase` clears the person's data and Rasa's
own record of the conversation is deleted too.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import AllSlotsReset, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import db
from actions.identity import citizen_of, speaker_of
from actions.requests import SKIP, STOP, YES

Events = list[dict[str, Any]]
logger = logging.getLogger(__name__)
EXPORT = re.compile(r"(ขอดู|ดูข้อมูล|มีข้อมูล|เก็บข้อมูลอะไร|เก็บอะไร|ข้อมูลอะไรของ|export|ส่งออก|ขอสำเนา|สำเนาข้อมูล|เข้าถึงข้อมูล|รู้ว่าเก็บ|what data|my data\?)", re.IGNORECASE)


def _conversation(tracker: Tracker) -> str:
    return tracker.sender_id or ""


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
        from storage.privacy import export_lines

        with db.session() as s:
            lines = export_lines(s, citizen, _conversation(tracker))
        if EXPORT.search(text) and not re.search(r"ลบ|delete|erase|ถอน|ทำลาย|ล้าง", text, re.IGNORECASE):
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
        if STOP.match(text) or SKIP.match(text) or intent in ("deny", "cancel_request"):
            return {"erase_confirm": False}
        if YES.match(text) or intent == "affirm":
            return {"erase_confirm": True}
        return {"erase_confirm": "unclear"}

    def validate_erase_confirm(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if value is True or value is False:
            return {"erase_confirm": value}
        dispatcher.utter_message(response="utter_erase_unclear")
        return {"erase_confirm": None}


def tracker_engine():  # type: ignore[no-untyped-def]
    """Rasa's tracker store, where `bot run` puts it (see bot.commands.run.rasa_endpoints_yaml)."""
    import os

    from common.settings import get_settings
    from storage.db import make_engine

    settings = get_settings()
    url = os.environ.get("RASA_TRACKER_URL", "").strip()
    if not url:
        if settings.database_url.startswith(("postgresql", "postgres")):
            from sqlalchemy.engine import make_url

            base = make_url(settings.database_url)
            url = base.set(database=os.environ.get("RASA_TRACKER_DB") or f"{base.database}_rasa").render_as_string(hide_password=False)
        else:
            path = settings.var_dir / "rasa_tracker.db"
            if not path.exists():
                return None
            url = f"sqlite:///{path}"
    return make_engine(url)


class ActionEraseMyData(Action):
    def name(self) -> str:
        return "action_erase_my_data"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        if tracker.get_slot("erase_confirm") is not True:
            dispatcher.utter_message(response="utter_erase_kept")
            return [SlotSet("erase_confirm", None), SlotSet("privacy_mode", None)]
        speaker = speaker_of(tracker)
        citizen = citizen_of(speaker)
        from storage.privacy import erase, erase_rasa_tracker

        with db.session() as s:
            erased = erase(s, citizen, _conversation(tracker))
        try:
            engine = tracker_engine()
            if engine is not None:
                erase_rasa_tracker(engine, _conversation(tracker))
                engine.dispose()
        except Exception as exc:  # noqa: BLE001 - the store may be elsewhere; the rest is erased
            logger.warning("could not erase the Rasa tracker: %s", type(exc).__name__)
        dispatcher.utter_message(response="utter_erase_done", requests=str(erased.requests))
        # Rasa appends this turn after the action; resetting leaves nothing about the person in it.
        return [AllSlotsReset()]

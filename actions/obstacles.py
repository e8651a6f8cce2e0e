"""report_obstacle: "กฎหมายนี้เป็นอุปสรรค", "ขั้นตอนนี้ยุ่งยาก" — a citizen says a law or a step makes a service hard.

From a law card (`/report_obstacle{"law_topic": "<title>"}`), a service card
(`/report_obstacle{"service": "<name>"}`) or in their own words. The reason is stored masked and
the person only as a pseudonym (storage/obstacles.py); a reason typed right after a button press
completes that report instead of filing a second one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import db
from actions.idempotency import once_per_message
from actions.identity import speaker_of
from actions.services import latest_entity
from common.numbers import parse_number
from storage.models.base import utcnow
from storage.models.laws import Law
from storage.models.opengov import ObstacleReport
from storage.obstacles import LAW, STEP, add_reason, report_obstacle, reporter_pseudonym, resolve_target

Events = list[dict[str, Any]]
_TRIGGERS = ("กฎหมายนี้เป็นอุปสรรค", "กฎหมายเป็นอุปสรรค", "เป็นอุปสรรค", "ขั้นตอนนี้ยุ่งยาก", "ขั้นตอนยุ่งยาก", "ยุ่งยาก",
             "เพราะว่า", "เพราะ")


def reason_of(text: str) -> str:
    if text.startswith("/"):
        return ""
    for word in _TRIGGERS:
        text = text.replace(word, " ")
    return " ".join(text.split()).strip(" :,-")


class ActionReportObstacle(Action):
    def name(self) -> str:
        return "action_report_obstacle"

    @once_per_message
    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        speaker = speaker_of(tracker)
        if speaker.in_group:
            dispatcher.utter_message(response="utter_obstacle_in_group")
            return []
        text = (tracker.latest_message.get("text") or "").strip()
        law_topic, service_name = latest_entity(tracker, "law_topic"), latest_entity(tracker, "service")
        reason = reason_of(text)
        with db.session() as s:
            law, service = None, ""
            if service_name:
                law, service = resolve_target(s, service_name)
            elif law_topic:
                law, service = resolve_target(s, law_topic)
            else:  # the report continues the last one, or is about the law just shown
                previous = tracker.get_slot("obstacle_target") or ""
                kind, _, value = previous.partition(":")
                if kind == "law" and parse_number(value, thai=False) is not None:
                    law = s.get(Law, parse_number(value, thai=False))
                elif kind == "service":
                    service = value
                elif tracker.get_slot("law_results"):
                    law = s.get(Law, int(tracker.get_slot("law_results")[0]))
            if law is None and not service:
                dispatcher.utter_message(response="utter_ask_obstacle_target")
                return []
            reporter = reporter_pseudonym(speaker.key)
            target = ObstacleReport.law_id == law.id if law is not None else ObstacleReport.service == service
            recent = s.scalar(select(ObstacleReport).where(target, ObstacleReport.reporter == reporter,
                                                          ObstacleReport.created_at >= utcnow() - timedelta(days=1))
                              .order_by(ObstacleReport.id.desc()).limit(1))
            kind = STEP if (law is None or "ขั้นตอน" in text) else LAW
            if recent is not None and (not reason or not recent.reason):
                if reason:  # the reason for the report just filed
                    add_reason(recent, reason)
            else:
                report_obstacle(s, law=law, service=service, kind=kind, reason=reason, reporter=reporter, channel=speaker.channel)
            what = f"กฎหมาย {law.title}" if law is not None else f"ขั้นตอนของบริการ {service}"
            slot = f"law:{law.id}" if law is not None else f"service:{service}"
        if reason:
            dispatcher.utter_message(response="utter_obstacle_recorded", what=what)
        else:
            dispatcher.utter_message(response="utter_obstacle_ask_reason", what=what)
        return [SlotSet("obstacle_target", slot)]

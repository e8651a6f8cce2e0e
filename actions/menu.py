"""The help menu: citizens and officials see what each of them can do.

Telegram is the officials' channel (DESIGN.md): there "/help" lists the coordination commands.
Everywhere else (LINE, the web chat) the citizens' menu never mentions officials' commands.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.identity import speaker_of


class ActionHelp(Action):
    def name(self) -> str:
        return "action_help"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        officials = speaker_of(tracker).channel == "telegram"
        dispatcher.utter_message(response="utter_help_officials" if officials else "utter_help")
        return []

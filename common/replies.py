"""Channel-neutral rich reply payloads.

Actions send these with `dispatcher.utter_message(json_message=...)` (or domain
responses with `custom:`); Rasa hands them to the gateway as `custom`, and each
channel renders them its own way (LINE Flex, Telegram HTML + inline keyboard, web
chat cards). Plain `text` and `buttons` need no payload: Rasa's own fields are used.

Schema (all strings Thai, already final wording):

    {"type": "cards",
     "alt_text": "short summary for notifications and plain-text channels",
     "cards": [{"title": str, "subtitle": str | None,
                "lines": [str, ...],                 # body lines, shown in order
                "fields": [[label, value], ...],     # optional label/value rows
                "link": {"label": str, "url": str} | None,
                "buttons": [{"title": str, "payload": str}, ...]}]}   # <= 3 per card

    {"type": "location_request", "text": str}        # ask for a location (LINE quick reply)
"""

from __future__ import annotations

from typing import Any, TypedDict

MAX_CARDS = 10
MAX_CARD_BUTTONS = 3


class Button(TypedDict):
    title: str
    payload: str


class Link(TypedDict):
    label: str
    url: str


def button(title: str, payload: str) -> Button:
    return {"title": title, "payload": payload}


def card(
    title: str,
    *,
    subtitle: str | None = None,
    lines: list[str] | None = None,
    fields: list[tuple[str, str]] | None = None,
    link: Link | None = None,
    buttons: list[Button] | None = None,
) -> dict[str, Any]:
    return {
        "title": title,
        "subtitle": subtitle,
        "lines": list(lines or []),
        "fields": [[label, value] for label, value in (fields or [])],
        "link": link,
        "buttons": list(buttons or [])[:MAX_CARD_BUTTONS],
    }


def cards(alt_text: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "cards", "alt_text": alt_text, "cards": items[:MAX_CARDS]}


def location_request(text: str) -> dict[str, Any]:
    return {"type": "location_request", "text": text}

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
                "buttons": [{"title": str, "payload": str}, ...],     # <= 3 per card
                "calls": [{"number": str, "label": str}, ...]}]}      # optional tap-to-call (tel:) buttons

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


class Call(TypedDict):
    number: str  # digits (and spaces) as dialled: "1669", "02 113 6789"
    label: str


def call(number: str, label: str) -> Call:
    return {"number": number, "label": label}


def tel_uri(number: str) -> str:
    """The tel: URI of a number as written ("02 113 6789" -> "tel:021136789")."""
    return "tel:" + "".join(ch for ch in number if ch.isdigit() or ch == "+")


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
    calls: list[Call] | None = None,
) -> dict[str, Any]:
    out = {
        "title": title,
        "subtitle": subtitle,
        "lines": list(lines or []),
        "fields": [[label, value] for label, value in (fields or [])],
        "link": link,
        "buttons": list(buttons or [])[:MAX_CARD_BUTTONS],
    }
    if calls:
        out["calls"] = list(calls)[:MAX_CARD_BUTTONS]
    return out


def cards(alt_text: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "cards", "alt_text": alt_text, "cards": items[:MAX_CARDS]}


def location_request(text: str) -> dict[str, Any]:
    return {"type": "location_request", "text": text}

"""Neutral replies -> Telegram messages: HTML-escaped text and inline keyboards."""

from __future__ import annotations

import html
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from connectors.replies import as_plain_text

MAX_TEXT = 4000

# Set by the gateway: shortens button payloads over Telegram's 64-byte callback limit.
shorten = lambda payload: payload  # noqa: E731


def _keyboard(buttons: list[dict[str, str]], cards: list[dict[str, Any]]) -> InlineKeyboardMarkup | None:
    rows: list[list[InlineKeyboardButton]] = []
    for card in cards:
        for b in card.get("buttons", []):
            rows.append([InlineKeyboardButton(b["title"][:60], callback_data=shorten(b["payload"]))])
        if card.get("link"):
            rows.append([InlineKeyboardButton(card["link"]["label"][:60], url=card["link"]["url"])])
    row: list[InlineKeyboardButton] = []
    for b in buttons:
        row.append(InlineKeyboardButton(b["title"][:60], callback_data=shorten(b["payload"])))
        if len(row) == 2:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return InlineKeyboardMarkup(rows) if rows else None


def to_telegram_messages(replies: list[dict[str, Any]]) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    out = []
    for reply in replies:
        text = as_plain_text(reply)
        if not text:
            continue
        custom = reply.get("custom") or {}
        cards = custom.get("cards", []) if custom.get("type") == "cards" else []
        out.append((html.escape(text[:MAX_TEXT]), _keyboard(reply.get("buttons") or [], cards)))
    return out

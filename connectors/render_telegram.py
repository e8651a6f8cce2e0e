"""Neutral replies -> Telegram messages: HTML (every text escaped), inline keyboards, a location keyboard.

Cards become a bold title, escaped lines and label/value rows, with their buttons
and link as inline keyboard rows. Texts over Telegram's 4096-character limit are
split at line breaks. `location_request` in a private chat adds Telegram's
"share location" reply keyboard (Telegram offers it only in private chats).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

MAX_TEXT = 4096
MAX_LABEL = 64
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | None


def _e(text: Any) -> str:
    return html.escape(str(text), quote=False)


def button_payloads(replies: list[dict[str, Any]]) -> list[str]:
    payloads = []
    for reply in replies:
        payloads += [b["payload"] for b in reply.get("buttons") or []]
        custom = reply.get("custom") or {}
        for card in custom.get("cards", []) if custom.get("type") == "cards" else []:
            payloads += [b["payload"] for b in card.get("buttons", [])]
    return payloads


def _card_html(card: dict[str, Any]) -> str:
    lines = [f"<b>{_e(card.get('title') or '')}</b>"]
    if card.get("subtitle"):
        lines.append(f"<i>{_e(card['subtitle'])}</i>")
    lines += [_e(line) for line in card.get("lines", [])]
    lines += [f"{_e(label)}: {_e(value)}" for label, value in card.get("fields", [])]
    lines += [f"📞 {_e(c['label'])}" for c in card.get("calls", [])]  # Telegram's buttons cannot open tel: links
    return "\n".join(lines)


def _html(reply: dict[str, Any]) -> str:
    parts = []
    if reply.get("text"):
        parts.append(_e(reply["text"]))
    custom = reply.get("custom") or {}
    if custom.get("type") == "cards":
        parts += [_card_html(card) for card in custom.get("cards", [])]
    elif custom.get("type") == "location_request" and custom.get("text"):
        parts.append(_e(custom["text"]))
    return "\n\n".join(parts)


def _keyboard(buttons: list[dict[str, str]], cards: list[dict[str, Any]], shorten: Callable[[str], str]) -> InlineKeyboardMarkup | None:
    rows: list[list[InlineKeyboardButton]] = []
    for card in cards:
        for b in card.get("buttons", []):
            rows.append([InlineKeyboardButton(b["title"][:MAX_LABEL], callback_data=shorten(b["payload"]))])
        if card.get("link"):
            rows.append([InlineKeyboardButton(card["link"]["label"][:MAX_LABEL], url=card["link"]["url"])])
    row: list[InlineKeyboardButton] = []
    for b in buttons:
        row.append(InlineKeyboardButton(b["title"][:MAX_LABEL], callback_data=shorten(b["payload"])))
        if len(row) == 2:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return InlineKeyboardMarkup(rows) if rows else None


def _split(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut at line breaks (else hard) so that no HTML entity or tag is cut in half."""
    chunks: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
            amp = text.rfind("&", cut - 8, cut)  # do not split "&amp;"
            if amp != -1 and ";" not in text[amp:cut]:
                cut = amp
        chunks.append(text[:cut])
        text = text[cut:].lstrip("\n")
    return chunks + [text] if text else chunks


def to_telegram_messages(
    replies: list[dict[str, Any]], shorten: Callable[[str], str] = lambda p: p, private: bool = True,
) -> list[tuple[str, Markup]]:
    out: list[tuple[str, Markup]] = []
    for reply in replies:
        text = _html(reply)
        if not text:
            continue
        custom = reply.get("custom") or {}
        cards = custom.get("cards", []) if custom.get("type") == "cards" else []
        markup: Markup = _keyboard(reply.get("buttons") or [], cards, shorten)
        if custom.get("type") == "location_request" and private and markup is None:
            markup = ReplyKeyboardMarkup([[KeyboardButton("📍 ส่งตำแหน่ง", request_location=True)]], one_time_keyboard=True,
                                         resize_keyboard=True)
        chunks = _split(text)
        out += [(chunk, None) for chunk in chunks[:-1]]
        out.append((chunks[-1], markup))  # the keyboard goes with the last part
    return out

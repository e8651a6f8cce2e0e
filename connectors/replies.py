"""Turn Rasa's bot messages into one neutral shape every channel renders.

A reply is `{"text": str | None, "buttons": [{"title", "payload"}], "custom": dict | None}`.
"""

from __future__ import annotations

from typing import Any

MAX_TEXT = 4000


def _clean_buttons(buttons: Any) -> list[dict[str, str]]:
    out = []
    for b in buttons or []:
        if isinstance(b, dict) and b.get("title") and b.get("payload"):
            out.append({"title": str(b["title"])[:40], "payload": str(b["payload"])[:300]})
    return out


def normalise(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    replies = []
    for message in messages:
        text = message.get("text")
        custom = message.get("custom") if isinstance(message.get("custom"), dict) else None
        buttons = _clean_buttons(message.get("buttons"))
        if not text and not custom and not buttons:
            continue
        replies.append({"text": str(text)[:MAX_TEXT] if text else None, "buttons": buttons, "custom": custom})
    return replies


def as_plain_text(reply: dict[str, Any]) -> str:
    """A readable text version of a reply (for channels or terminals without rich messages)."""
    lines: list[str] = []
    if reply.get("text"):
        lines.append(reply["text"])
    custom = reply.get("custom") or {}
    if custom.get("type") == "cards":
        for card in custom.get("cards", []):
            lines.append(f"▸ {card.get('title', '')}")
            if card.get("subtitle"):
                lines.append(f"  {card['subtitle']}")
            for line in card.get("lines", []):
                lines.append(f"  {line}")
            for label, value in card.get("fields", []):
                lines.append(f"  {label}: {value}")
            for c in card.get("calls", []):
                lines.append(f"  📞 {c['label']}")
            if card.get("link"):
                lines.append(f"  {card['link']['label']}: {card['link']['url']}")
    elif custom.get("type") == "location_request" and custom.get("text"):
        lines.append(custom["text"])
    return "\n".join(lines)

"""Neutral replies -> LINE messages: text, quick replies (<= 13), Flex carousels."""

from __future__ import annotations

from typing import Any

from linebot.v3.messaging import (
    FlexContainer,
    FlexMessage,
    LocationAction,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
)

from common.replies import tel_uri

MAX_QUICK_REPLIES = 13
MAX_LABEL = 20
MAX_TEXT = 5000


def _label(title: str) -> str:
    return title if len(title) <= MAX_LABEL else title[: MAX_LABEL - 1] + "…"


def _quick_reply(buttons: list[dict[str, str]], ask_location: bool = False) -> QuickReply | None:
    items = []
    if ask_location:
        items.append(QuickReplyItem(action=LocationAction(label="ส่งตำแหน่ง")))
    for b in buttons[: MAX_QUICK_REPLIES - len(items)]:
        items.append(QuickReplyItem(action=PostbackAction(label=_label(b["title"]), data=b["payload"][:300], display_text=b["title"][:300])))
    return QuickReply(items=items) if items else None


def _bubble(card: dict[str, Any]) -> dict[str, Any]:
    body: list[dict[str, Any]] = [{"type": "text", "text": card.get("title") or "-", "weight": "bold", "size": "md", "wrap": True}]
    if card.get("subtitle"):
        body.append({"type": "text", "text": card["subtitle"], "size": "sm", "color": "#666666", "wrap": True})
    for line in card.get("lines", [])[:12]:
        body.append({"type": "text", "text": str(line)[:500] or "-", "size": "sm", "wrap": True})
    for label, value in card.get("fields", [])[:10]:
        body.append({"type": "box", "layout": "baseline", "spacing": "sm", "contents": [
            {"type": "text", "text": str(label)[:40] or "-", "size": "sm", "color": "#888888", "flex": 2, "wrap": True},
            {"type": "text", "text": str(value)[:300] or "-", "size": "sm", "flex": 5, "wrap": True},
        ]})
    footer: list[dict[str, Any]] = []
    for c in card.get("calls", [])[:3]:  # tap to call: first, in the card's colour of urgency
        footer.append({"type": "button", "style": "primary", "color": "#C62828", "height": "sm",
                       "action": {"type": "uri", "label": _label(c["label"]), "uri": tel_uri(c["number"])}})
    if card.get("link"):
        footer.append({"type": "button", "style": "link", "height": "sm",
                       "action": {"type": "uri", "label": _label(card["link"]["label"]), "uri": card["link"]["url"]}})
    for b in card.get("buttons", [])[:3]:
        footer.append({"type": "button", "style": "secondary", "height": "sm",
                       "action": {"type": "postback", "label": _label(b["title"]), "data": b["payload"][:300], "displayText": b["title"][:300]}})
    bubble: dict[str, Any] = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": body}}
    if footer:
        bubble["footer"] = {"type": "box", "layout": "vertical", "spacing": "sm", "contents": footer}
    return bubble


def to_line_messages(replies: list[dict[str, Any]]) -> list[Any]:
    messages: list[Any] = []
    for reply in replies:
        custom = reply.get("custom") or {}
        buttons = reply.get("buttons") or []
        if custom.get("type") == "cards" and custom.get("cards"):
            bubbles = [_bubble(c) for c in custom["cards"][:10]]
            contents = bubbles[0] if len(bubbles) == 1 else {"type": "carousel", "contents": bubbles}
            if reply.get("text"):
                messages.append(TextMessage(text=reply["text"][:MAX_TEXT]))
            messages.append(FlexMessage(alt_text=(custom.get("alt_text") or "ข้อมูล")[:400], contents=FlexContainer.from_dict(contents),
                                        quick_reply=_quick_reply(buttons)))
            continue
        if custom.get("type") == "location_request":
            text = custom.get("text") or reply.get("text") or "กรุณาส่งตำแหน่งที่ตั้งครับ"
            messages.append(TextMessage(text=text[:MAX_TEXT], quick_reply=_quick_reply(buttons, ask_location=True)))
            continue
        if reply.get("text"):
            messages.append(TextMessage(text=reply["text"][:MAX_TEXT], quick_reply=_quick_reply(buttons)))
    return messages

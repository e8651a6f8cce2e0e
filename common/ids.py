"""Identifiers: those people type (requests `REQ-000123`, tasks `T-42`) and the conversation ids Rasa knows.

Lower case, Thai digits, a missing hyphen or spaces are accepted when reading.
"""

from __future__ import annotations

import re

from common.numbers import parse_number

_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_REQUEST = re.compile(r"(?i)(?<![a-z])req\s*[-_]?\s*([0-9]{1,6})(?![0-9])")
_TASK = re.compile(r"(?i)(?<![a-z])t\s*[-_]?\s*([0-9]{1,7})(?![0-9])")


def format_request_id(number: int) -> str:
    return f"REQ-{number:06d}"


def format_task_id(number: int) -> str:
    return f"T-{number}"


def parse_request_id(text: str | None) -> int | None:
    """'req๐๐๐๑๒๓' -> 123; None when the text holds no request ID."""
    if not text:
        return None
    match = _REQUEST.search(text.translate(_THAI_DIGITS))
    return int(match.group(1)) if match else None


def parse_task_id(text: str | None) -> int | None:
    """'t-๔๒' -> 42; also a bare number ('42') when that is all the text holds."""
    if not text:
        return None
    normalised = text.translate(_THAI_DIGITS).strip()
    match = _TASK.search(normalised)
    if match:
        return int(match.group(1))
    return parse_number(normalised, max_digits=7)


LINE_GROUP_CHAT_TYPES = frozenset({"group", "room"})


def sender_id(channel: str, chat_id: str, chat_type: str = "private") -> str:
    """The Rasa sender id of a conversation (../shared/DESIGN.md); the one place this rule is written.

    `line:<userId>` for a 1:1 LINE chat, `line-group:<groupId or roomId>` for a LINE group or room,
    `<channel>:<chat id>` for every other channel (`telegram:<chat_id>`, `web:<id>`).
    """
    if channel == "line" and chat_type in LINE_GROUP_CHAT_TYPES:
        return f"line-group:{chat_id}"
    return f"{channel}:{chat_id}"

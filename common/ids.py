"""Identifiers: those people type (requests `REQ-000123`, tasks `T-42`) and the conversation ids Rasa knows.

Lower case, Thai digits, a missing hyphen or spaces are accepted when reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
TELEGRAM_GROUP_CHAT_TYPES = frozenset({"group", "supergroup"})
LINE_GROUP_PREFIX = "line-group"
# Message metadata key: the words after an officials' slash command, verbatim ("/newtask ร่าง TOR" -> "ร่าง TOR").
# Set only by the gateway (connectors/payloads.py rasa_message), which sends the command itself as its intent.
COMMAND_TEXT = "command_text"


def sender_id(channel: str, chat_id: str, chat_type: str = "private", user_id: str | None = None) -> str:
    """The Rasa sender id of a conversation (../shared/DESIGN.md); the one place this rule is written.

    In group chats every member has a conversation of their own, so one official's half-filled
    form or pending confirmation is never answered by another member's message:
    `line-group:<groupId or roomId>:<userId>` and `telegram:<chat_id>:<user_id>`. Replies still go to
    the group: the gateway answers the chat in the message metadata, never the sender id.
    A LINE group event without a `userId` (some clients and event types) falls back to the group's
    own conversation `line-group:<groupId>`. Every other chat: `line:<userId>` for a 1:1 LINE chat,
    `<channel>:<chat id>` (`telegram:<chat_id>`, `web:<id>`).
    """
    member = str(user_id or "").strip()
    if channel == "line" and chat_type in LINE_GROUP_CHAT_TYPES:
        return f"{LINE_GROUP_PREFIX}:{chat_id}:{member}" if member else f"{LINE_GROUP_PREFIX}:{chat_id}"
    if channel == "telegram" and chat_type in TELEGRAM_GROUP_CHAT_TYPES and member and member != str(chat_id):
        return f"telegram:{chat_id}:{member}"
    return f"{channel}:{chat_id}"


@dataclass(frozen=True)
class Sender:
    """A sender id read back: the platform, the chat, and the member when the id names one."""

    channel: str  # "line", "telegram", "web", ... ("line" for line-group ids too)
    chat_id: str
    user_id: str  # "" when the id is a whole group's (a LINE group event without a userId)
    group: bool

    @property
    def person(self) -> str | None:
        """`<channel>:<user id>` of the one person the conversation belongs to; None for a whole group."""
        return f"{self.channel}:{self.user_id}" if self.user_id else None


def parse_sender_id(sender: str) -> Sender:
    """The parts of a sender id written by `sender_id` (also the group-wide ids written before
    per-member conversations: `telegram:-100123`, `line-group:C123`)."""
    head, _, rest = (sender or "").partition(":")
    if head == LINE_GROUP_PREFIX:
        chat_id, _, user_id = rest.partition(":")
        return Sender("line", chat_id, user_id, True)
    channel = head or "web"
    chat_id, sep, user_id = rest.partition(":")
    if sep:  # telegram:<chat>:<user>
        return Sender(channel, chat_id, user_id, True)
    if channel == "telegram" and chat_id.startswith("-"):  # a Telegram group's old, group-wide conversation
        return Sender(channel, chat_id, "", True)
    return Sender(channel, rest, rest, False)


# A request or task ID as officials type it at the start of, or inside, a group message: "REQ-000123",
# "req 123", "T-42", "t42 เสร็จ" (a bare "t" plus digits only at the start: inside a sentence "t5" is rarely one).
_NAMED_REQUEST = re.compile(r"(?i)(?<![a-z0-9])req\s*[-_]?\s*[0-9]{1,6}(?![0-9])")
_NAMED_TASK = re.compile(r"(?i)(?<![a-z0-9])t-\s*[0-9]{1,7}(?![0-9])|^\s*t\s*[0-9]{1,7}(?![0-9])")


def names_record(text: str | None) -> bool:
    """Does the text name a request (REQ-…) or a task (T-…)? Group messages that do are for the bot."""
    if not text:
        return False
    normalised = text.translate(_THAI_DIGITS)
    return bool(_NAMED_REQUEST.search(normalised) or _NAMED_TASK.search(normalised))


def record_ids(text: str | None) -> list[str]:
    """The distinct request and task IDs a text names, written the canonical way, in order of appearance."""
    if not text:
        return []
    normalised = text.translate(_THAI_DIGITS)
    found: list[tuple[int, str]] = [(m.start(), format_request_id(int(m.group(0).lower().split("req", 1)[1].strip(" -_"))))
                                    for m in _NAMED_REQUEST.finditer(normalised)]
    found += [(m.start(), format_task_id(int(re.sub(r"\D", "", m.group(0))))) for m in _NAMED_TASK.finditer(normalised)]
    out: list[str] = []
    for _, code in sorted(found):
        if code not in out:
            out.append(code)
    return out

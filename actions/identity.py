"""Who is speaking: read from the message metadata the gateway attaches.

The gateway sends every message to Rasa with metadata
`{"channel", "user_id", "chat_id", "chat_type", "display_name", ...}`. In a group each
member has a conversation of their own (`telegram:<chat>:<user>`, `line-group:<group>:<user>`),
but the group (where to answer, what agency it is linked to) is read from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker

from common.ids import parse_sender_id
from storage.requests import Citizen


@dataclass(frozen=True)
class Speaker:
    channel: str  # "line", "telegram" or "web"
    user_id: str  # platform user id of the person who spoke
    chat_id: str  # platform chat/group id (equals user_id in 1:1 chats)
    chat_type: str  # "private", "group", "supergroup", "room"
    display_name: str
    via: str = ""  # "local_chat" when the message came through the local web chat or `bot shell`

    @property
    def key(self) -> str:
        """Stable identity of the person across chats: `<channel>:<user_id>`."""
        return f"{self.channel}:{self.user_id}"

    @property
    def in_group(self) -> bool:
        return self.chat_type not in ("private", "user", "")


def _latest_metadata(tracker: Tracker) -> dict[str, Any]:
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    if metadata:
        return metadata
    for event in reversed(tracker.events):
        if event.get("event") == "user" and event.get("metadata"):
            return event["metadata"]
    return {}


def speaker_of(tracker: Tracker) -> Speaker:
    """The person behind the latest message; falls back to the sender id."""
    metadata = _latest_metadata(tracker)
    sender = tracker.sender_id or ""
    parsed = parse_sender_id(sender)
    channel = str(metadata.get("channel") or parsed.channel)
    chat_id = str(metadata.get("chat_id") or parsed.chat_id or sender)
    user_id = str(metadata.get("user_id") or parsed.user_id or chat_id)
    return Speaker(
        channel=channel,
        user_id=user_id,
        chat_id=chat_id,
        chat_type=str(metadata.get("chat_type") or ("group" if parsed.group else "private")),
        display_name=str(metadata.get("display_name") or ""),
        via=str(metadata.get("via") or ""),
    )


def citizen_of(speaker: Speaker) -> Citizen:
    """The citizen behind a private chat and where notices reach them.

    Messages tried through the local web chat or `bot shell` are answered there,
    whichever channel they speak as.
    """
    if speaker.via == "local_chat" or speaker.channel == "web":
        return Citizen(key=speaker.key, channel="web", reply_to=speaker.chat_id)
    return Citizen(key=speaker.key, channel=speaker.channel, reply_to=speaker.user_id)


def shared_location(tracker: Tracker) -> dict[str, Any] | None:
    """A location the user shared with the latest message (LINE location message), if any."""
    location = _latest_metadata(tracker).get("location")
    return location if isinstance(location, dict) and "latitude" in location else None

"""Who gave an official's command, and where (shared by the command modules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CommandContext:
    channel: str
    chat_id: str
    chat_type: str
    user_id: str
    display_name: str
    reply_to_user_id: str | None = None
    reply_to_name: str = ""
    event_key: str = ""  # the inbound event's id: a retried command sends nothing twice

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any], event_key: str) -> CommandContext:
        """The context of a stored inbound command (the speaker travels in the event's metadata)."""
        m = metadata
        return cls(channel=m.get("channel", ""), chat_id=str(m.get("chat_id")), chat_type=m.get("chat_type", "private"),
                   user_id=str(m.get("user_id")), display_name=m.get("display_name", ""),
                   reply_to_user_id=m.get("reply_to_user_id"), reply_to_name=m.get("reply_to_name", ""), event_key=event_key)

"""Who gave an official's command, and where (shared by the command modules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Telegram's stand-ins for a sender who is not a person: an anonymous group admin speaks as
# "GroupAnonymousBot" (with `sender_chat` = the group), a linked channel as "Channel_Bot".
ANONYMOUS_SENDER_IDS = frozenset({"1087968824", "136817688"})
ANONYMOUS_REFUSAL = ("กรุณาปิดโหมดผู้ดูแลแบบไม่ระบุตัวตน (Remain anonymous) ในการตั้งค่าผู้ดูแลของกลุ่มก่อนใช้คำสั่งนี้ครับ "
                     "ขณะเปิดโหมดนี้ ระบบไม่ทราบว่าใครเป็นผู้สั่ง จึงตรวจสิทธิ์และบันทึกผู้รับผิดชอบไม่ได้")


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
    anonymous: bool = False  # an anonymous admin or a channel: not a person whose rights can be checked

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any], event_key: str) -> CommandContext:
        """The context of a stored inbound command (the speaker travels in the event's metadata)."""
        m = metadata
        user_id = str(m.get("user_id"))
        anonymous = m.get("anonymous_admin") is True or (m.get("channel") == "telegram" and user_id in ANONYMOUS_SENDER_IDS)
        return cls(channel=m.get("channel", ""), chat_id=str(m.get("chat_id")), chat_type=m.get("chat_type", "private"),
                   user_id=user_id, display_name=m.get("display_name", ""),
                   reply_to_user_id=m.get("reply_to_user_id"), reply_to_name=m.get("reply_to_name", ""), event_key=event_key,
                   anonymous=anonymous)

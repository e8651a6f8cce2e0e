"""Handoff: what the officials' groups and the citizen read while a human official takes over."""

from __future__ import annotations

MAX_RELAY = 1500  # characters of one relayed message

BOT_IS_BACK = "ผู้ช่วยอัตโนมัติกลับมาให้บริการแล้วครับ พิมพ์สิ่งที่ต้องการได้เลย"
RELEASED = "เจ้าหน้าที่ได้ดูแลเรื่องของคุณแล้วครับ ตอนนี้ผู้ช่วยอัตโนมัติกลับมาให้บริการ พิมพ์ถามได้เลยครับ"


def started(handoff_code: str, reason: str, request_code: str | None = None, service: str | None = None) -> str:
    """The agency's groups are asked to take the conversation (with the request it is about, if any)."""
    about = f" เรื่องคำร้อง {request_code} ({service})" if request_code else ""
    return (
        f"🙋 ประชาชนขอคุยกับเจ้าหน้าที่{about} [{handoff_code}]"
        + (f"\nข้อความ: {reason[:MAX_RELAY]}" if reason else "")
        + f"\nตอบกลับ: /reply {handoff_code} ข้อความ\nคืนการสนทนาให้บอท: /release {handoff_code}"
    )


def from_citizen(handoff_code: str, text: str) -> str:
    return f"💬 ข้อความจากประชาชน [{handoff_code}]:\n{text[:MAX_RELAY]}\nตอบกลับ: /reply {handoff_code} ข้อความ"


def from_official(agency: str, message: str) -> str:
    return f"💬 เจ้าหน้าที่{agency}:\n{message[:MAX_RELAY]}"

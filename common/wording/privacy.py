"""PDPA rights: what a person is shown of the data held about them."""

from __future__ import annotations

from typing import Any, Protocol, Sequence

from common.wording.requests import STATUS_THAI


class HoldingsView(Protocol):
    """What is held about a person (storage.privacy.Holdings has it)."""

    requests: Sequence[Any]
    ratings: int
    messages: int
    handoffs: int
    pending_notices: int
    nlu_captures: int

    @property
    def empty(self) -> bool: ...


def export_lines(held: HoldingsView, reply_to: str) -> list[str]:
    """What is held about the person, in Thai, one item a line."""
    if held.empty:
        return ["ตอนนี้ระบบไม่มีข้อมูลส่วนบุคคลของคุณเก็บไว้ นอกจากรหัสผู้ใช้ของแอปที่ใช้ส่งข้อความถึงคุณครับ"]
    lines = [f"รหัสผู้ใช้ในช่องทางนี้ (ใช้เพื่อตอบกลับคุณ): {reply_to}"]
    for r in held.requests:
        parts = [f"{r.code} {r.service} → {r.agency} · {STATUS_THAI[r.status]}"]
        if r.details:
            parts.append(f"รายละเอียด: {r.details[:120]}")
        if r.location:
            parts.append(f"สถานที่: {r.location.get('address') or ''} ({r.location.get('latitude', '-')}, {r.location.get('longitude', '-')})")
        if r.contact:
            parts.append(f"ช่องทางติดต่อ: {r.contact}")
        lines.append(" | ".join(parts))
    if held.ratings:
        lines.append(f"คะแนนความพึงพอใจที่ให้ไว้: {held.ratings} รายการ")
    if held.messages:
        lines.append(f"ข้อความที่คุณส่งถึงผู้ช่วย (เก็บไว้เพื่อให้บริการและตรวจสอบย้อนหลัง): {held.messages} ข้อความ")
    if held.handoffs:
        lines.append(f"ประวัติการขอคุยกับเจ้าหน้าที่: {held.handoffs} ครั้ง")
    if held.pending_notices:
        lines.append(f"การแจ้งเตือนที่รอส่งถึงคุณ: {held.pending_notices} รายการ")
    if held.nlu_captures:
        lines.append(f"ข้อความที่เก็บไว้ให้ผู้ดูแลใช้ปรับปรุงความเข้าใจของผู้ช่วย (ปิดบังเลขบัตร เบอร์โทร และอีเมลแล้ว): {held.nlu_captures} ข้อความ")
    return lines

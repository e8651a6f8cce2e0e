"""Citizens' requests: status names, the officials' request card and every notice about a request."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, Sequence

from common.replies import button, card
from common.thai_datetime import MONTHS_ABBR, TZ

STATUS_THAI = {
    "submitted": "ส่งเรื่องแล้ว รอหน่วยงานรับเรื่อง",
    "received": "หน่วยงานรับเรื่องแล้ว",
    "in_progress": "กำลังดำเนินการ",
    "need_info": "หน่วยงานขอข้อมูลเพิ่มเติม",
    "completed": "ดำเนินการเสร็จสิ้น",
    "rejected": "ไม่สามารถดำเนินการได้",
    "cancelled": "ยกเลิกแล้ว",
}
NEW_HEADING = "📥 คำร้องใหม่"
FORWARDED_HEADING = "📨 คำร้องที่ส่งต่อมา"
REOPENED_HEADING = "🔁 คำร้องที่ถูกเปิดอีกครั้ง"


class RequestView(Protocol):
    """What the wording reads of a request (storage.models.services.ServiceRequest has it)."""

    code: str
    service: str
    agency: str
    status: str
    details: str | None
    location: dict[str, Any] | None
    contact: str | None
    created_at: datetime
    history: Sequence[Any]


class HistoryView(Protocol):
    action: str
    status: str
    agency: str
    note: str
    at: datetime


def moment(at: datetime) -> str:
    """'26 พ.ย. 2569 09:30 น.' (Buddhist Era, Bangkok time)."""
    local = at.astimezone(TZ)
    return f"{local.day} {MONTHS_ABBR[local.month - 1]} {local.year + 543} {local:%H:%M} น."


def rating_buttons(code: str) -> list[dict[str, str]]:
    return [button(f"{'⭐' * n} {n}", '/rate_service{"request_id": "%s", "rating": "%d"}' % (code, n)) for n in range(5, 0, -1)]


def reopen_button(code: str) -> dict[str, str]:
    """The "ยังไม่เสร็จจริง" button on a completion notice."""
    return button("ยังไม่เสร็จจริง", '/reopen_request{"request_id": "%s"}' % code)


def request_card(request: RequestView, heading: str) -> dict[str, Any]:
    """The card an agency's group gets for a new, forwarded or reopened request, with the status buttons."""
    lines = [f"รายละเอียด: {request.details or '-'}"]
    if request.location:
        loc = request.location
        where = loc.get("address") or loc.get("text") or ""
        if "latitude" in loc:
            where = f"{where} https://maps.google.com/?q={loc['latitude']},{loc['longitude']}".strip()
        lines.append(f"สถานที่: {where}")
        if loc.get("office"):
            lines.append(f"พื้นที่: {loc['office']}")
    if request.contact:
        lines.append(f"ติดต่อกลับ: {request.contact}")
    photos = [row.note for row in request.history if row.action == "attachment" and row.note]
    if photos:
        lines.append(f"📷 รูปประกอบ {len(photos)} รูป (รหัสรูป {', '.join(photos)})")
    return card(
        f"{heading} {request.code}",
        subtitle=f"{request.service} · {request.agency}",
        lines=lines,
        fields=[("สถานะ", STATUS_THAI[request.status]), ("ยื่นเมื่อ", moment(request.created_at))],
        buttons=[
            button("รับเรื่อง", '/update_request_status{"request_id": "%s", "request_status": "received"}' % request.code),
            button("กำลังดำเนินการ", '/update_request_status{"request_id": "%s", "request_status": "in_progress"}' % request.code),
            button("เสร็จสิ้น", '/update_request_status{"request_id": "%s", "request_status": "completed"}' % request.code),
        ],
    )


def attachment_notice(request: RequestView, reference: str) -> str:
    """Told to the agency's groups when a citizen adds a photo to a request already filed."""
    return f"📷 ผู้ยื่นคำร้อง {request.code} ({request.service}) ส่งรูปประกอบเพิ่ม 1 รูป (รหัสรูป {reference})"


def routed_text(request: RequestView, heading: str, note: str | None) -> str:
    return f"{heading} {request.code} ({request.service}) ถึง {request.agency}" + (f"\nหมายเหตุ: {note}" if note else "")


def at_fallback_desk(agency: str, desk: str) -> str:
    """Appended to a routed request shown at the fallback desk because the agency has no group yet."""
    return f"\n(ยังไม่มีกลุ่มของ {agency} ในระบบ ส่งมาที่โต๊ะกลาง {desk} เพื่อประสานต่อ)"


def filed_via_fallback_desk(agency: str, desk: str) -> str:
    """Told to the citizen when the agency serving the place has no group in the system yet (truthfully)."""
    return (f"หมายเหตุ: ตอนนี้ {agency} ยังไม่มีเจ้าหน้าที่ในระบบแชตนี้ "
            f"เรื่องของคุณจึงส่งไปที่ {desk} ก่อน เพื่อประสานส่งต่อให้ครับ")


def escalation_text(request: RequestView, days: int) -> str:
    return (f"⚠️ คำร้อง {request.code} ({request.service}) ยังไม่มีเจ้าหน้าที่รับเรื่อง เกินระยะเวลาปกติ {days} วันแล้ว "
            f"กรุณามอบหมายผู้รับผิดชอบด้วยครับ")


def cancelled_text(request: RequestView) -> str:
    return f"ℹ️ ผู้ยื่นยกเลิกคำร้อง {request.code} ({request.service}) แล้ว ไม่ต้องดำเนินการต่อครับ"


def status_notice(request: RequestView, status: str, note: str | None) -> str:
    """The citizen's notice of a status change (with what to do next for need-info and completed)."""
    text = f"📣 คำร้อง {request.code} ({request.service}) อัปเดตสถานะเป็น \"{STATUS_THAI[status]}\""
    if note:
        text += f"\nหมายเหตุจากเจ้าหน้าที่: {note}"
    if status == "need_info":
        text += "\nส่งข้อมูลเพิ่มเติมถึงเจ้าหน้าที่ได้โดยพิมพ์ \"ขอคุยกับเจ้าหน้าที่\" แล้วพิมพ์ข้อมูลที่ขอต่อได้เลยครับ"
    if status == "completed":
        text += "\nขอบคุณที่ใช้บริการครับ ให้คะแนนความพึงพอใจได้ที่ปุ่มด้านล่าง"
        text += "\nหากเรื่องยังไม่ได้รับการแก้ไขจริง กดปุ่ม \"ยังไม่เสร็จจริง\" ได้ภายใน 14 วันครับ"  # issue #24: reopen
    return text


def satisfaction_text(request: RequestView, completed_at: datetime) -> str:
    return f"🙏 คำร้อง {request.code} ({request.service}) เสร็จสิ้นไปเมื่อ {moment(completed_at)} คุณพอใจกับบริการของ {request.agency} แค่ไหนครับ"


def forwarded_history_note(source: str, note: str) -> str:
    """The history row's note of a forward (stored; the citizen sees it in the request's history)."""
    return f"จาก {source}" + (f": {note[:300]}" if note else "")


def forwarded_route_note(source: str, note: str) -> str:
    return f"ส่งต่อจาก {source}" + (f" — {note}" if note else "")


def forwarded_notice(request: RequestView, to_agency: str) -> str:
    return f"📣 คำร้อง {request.code} ({request.service}) ถูกส่งต่อให้ {to_agency} ซึ่งเป็นหน่วยงานที่รับผิดชอบเรื่องนี้ครับ"


def official_reply_text(request: RequestView, message: str) -> str:
    return f"💬 ข้อความจากเจ้าหน้าที่ {request.agency} เรื่องคำร้อง {request.code}:\n{message[:1000]}"


def reopened_text(request: RequestView, reason: str) -> str:
    return (f"🔁 ผู้ยื่นแจ้งว่าคำร้อง {request.code} ({request.service}) ยังไม่เสร็จจริง เรื่องกลับมาอยู่ในสถานะกำลังดำเนินการ "
            f"กรุณาตรวจสอบและดำเนินการต่อด้วยครับ" + (f"\nเหตุผลจากผู้ยื่น: {reason}" if reason else ""))


def status_lines(history: Sequence[HistoryView], anonymised: bool) -> list[str]:
    """A request's history in Thai, oldest first, with Buddhist-Era dates."""
    lines = []
    for row in history:
        if row.action == "created":
            what = f"ยื่นคำร้อง ส่งถึง {row.agency}"
        elif row.action == "forwarded":
            what = f"ส่งต่อให้ {row.agency}"
        elif row.action == "reply":
            what = "เจ้าหน้าที่ตอบกลับ"
        elif row.action == "rated":
            what = f"ให้คะแนน {row.note}"
        elif row.action == "attachment":
            lines.append(f"{moment(row.at)} · แนบรูปประกอบ")
            continue
        else:
            what = STATUS_THAI.get(row.status, row.status)
        note = f" ({row.note})" if row.note and row.action not in ("rated", "created") and not anonymised else ""
        lines.append(f"{moment(row.at)} · {what}{note}")
    return lines


def digest_section(waiting: int, new: int, untouched: int, listed: Sequence[RequestView]) -> tuple[str, list[str]]:
    """The requests part of an agency group's daily digest: (title, lines)."""
    lines = [f"คำร้องที่ยังเปิดอยู่ {waiting} เรื่อง (ใหม่ใน 24 ชั่วโมง {new} · ยังไม่มีผู้รับเรื่อง {untouched})"]
    for r in listed:
        lines.append(f"• {r.code} {r.service} · {STATUS_THAI[r.status]}")
    lines.append("ดูทั้งหมด: /requests")
    return "คำร้องของประชาชน", lines


# ---------------------------------------------------------------- which district, for a pin shared without words

NOT_IN_BANGKOK = "ไม่ได้อยู่ในกรุงเทพฯ"  # the button's words, sent back as the citizen's answer
SKIP_PLACE = "ข้าม"


def ask_bangkok_district(districts: Sequence[str], again: bool = False) -> tuple[str, list[dict[str, str]]]:
    """Asked when a pin near these Bangkok districts came without an address: the district picks the district office."""
    text = ("ขอชื่อเขตอีกครั้งครับ กดเลือกด้านล่าง หรือพิมพ์ชื่อเขต เช่น \"เขตบางกะปิ\"" if again else
            "ได้รับตำแหน่งแล้วครับ 📍 จุดนี้อยู่เขตไหนครับ จะได้ส่งเรื่องถึงสำนักงานเขตให้ถูกที่ "
            "กดเลือกด้านล่าง หรือพิมพ์ชื่อเขตได้เลย")
    buttons = [button(f"เขต{d}", f"เขต{d}") for d in districts]
    return text, [*buttons, button(NOT_IN_BANGKOK, NOT_IN_BANGKOK), button(SKIP_PLACE, SKIP_PLACE)]


def ask_local_area(again: bool = False) -> tuple[str, list[dict[str, str]]]:
    """Asked when a pin outside Bangkok came without an address: the อำเภอ/ตำบล names the local administration."""
    text = ("ขออำเภอและจังหวัดอีกครั้งครับ พิมพ์สั้น ๆ เช่น \"อ.เมือง จ.ขอนแก่น\" หรือกด \"ข้าม\" ก็ได้ครับ" if again else
            "ได้รับตำแหน่งแล้วครับ 📍 จุดนี้อยู่ตำบล อำเภอ และจังหวัดอะไรครับ จะได้ส่งเรื่องถึงเทศบาลหรือ อบต. ในพื้นที่ให้ถูกที่ "
            "พิมพ์ได้เลย เช่น \"ต.ในเมือง อ.เมือง จ.ขอนแก่น\" (ถ้าไม่ทราบ กด \"ข้าม\" ได้ครับ)")
    return text, [button(SKIP_PLACE, SKIP_PLACE)]


def place_noted(area: str) -> str:
    return f"ได้ครับ บันทึกพื้นที่เป็น \"{area}\" พร้อมพิกัดที่ส่งมาแล้ว"


def place_not_recognised() -> str:
    return "ยังไม่พบชื่อเขตหรืออำเภอในข้อความนี้ครับ"


def pin_only() -> str:
    return "ไม่เป็นไรครับ จะส่งตำแหน่งตามพิกัดที่ปักหมุดไว้ให้เจ้าหน้าที่ดูบนแผนที่"

"""Officials' commands for citizens' requests and handoffs (see usecases.admin_commands).

`/requests` lists the open requests routed to the official's agency; `/reply`
answers a citizen (by request ID or handoff ID) through the bot; `/forward` hands a
request to another agency; `/release` gives a handed-off conversation back to the
bot. Only officials of the agency the request or handoff is with may act on it.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from common.ids import format_request_id, parse_request_id
from common.wording.requests import STATUS_THAI
from storage.agencies import CHOICE, CONFIRM, FALLBACK_DESK, NONE, Resolution, get_agency, resolve_agency
from storage.handoff import HandoffNotFound, release_handoff, reply_in_handoff
from storage.nlu_review import flag, latest_capture_from
from storage.officials import Actor, PermissionDenied, require_official
from storage.pseudonyms import pseudonym_for
from storage.requests import (
    NotYourAgency,
    RequestClosed,
    RequestNotFound,
    UnstaffedAgency,
    agency_requests,
    forward_request,
    reply_to_citizen,
)
from usecases.context import CommandContext

HANDOFF_ID = re.compile(r"(?i)^h-?(\d{1,9})$")
CONFIRM_WORD = "ยืนยัน"  # after the agency: forward to an agency nobody staffs yet, having seen the warning
NOT_YOURS = "ไม่พบ {code} ในงานของหน่วยงานคุณครับ (อาจเป็นของหน่วยงานอื่น หรือปิดไปแล้ว)"


def _target(word: str) -> tuple[str, int] | None:
    handoff = HANDOFF_ID.match(word)
    if handoff:
        return "handoff", int(handoff.group(1))
    request = parse_request_id(word)
    return ("request", request) if request is not None else None


def handle_official(session: Session, ctx: CommandContext, command: str, rest: str) -> str:
    try:
        actor = require_official(session, ctx.channel, ctx.user_id)
    except PermissionDenied:
        return "ขออภัยครับ คำสั่งนี้สำหรับเจ้าหน้าที่ที่ลงทะเบียนแล้วเท่านั้น"
    if command == "/flag":
        return _flag(session, ctx)
    if command == "/requests":
        rows = agency_requests(session, actor)
        if not rows:
            return f"ตอนนี้ไม่มีคำร้องที่รอ {actor.agency} ครับ 👍"
        lines = [f"คำร้องที่รอ {actor.agency} ({len(rows)} เรื่อง):"]
        for r in rows:
            lines.append(f"• {r.code} {r.service} · {STATUS_THAI[r.status]} · {(r.details or '-')[:60]}")
        lines.append("เปลี่ยนสถานะ เช่น \"REQ-000123 รับเรื่องแล้ว\" · ตอบประชาชน: /reply REQ-000123 ข้อความ")
        return "\n".join(lines)
    word, _, remainder = rest.strip().partition(" ")
    target = _target(word)
    if target is None:
        examples = {"/reply": "/reply REQ-000123 ข้อความ หรือ /reply H-5 ข้อความ", "/forward": "/forward REQ-000123 กรมที่ดิน เหตุผล",
                    "/release": "/release H-5"}
        return f"ระบุรหัสด้วยครับ เช่น {examples[command]}"
    kind, number = target
    code = f"H-{number}" if kind == "handoff" else format_request_id(number)
    try:
        if command == "/reply":
            if not remainder.strip():
                return f"พิมพ์ข้อความที่จะตอบต่อท้ายด้วยครับ เช่น /reply {code} กำลังส่งช่างไปตรวจสอบครับ"
            if kind == "handoff":
                reply_in_handoff(session, actor, number, remainder, key=ctx.event_key or code)
            else:
                reply_to_citizen(session, actor, number, remainder, key=ctx.event_key or None)
            return f"ส่งข้อความถึงประชาชน ({code}) แล้วครับ"
        if command == "/release":
            if kind != "handoff":
                return "ใช้ /release กับรหัสการสนทนา เช่น /release H-5 ครับ"
            release_handoff(session, actor, number)
            return f"คืนการสนทนา {code} ให้ผู้ช่วยอัตโนมัติแล้วครับ"
        if kind != "request":
            return "ใช้ /forward กับรหัสคำร้อง เช่น /forward REQ-000123 กรมที่ดิน ครับ"
        return _forward(session, actor, number, code, remainder)
    except (RequestNotFound, NotYourAgency, HandoffNotFound, PermissionError):
        return NOT_YOURS.format(code=code)
    except RequestClosed as closed:
        return f"{code} ปิดไปแล้ว ({STATUS_THAI[closed.status]}) ครับ"
    except ValueError as bad:
        if "already" in str(bad):
            return f"{code} อยู่กับหน่วยงานนี้อยู่แล้วครับ"
        return f"ทำรายการไม่ได้ครับ: {bad}"


def _agency_prefix(session: Session, text: str) -> tuple[Resolution, str]:
    """What the leading words name (the longest run that names one agency exactly) and the rest as the reason.

    Without an exact match: the longest run that gives a confirm or a choice, else the
    first word's resolution (with its closest matches)."""
    words = text.split()
    runs = [(resolve_agency(session, " ".join(words[:n])), " ".join(words[n:])) for n in range(len(words), 0, -1)]
    for accept in (lambda r: r.is_exact and r.how != "fuzzy", lambda r: r.is_exact, lambda r: r.outcome in (CONFIRM, CHOICE)):
        for found, reason in runs:
            if accept(found):
                return found, reason
    return runs[-1] if runs else (resolve_agency(session, ""), "")


def _forward(session: Session, actor: Actor, number: int, code: str, remainder: str) -> str:
    """`/forward REQ-… <agency> [ยืนยัน] [reason]`: forward only to an agency the catalog names exactly."""
    example = f"/forward {code} กรมโยธาธิการและผังเมือง เหตุผล"
    found, reason = _agency_prefix(session, remainder)
    confirmed = reason.split(maxsplit=1)[:1] == [CONFIRM_WORD]
    if confirmed:
        reason = reason.split(maxsplit=1)[1] if len(reason.split(maxsplit=1)) > 1 else ""
    line = lambda c: f"• {c.name} → /forward {code} #{c.agency_id} {reason}".rstrip()  # noqa: E731
    if found.outcome == NONE:
        if found.how == "empty":
            return f"ระบุหน่วยงานปลายทางด้วยครับ เช่น {example}"
        if found.how == "generic":
            return f"\"{found.query}\" ยังไม่ได้ระบุว่าเป็นหน่วยงานใดครับ {code} ยังอยู่ที่หน่วยงานเดิม กรุณาพิมพ์ชื่อหน่วยงานให้ครบ เช่น {example}"
        text = f"ไม่พบ \"{found.query}\" ในรายชื่อหน่วยงานครับ {code} ยังอยู่ที่หน่วยงานเดิม"
        if found.candidates:
            return text + "\nหน่วยงานที่ชื่อใกล้เคียง:\n" + "\n".join(line(c) for c in found.candidates)
        return text + f" กรุณาตรวจชื่อหน่วยงานอีกครั้ง เช่น {example}"
    if found.outcome == CONFIRM:
        return f"หมายถึง {found.agency.name} ใช่ไหมครับ ถ้าใช่ ส่งต่อได้ด้วยคำสั่งนี้\n{line(found.agency)}"
    if found.outcome == CHOICE:
        return f"\"{found.query}\" ตรงกับหลายหน่วยงานครับ เลือกหน่วยงานที่ต้องการ:\n" + "\n".join(line(c) for c in found.candidates)
    target = found.agency
    try:
        forward_request(session, actor, number, target.name, reason, allow_unstaffed=confirmed)
    except UnstaffedAgency:
        return (
            f"⚠️ {target.name} ยังไม่มีเจ้าหน้าที่หรือกลุ่มที่เชื่อมไว้ในระบบครับ ถ้าส่งต่อ คำร้องจะไปรอที่โต๊ะกลาง {FALLBACK_DESK} "
            f"เพื่อประสานหน่วยงานต่อ\nยืนยันส่งต่อด้วยคำสั่งนี้\n/forward {code} #{target.agency_id} {CONFIRM_WORD} {reason}".rstrip()
        )
    return f"ส่งต่อ {code} ให้ {target.name} แล้วครับ ประวัติคำร้องยังอยู่ครบ"


def _flag(session: Session, ctx: CommandContext) -> str:
    """Flag the latest captured message of the person replied to (or of the official) for review."""
    person = f"{ctx.channel}:{ctx.reply_to_user_id or ctx.user_id}"
    sender = pseudonym_for(person)
    latest = latest_capture_from(session, sender) if sender is not None else None
    if latest is None or not flag(session, latest):
        return "ไม่พบข้อความล่าสุดที่รอตรวจของคนนี้ครับ (ข้อความที่ผู้ดูแลตรวจไปแล้วหรือเกินระยะเก็บรักษาจะไม่อยู่ในคิว)"
    return "ส่งข้อความล่าสุดนั้นให้ผู้ดูแลตรวจว่าบอทเข้าใจถูกหรือไม่แล้วครับ ขอบคุณที่ช่วยให้บอทเข้าใจดีขึ้น"

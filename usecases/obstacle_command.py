"""`/obstacle <law or service> [: reason]`: an official reports a law or a step that obstructs a service.

Officials of any role may report; the report is stored like a citizen's (reason masked), with
the official as `official:<id>` (storage/obstacles.py). Answered in Thai.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from storage.obstacles import LAW, STEP, report_obstacle, resolve_target, split_command
from storage.officials import PermissionDenied, require_official
from usecases.context import CommandContext

USAGE = ("ใช้คำสั่งนี้แบบ /obstacle <ชื่อกฎหมายหรือบริการ> : <เหตุผล> เช่น "
         "/obstacle พ.ร.บ.ควบคุมอาคาร : ต้องยื่นเอกสารชุดเดียวกันซ้ำหลายหน่วยงาน หรือ /obstacle ใบอนุญาตก่อสร้าง ใช้เวลาพิจารณานานเกินไป")


def handle_obstacle(session: Session, ctx: CommandContext, args: str) -> str:
    try:
        official = require_official(session, ctx.channel, ctx.user_id)
    except PermissionDenied:
        return "ขออภัยครับ คำสั่งนี้สำหรับเจ้าหน้าที่ที่ลงทะเบียนแล้ว ประชาชนแจ้งได้ในแชตส่วนตัวกับผู้ช่วย โดยพิมพ์ \"กฎหมายนี้เป็นอุปสรรค\""
    target, reason = split_command(args)
    if not target:
        return USAGE
    law, service = resolve_target(session, target)
    if law is None and not service:
        return f"ไม่พบกฎหมายหรือบริการชื่อ \"{target}\" ครับ ลองระบุชื่อให้ชัดขึ้น\n{USAGE}"
    report_obstacle(session, law=law, service=service, kind=LAW if law is not None else STEP, reason=reason,
                    reporter=f"official:{official.id}", role="official", channel=ctx.channel)
    what = law.title if law is not None else f"ขั้นตอนของบริการ {service}"
    tail = "" if reason else " (ยังไม่มีเหตุผลประกอบ เพิ่มได้โดยส่งคำสั่งอีกครั้งพร้อมเหตุผล)"
    return f"บันทึกรายงานว่า {what} เป็นอุปสรรคต่อการให้บริการแล้วครับ ขอบคุณครับ ข้อมูลนี้จะส่งต่อให้หน่วยงานที่ทบทวนกฎหมาย{tail}"

"""In-group admin commands, answered by the gateway before NLU.

`/register <user id> <agency> [member|coordinator|admin]` (or as a reply to the
person's message, without the user id), `/unregister <user id>`,
`/linkgroup <agency>` and `/whoami`: only officials with the admin role may change
anything. Officials of any role handle citizens' requests and handoffs with
`/requests`, `/reply REQ-000123 <text>` or `/reply H-5 <text>`, `/forward REQ-000123
<agency> [reason]` and `/release H-5`; `/flag` (as a reply to someone's message, or
alone for one's own) asks admins to review what the bot understood of that
person's latest message. Everyone else gets a polite refusal. These
are commands, not language (their text is passed on verbatim), so they never
reach Rasa: the gateway worker runs them where it would ask Rasa (`answer_command`).
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from storage.agencies import NONE, resolve_agency
from storage.db import session_scope
from storage.effects import Effect, EffectKey, find_effect, record_effect
from storage.inbound import Event
from storage.models.officials import ROLES
from storage.officials import PermissionDenied, find_official, link_group, register_official, remove_official, require_official
from usecases.context import ANONYMOUS_REFUSAL, CommandContext
from usecases.obstacle_command import handle_obstacle
from usecases.request_commands import handle_official

__all__ = ["COMMANDS", "CommandContext", "answer_command", "handle", "is_admin_command"]

COMMANDS = ("/register", "/unregister", "/linkgroup", "/whoami", "/requests", "/reply", "/forward", "/release", "/flag", "/obstacle")
OFFICIAL_COMMANDS = ("/requests", "/reply", "/forward", "/release", "/flag")


def is_admin_command(text: str) -> bool:
    head = text.strip().split(maxsplit=1)[0].split("@")[0].lower() if text.strip() else ""
    return head in COMMANDS


def answer_command(engine: Engine, event: Event) -> str:
    """Run a stored inbound command once, in its own transaction; the Thai reply.

    Called by the gateway worker where it would otherwise ask Rasa, so the command's effect and
    its reply are decided once per message; delivering the reply (and retrying that) runs nothing.
    A gateway that stops after the command committed but before the message was marked done
    leaves the message open; the next one runs it again: the answer recorded with the command's
    effect (storage/effects.py, same transaction) is given instead, and nothing is done twice.
    """
    ctx = CommandContext.from_metadata(event.metadata, event_key=str(event.id))
    key = EffectKey("admin_command", event.conversation, f"{event.channel}-{event.id}")
    with session_scope(engine) as session:
        earlier = find_effect(session, key)
        if earlier is not None and earlier.responses:
            return str(earlier.responses[0].get("text") or "")
        reply = handle(session, ctx, event.text)
        record_effect(session, key, Effect(events=[], responses=[{"text": reply}]))
        return reply


def handle(session: Session, ctx: CommandContext, text: str) -> str:
    """Run one admin command; returns the Thai reply."""
    if ctx.anonymous:
        return ANONYMOUS_REFUSAL  # whatever the command: nobody's rights can be checked
    parts = text.strip().split()
    command = parts[0].split("@")[0].lower() if parts else ""
    args = parts[1:]
    if command == "/whoami":
        official = find_official(session, ctx.channel, ctx.user_id)
        if official is None or not official.active:
            return f"คุณยังไม่ได้ลงทะเบียนเป็นเจ้าหน้าที่ครับ (user id: {ctx.user_id})"
        return f"คุณคือเจ้าหน้าที่ {official.agency} สิทธิ์ {official.role} (user id: {ctx.user_id})"
    if command == "/obstacle":  # issue #24: a law or step that obstructs a service
        return handle_obstacle(session, ctx, text.strip().split(maxsplit=1)[1] if len(parts) > 1 else "")
    if command in OFFICIAL_COMMANDS:
        return handle_official(session, ctx, command, text.strip().split(maxsplit=1)[1] if len(parts) > 1 else "")
    try:
        admin = require_official(session, ctx.channel, ctx.user_id, "admin")
    except PermissionDenied:
        return "ขออภัยครับ คำสั่งนี้สำหรับผู้ดูแลระบบของหน่วยงานเท่านั้น"
    if command == "/linkgroup":
        if ctx.chat_type == "private":
            return "ใช้คำสั่งนี้ในกลุ่มที่ต้องการเชื่อมกับหน่วยงานครับ"
        if not args:
            return "ระบุหน่วยงานด้วยครับ เช่น /linkgroup กรมสรรพากร"
        agency, refusal = _catalog_agency(session, " ".join(args), "/linkgroup {}")
        if agency is None:
            return refusal
        try:
            link_group(session, channel=ctx.channel, chat_id=ctx.chat_id, agency=agency, actor=admin)
        except PermissionDenied:
            return "ขออภัยครับ ผู้ดูแลของหน่วยงานเชื่อมกลุ่มได้เฉพาะกับหน่วยงานของตนเอง และกลุ่มที่เชื่อมกับหน่วยงานอื่นอยู่แล้วเปลี่ยนได้โดยผู้ดูแลของหน่วยงานนั้นครับ"
        return f"เชื่อมกลุ่มนี้กับ {agency} แล้วครับ คำร้องของประชาชนและสรุปงานประจำวันของหน่วยงานจะส่งมาที่กลุ่มนี้"
    target = ctx.reply_to_user_id
    if target is None:
        if not args:
            return "ระบุ user id ของเจ้าหน้าที่ หรือใช้คำสั่งนี้โดยตอบกลับ (reply) ข้อความของเจ้าหน้าที่คนนั้นครับ"
        target, args = args[0], args[1:]
    if command == "/unregister":
        if remove_official(session, ctx.channel, target, actor=admin):
            return f"ยกเลิกสิทธิ์เจ้าหน้าที่ของ {target} แล้วครับ"
        return f"ไม่พบเจ้าหน้าที่ {target} ครับ"
    role = "member"
    if args and args[-1].lower() in ROLES:
        role = args[-1].lower()
        args = args[:-1]
    if not args:
        return "ระบุหน่วยงานด้วยครับ เช่น /register 123456 กรมสรรพากร coordinator"
    agency, refusal = _catalog_agency(session, " ".join(args), f"/register {target} {{}} {role}")
    if agency is None:
        return refusal
    try:
        register_official(session, channel=ctx.channel, user_id=target, agency=agency, role=role, display_name=ctx.reply_to_name, actor=admin)
    except PermissionDenied:
        return (f"ขออภัยครับ คุณลงทะเบียนได้เฉพาะเจ้าหน้าที่ของ {admin.agency} และให้สิทธิ์ได้ไม่เกินสิทธิ์ของตนเอง "
                "หากต้องตั้งค่าข้ามหน่วยงาน โปรดติดต่อผู้ดูแลระบบกลางครับ")
    return f"ลงทะเบียน {ctx.reply_to_name or target} เป็นเจ้าหน้าที่ {agency} (สิทธิ์ {role}) แล้วครับ"


def _catalog_agency(session: Session, text: str, usage: str) -> tuple[str | None, str]:
    """The catalog agency an admin named exactly (name, abbreviation, alias), or a Thai refusal with the closest names."""
    found = resolve_agency(session, text)
    if found.is_exact and found.how != "fuzzy":
        return found.agency.name, ""
    names = [c.name for c in found.candidates]
    if found.outcome == NONE and not names:
        return None, f"ไม่พบหน่วยงาน \"{text}\" ในรายชื่อหน่วยงานครับ กรุณาพิมพ์ชื่อเต็มของหน่วยงาน เช่น {usage.format('กรมสรรพากร')}"
    return None, (f"ไม่พบหน่วยงาน \"{text}\" ในรายชื่อหน่วยงานครับ หมายถึงหน่วยงานใด พิมพ์ชื่อเต็มอีกครั้ง เช่น\n"
                  + "\n".join(usage.format(name) for name in names))

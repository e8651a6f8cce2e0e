from __future__ import annotations

from usecases.admin_commands import CommandContext, handle, is_admin_command
from storage.db import session_scope
from storage.officials import find_official, group_link, register_official


def _ctx(user: str, **kw) -> CommandContext:
    return CommandContext(channel="telegram", chat_id="-500", chat_type="group", user_id=user, display_name="", **kw)


def test_only_admins_register_and_link(db_engine) -> None:
    with session_scope(db_engine) as s:  # a global admin (granted from the CLI) sets up several agencies
        register_official(s, channel="telegram", user_id="1", agency="สำนักงานพัฒนารัฐบาลดิจิทัล", role="global_admin")
        register_official(s, channel="telegram", user_id="2", agency="กรมสรรพากร", role="member")
    with session_scope(db_engine) as s:
        assert "เท่านั้น" in handle(s, _ctx("2"), "/register 3 กรมสรรพากร admin")  # a member cannot
        assert "เท่านั้น" in handle(s, _ctx("999"), "/linkgroup กรมสรรพากร")  # a citizen cannot
        assert find_official(s, "telegram", "3") is None
        reply = handle(s, _ctx("1"), "/register 3 กรมสรรพากร coordinator")
        assert "ลงทะเบียน" in reply
        assert find_official(s, "telegram", "3").role == "coordinator"
        handle(s, _ctx("1", reply_to_user_id="4", reply_to_name="วิชัย"), "/register@thgov_bot กรุงเทพมหานคร")
        assert find_official(s, "telegram", "4").agency == "กรุงเทพมหานคร"
        assert "เชื่อม" in handle(s, _ctx("1"), "/linkgroup กรมสรรพากร")
        assert group_link(s, "telegram", "-500").agency == "กรมสรรพากร"
        assert "ยกเลิกสิทธิ์" in handle(s, _ctx("1"), "/unregister 3")
        assert not find_official(s, "telegram", "3").active
        assert "ยังไม่ได้ลงทะเบียน" in handle(s, _ctx("999"), "/whoami")


def test_command_detection() -> None:
    assert is_admin_command("/register 1 x")
    assert is_admin_command("/whoami@thgov_bot")
    assert not is_admin_command("/tasks")
    assert not is_admin_command("สวัสดี")
    assert not is_admin_command("")


def test_officials_flag_what_the_bot_misunderstood(db_engine, tmp_path, monkeypatch) -> None:
    from sqlalchemy import select

    from storage.models.nlu_capture import NluCapture
    from storage.nlu_capture import capture_values, insert_capture, pseudonym_secret

    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    from common.settings import get_settings

    get_settings.cache_clear()
    secret = pseudonym_secret(tmp_path / "var")
    metadata = {"channel": "telegram", "user_id": "7", "chat_id": "-500", "chat_type": "group"}
    values = capture_values(text="เลื่อนประชุมไปบ่ายสาม", conversation="telegram:-500", metadata=metadata,
                            nlu={"intent": {"name": "set_reminder", "confidence": 0.41}, "entities": []}, secret=secret)
    with db_engine.begin() as conn:
        insert_capture(conn, values)
    with session_scope(db_engine) as s:
        register_official(s, channel="telegram", user_id="2", agency="กรมสรรพากร")
    with session_scope(db_engine) as s:
        assert "เท่านั้น" in handle(s, _ctx("999", reply_to_user_id="7"), "/flag")  # not an official
        assert "ไม่พบ" in handle(s, _ctx("2"), "/flag")  # the official's own: nothing captured
        assert "ผู้ดูแลตรวจ" in handle(s, _ctx("2", reply_to_user_id="7"), "/flag")
        assert s.scalars(select(NluCapture.flagged)).one() is True


def test_agency_admins_act_only_within_their_agency(db_engine) -> None:
    revenue, lands = "กรมสรรพากร", "กรมที่ดิน"
    with session_scope(db_engine) as s:
        register_official(s, channel="telegram", user_id="10", agency=revenue, role="admin")
        register_official(s, channel="telegram", user_id="20", agency=lands, role="admin")
        register_official(s, channel="telegram", user_id="21", agency=lands, role="member")
        register_official(s, channel="telegram", user_id="30", agency=lands, role="global_admin")
    with session_scope(db_engine) as s:
        # cannot register someone into another agency, nor make themselves (or anyone) a global admin
        assert "เฉพาะ" in handle(s, _ctx("10"), f"/register 11 {lands} admin")
        assert find_official(s, "telegram", "11") is None
        assert "เฉพาะ" in handle(s, _ctx("10"), f"/register 10 {revenue} global_admin")
        assert find_official(s, "telegram", "10").role == "admin"
        # cannot take over or remove another agency's official
        assert "เฉพาะ" in handle(s, _ctx("10"), f"/register 21 {revenue} coordinator")
        assert find_official(s, "telegram", "21").agency == lands
        assert "ไม่พบ" in handle(s, _ctx("10"), "/unregister 21")
        assert find_official(s, "telegram", "21").active
        # cannot route another agency's citizens into their group, nor steal a linked group
        assert "เฉพาะ" in handle(s, _ctx("10"), f"/linkgroup {lands}")
        assert group_link(s, "telegram", "-500") is None
        assert "เชื่อม" in handle(s, _ctx("20"), f"/linkgroup {lands}")
        assert "เฉพาะ" in handle(s, _ctx("10"), f"/linkgroup {revenue}")
        assert group_link(s, "telegram", "-500").agency == lands
        # within their own agency everything works
        assert "ลงทะเบียน" in handle(s, _ctx("10"), f"/register 12 {revenue} coordinator")
        assert "ยกเลิกสิทธิ์" in handle(s, _ctx("10"), "/unregister 12")
        # a global admin may work across agencies
        assert "เชื่อม" in handle(s, _ctx("30"), f"/linkgroup {revenue}")
        assert group_link(s, "telegram", "-500").agency == revenue

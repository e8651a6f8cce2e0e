"""Issue #19: officials' whole sentences, verbatim, through the actions with Rasa-shaped trackers.

Entities are what the trained model produced (misplaced spans included): the actions must read
free text, IDs and dates from the text itself.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import db
from actions.officials import ActionCreateTask, ActionListTasks, ActionSetReminder, ActionUpdateTaskStatus
from actions.request_handling import ActionUpdateRequestStatus
from common.thai_datetime import TZ
from common import clock
from tests.clock import START
from storage.db import session_scope
from storage.models.officials import Reminder, Task
from storage.models.outbox import Outbox
from storage.models.services import RequestHistory, ServiceRequest
from storage.officials import link_group, register_official, require_official
from storage.requests import Citizen, create_request
from storage.services import get_service, load_catalog
from storage.tasks import assign_task, create_task

GROUP = "-100919"
LOCAL = "องค์กรปกครองส่วนท้องถิ่น"
CITIZEN = Citizen(key="line:Ucitizen", channel="line", reply_to="Ucitizen")


def tracker(text: str, intent: str, user_id: str, *, entities: list[dict] | None = None, before: list[str] = ()) -> Tracker:
    metadata = {"channel": "telegram", "user_id": user_id, "chat_id": GROUP, "chat_type": "supergroup", "display_name": f"u{user_id}"}
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.91}, "entities": entities or [], "metadata": metadata}
    events = [{"event": "user", "text": t, "metadata": metadata, "parse_data": {"text": t}} for t in before]
    events.append({"event": "user", "text": text, "metadata": metadata, "parse_data": latest})
    return Tracker(f"telegram:{GROUP}", {}, latest, events, False, None, {}, "")


def run(action, t: Tracker) -> list[dict]:
    dispatcher = CollectingDispatcher()
    action.run(dispatcher, t, {})
    return dispatcher.messages


def ent(text: str, value: str, entity: str, canonical: str | None = None) -> dict:
    start = text.index(value)
    return {"entity": entity, "start": start, "end": start + len(value), "value": canonical or value}


TUESDAY = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 10:00 in Bangkok; the dates below are about this week


@pytest.fixture
def world(db_engine):
    clock.start_at(TUESDAY)
    db.use_engine(db_engine)
    with session_scope(db_engine) as s:
        load_catalog(s)
        register_official(s, channel="telegram", user_id="31", agency=LOCAL, role="coordinator", display_name="สมชาย")
        register_official(s, channel="telegram", user_id="32", agency=LOCAL, display_name="วิภา")
        register_official(s, channel="telegram", user_id="33", agency="กรมสรรพากร", display_name="สมหญิง")
        register_official(s, channel="telegram", user_id="34", agency="กรุงเทพมหานคร", display_name="ประภา")  # forwards go to staffed agencies
        link_group(s, channel="telegram", chat_id=GROUP, agency=LOCAL)
        request = create_request(s, CITIZEN, get_service(s, "ไฟถนนดับ"), details="ไฟถนนดับ 4 ต้น", now=clock.now())
        code = request.code
    yield db_engine, code
    db.use_engine(None)
    clock.start_at(START)


def _request(engine) -> tuple[str, str | None, list[str]]:
    with session_scope(engine) as s:
        request = s.scalars(select(ServiceRequest)).one()
        notes = [h.note for h in s.scalars(select(RequestHistory).where(RequestHistory.request_id == request.id))]
        return request.status, request.status_note, notes


def _citizen_notices(engine) -> list[str]:
    with session_scope(engine) as s:
        return [o.payload["text"] for o in s.scalars(select(Outbox).where(Outbox.recipient == "Ucitizen").order_by(Outbox.id))]


# --- 2. forward reasons and notes, verbatim ---------------------------------------------

def test_forward_reason_reaches_agency_and_citizen_whole(world) -> None:
    engine, code = world
    text = f"ส่งต่อ {code} ให้ กทม. ค่ะ พื้นที่อยู่เขตราชเทวี สำนักงานเขตดูแล"
    # the trained model tagged "สำนักงานเขต" as the agency: it is part of the reason
    entities = [ent(text, code, "request_id"), ent(text, "สำนักงานเขต", "agency")]
    messages = run(ActionUpdateRequestStatus(), tracker(text, "update_request_status", "31", entities=entities))
    assert messages[0]["response"] == "utter_request_forwarded" and messages[0]["agency"] == "กรุงเทพมหานคร"
    _, _, notes = _request(engine)
    assert any(n.endswith(": พื้นที่อยู่เขตราชเทวี สำนักงานเขตดูแล") for n in notes), notes
    assert not any(n.startswith(".") or " ." in n for n in notes)


def test_note_keeps_its_last_words(world) -> None:
    engine, code = world
    text = f"{code} กำลังดำเนินการ ช่างเข้าพื้นที่แล้วค่ะ"
    messages = run(ActionUpdateRequestStatus(), tracker(text, "update_request_status", "31", entities=[ent(text, code, "request_id")]))
    assert messages[0]["response"] == "utter_request_status_updated"
    assert _request(engine)[:2] == ("in_progress", "ช่างเข้าพื้นที่แล้วค่ะ")
    assert "หมายเหตุจากเจ้าหน้าที่: ช่างเข้าพื้นที่แล้วค่ะ" in _citizen_notices(engine)[-1]


# --- 4. request status in plain Thai ---------------------------------------------------

def test_status_word_before_the_id_with_a_note(world) -> None:
    engine, code = world
    text = f"รับเรื่อง {code} ครับ เดี๋ยวส่งช่างไปดู"
    messages = run(ActionUpdateRequestStatus(), tracker(text, "update_request_status", "31", entities=[ent(text, code, "request_id")]))
    assert messages[0]["response"] == "utter_request_status_updated", messages
    assert _request(engine)[:2] == ("received", "เดี๋ยวส่งช่างไปดู")
    assert messages[1]["note"] == "เดี๋ยวส่งช่างไปดู"


def test_done_on_a_request_id_is_a_request_update_even_as_a_task_intent(world) -> None:
    engine, code = world
    text = f"{code} เสร็จแล้วครับ เปลี่ยนหลอดไฟครบ4ต้นแล้ว"
    messages = run(ActionUpdateTaskStatus(), tracker(text, "update_task_status", "31", entities=[ent(text, "เสร็จแล้ว", "task_status", "done")]))
    assert messages[0]["response"] == "utter_request_status_updated", messages
    assert _request(engine)[:2] == ("completed", "เปลี่ยนหลอดไฟครบ4ต้นแล้ว")


def test_status_prompt_buttons_carry_the_real_id(world) -> None:
    _, code = world
    text = f"{code} ช่างกำลังเข้าไปดู"
    messages = run(ActionUpdateRequestStatus(), tracker(text, "update_request_status", "31"))
    assert messages[0]["response"] == "utter_request_which_status" and messages[0]["current"] == "ส่งเรื่องแล้ว รอหน่วยงานรับเรื่อง"
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads and all("{request_id}" not in p for p in payloads)
    for payload in payloads:
        assert payload.startswith("/update_request_status")
        assert json.loads(payload[len("/update_request_status"):])["request_id"] == code
    # pressing one does what it says
    pressed = payloads[0]
    body = json.loads(pressed[len("/update_request_status"):])
    entities = [{"entity": k, "value": v} for k, v in body.items()]
    messages = run(ActionUpdateRequestStatus(), tracker(pressed, "update_request_status", "31", entities=entities))
    assert messages[0]["response"] == "utter_request_status_updated"


def test_question_about_new_requests_lists_them(world) -> None:
    _, code = world
    for intent, action in (("update_request_status", ActionUpdateRequestStatus()), ("list_tasks", ActionListTasks())):
        messages = run(action, tracker("วันนี้มีคำร้องใหม่เข้ามามั้ย", intent, "32"))
        assert messages[0]["response"] == "utter_official_request_list", (intent, messages)
        assert code in messages[0]["requests"] and messages[0]["count"] == 1
    messages = run(ActionUpdateRequestStatus(), tracker("วันนี้มีคำร้องใหม่เข้ามามั้ย", "update_request_status", "33"))
    assert messages[0]["response"] == "utter_official_no_requests"  # another agency sees none of ours


# --- 5. tasks ---------------------------------------------------------------------------

def _task(engine) -> Task:
    with session_scope(engine) as s:
        task = s.scalars(select(Task).order_by(Task.id.desc())).first()
        s.expunge_all()
        return task


def test_whole_title_assignee_and_deadline_in_one_sentence(world) -> None:
    engine, _ = world
    text = "สร้างงาน สรุปยอดคำร้องเรื่องขยะประจำเดือน ให้วิภา ภายในศุกร์หน้า"
    # the model cut the title span short
    entities = [ent(text, "สรุปยอดคำร้องเรื่อง", "task_title"), ent(text, "ศุกร์หน้า", "time")]
    messages = run(ActionCreateTask(), tracker(text, "create_task", "31", entities=entities))
    assert messages[0]["response"] == "utter_task_created", messages
    assert "วิภา" in messages[0]["task"]
    with session_scope(engine) as s:
        task = s.scalars(select(Task)).one()
        assert task.title == "สรุปยอดคำร้องเรื่องขยะประจำเดือน"
        assert [a.official.display_name for a in task.assignees] == ["วิภา"]
        assert task.deadline is not None  # said on a Tuesday: no doubt about which Friday


def test_two_officials_share_a_name_the_one_who_writes_in_this_group_gets_the_task(world) -> None:
    """Display names are not unique: another agency office's วิภา (registered earlier, never in this
    group) must not get the task said to "วิภา" here."""
    from common.ids import sender_id
    from storage.models.channels import InboundEvent

    engine, _ = world
    with session_scope(engine) as s:
        register_official(s, channel="telegram", user_id="77", agency=LOCAL, display_name="วิภา")
        s.add(InboundEvent(channel="telegram", external_id="tg:1", conversation=sender_id("telegram", GROUP, "supergroup", "77"),
                           text="สวัสดีค่ะ"))
    text = "สร้างงาน สำรวจไฟถนนทั้งตำบล ให้วิภา ภายในศุกร์นี้"
    messages = run(ActionCreateTask(), tracker(text, "create_task", "31"))
    assert messages[0]["response"] == "utter_task_created", messages
    assert _assignee_ids(engine) == ["77"], "the วิภา who has written in this group"
    with session_scope(engine) as s:
        s.query(InboundEvent).delete()
        s.add(InboundEvent(channel="telegram", external_id="tg:2", conversation=sender_id("telegram", GROUP, "supergroup", "32"),
                           text="รับทราบค่ะ"))
    run(ActionCreateTask(), tracker("สร้างงาน ทำรายงาน ให้วิภา", "create_task", "31"))
    assert _assignee_ids(engine) == ["32"]


def _assignee_ids(engine) -> list[str]:
    with session_scope(engine) as s:
        return [a.official.user_id for a in s.scalars(select(Task).order_by(Task.id.desc())).first().assignees]


def test_an_addressed_task_command_makes_the_task_without_the_address(world) -> None:
    engine, _ = world
    text = "บอท สร้างงาน ทดสอบระบบจองคิวออนไลน์ ให้วิภา ภายในวันศุกร์นี้"
    messages = run(ActionCreateTask(), tracker(text, "create_task", "31"))
    assert messages[0]["response"] == "utter_task_created", messages
    assert _task(engine).title == "ทดสอบระบบจองคิวออนไลน์"
    assert _assignee_ids(engine) == ["32"]  # วิภา


def test_title_keeps_its_tail(world) -> None:
    engine, _ = world
    text = "สร้างงาน สำรวจไฟถนนดับทั้งตำบล ภายใน 9 ธ.ค. 10 โมง"
    run(ActionCreateTask(), tracker(text, "create_task", "31", entities=[ent(text, "สำรวจไฟถนนดับ", "task_title")]))
    task = _task(engine)
    assert task.title == "สำรวจไฟถนนดับทั้งตำบล"
    assert task.deadline is not None and task.deadline.year == 2026 and task.deadline.month == 12


@pytest.mark.parametrize("said", ["9 ธ.ค. 10 โมง", "15 ธ.ค. 10.30 น.", "3 ม.ค. 14.00", "พุธที่ 9 ธ.ค. สิบโมง"])
def test_reported_deadlines_are_stored_in_the_right_year(world, said: str) -> None:
    engine, _ = world
    run(ActionCreateTask(), tracker(f"สร้างงาน ประชุมติดตามงาน {said}", "create_task", "31"))
    task = _task(engine)
    assert task.title == "ประชุมติดตามงาน"
    local = (task.deadline if task.deadline.tzinfo else task.deadline.replace(tzinfo=UTC)).astimezone(TZ)
    assert local.year in (2026, 2027) and local.hour in (10, 14)
    if said.startswith("พุธ"):
        assert (local.month, local.day) == (12, 9)


def test_next_friday_said_on_sunday_is_confirmed_before_it_is_stored(world) -> None:
    engine, _ = world
    clock.start_at(datetime(2026, 11, 29, 3, 0, tzinfo=UTC))  # Sunday 29 November 2026, 10:00 in Bangkok
    text = "สร้างงาน ร่างหนังสือเชิญประชุม ภายในศุกร์หน้า"
    messages = run(ActionCreateTask(), tracker(text, "create_task", "31"))
    assert [m["response"] for m in messages] == ["utter_task_created", "utter_confirm_deadline"]
    ask = messages[1]
    assert "4 ธันวาคม" in ask["reason"] and "11 ธันวาคม" in ask["reason"]
    assert [b["title"].split()[0] for b in ask["buttons"]] == ["ยืนยัน", "แก้ไข"]
    task = _task(engine)
    assert task.deadline is None  # nothing stored yet
    confirm = ask["buttons"][0]["payload"]
    body = json.loads(confirm[len("/update_task_status"):])
    assert body["task_id"] == task.code and body["time"].startswith("2026-12-04")
    entities = [{"entity": k, "value": v} for k, v in body.items()]
    messages = run(ActionUpdateTaskStatus(), tracker(confirm, "update_task_status", "31", entities=entities))
    assert messages[0]["response"] == "utter_task_deadline_set"
    assert _task(engine).deadline is not None
    edit = ask["buttons"][1]["payload"]
    messages = run(ActionUpdateTaskStatus(), tracker(edit, "update_task_status", "31", entities=[{"entity": "task_id", "value": task.code}]))
    assert messages[0]["response"] == "utter_task_deadline_retype"


def test_a_deadline_decades_away_is_never_stored_silently(world) -> None:
    engine, _ = world
    run(ActionCreateTask(), tracker("สร้างงาน ทำรายงาน", "create_task", "31"))
    code = _task(engine).code
    messages = run(ActionUpdateTaskStatus(), tracker(f"{code} กำหนดส่ง 9 ธ.ค. 2510", "update_task_status", "31"))
    assert messages[0]["response"] == "utter_confirm_deadline"
    assert _task(engine).deadline is None


def test_cancel_task_is_not_a_time_and_is_confirmed(world) -> None:
    engine, _ = world
    run(ActionCreateTask(), tracker("สร้างงาน ทำรายงาน ภายในพรุ่งนี้ 10 โมง", "create_task", "31"))
    code = _task(engine).code
    text = f"ยกเลิกงาน {code}"
    # the model tagged "เลิกงาน" as a time
    messages = run(ActionUpdateTaskStatus(), tracker(text, "update_task_status", "31", entities=[ent(text, "เลิกงาน", "time")]))
    assert messages[0]["response"] == "utter_confirm_cancel_task", messages
    assert code in messages[0]["task"] and "ทำรายงาน" in messages[0]["task"]
    confirm, keep = (b["payload"] for b in messages[0]["buttons"])

    def press(payload: str) -> list[dict]:
        body = json.loads(payload[len("/update_task_status"):])
        return run(ActionUpdateTaskStatus(), tracker(payload, "update_task_status", "31",
                                                     entities=[{"entity": k, "value": v} for k, v in body.items()]))

    assert press(keep)[0]["response"] == "utter_task_cancel_kept"
    assert _task(engine).code == code
    messages = run(ActionCreateTask(), tracker(text, "create_task", "33"))  # another agency may not
    assert messages[0]["response"] == "utter_task_cancel_not_yours"
    assert press(confirm)[0]["response"] == "utter_task_cancelled"
    with session_scope(engine) as s:
        assert s.scalars(select(Task)).all() == []
        assert all(o.state != "pending" for o in s.scalars(select(Outbox).where(Outbox.kind.in_(("task_deadline", "task_overdue")))))


def test_my_tasks_include_those_given_to_my_agency(world) -> None:
    engine, _ = world
    with session_scope(engine) as s:
        actor = require_official(s, "telegram", "31")
        task = create_task(s, actor, title="ตรวจสอบเอกสาร", channel="telegram", chat_id=GROUP)
        assign_task(s, actor, task.id, agency="กรมสรรพากร")
        code = task.code
    messages = run(ActionListTasks(), tracker("งานของฉันมีอะไรบ้าง", "list_tasks", "33"))
    assert messages[0]["response"] == "utter_task_list" and code in messages[0]["tasks"], messages


def test_blocked_reason_is_kept_and_shown(world) -> None:
    engine, _ = world
    run(ActionCreateTask(), tracker("สร้างงาน จัดซื้อหลอดไฟ", "create_task", "31"))
    code = _task(engine).code
    text = f"{code} ติดปัญหา รองบประมาณอนุมัติจากจังหวัดครับ"
    messages = run(ActionUpdateTaskStatus(), tracker(text, "update_task_status", "32"))
    assert messages[0]["response"] == "utter_task_updated"
    assert "รองบประมาณอนุมัติจากจังหวัดครับ" in messages[0]["task"]
    assert _task(engine).blocked_reason == "รองบประมาณอนุมัติจากจังหวัดครับ"
    messages = run(ActionListTasks(), tracker("งานที่ติดปัญหามีอะไรบ้าง", "list_tasks", "31"))
    assert code in messages[0]["tasks"] and "รองบประมาณ" in messages[0]["tasks"]


def test_list_filters_by_person_status_and_due_date(world) -> None:
    engine, _ = world
    run(ActionCreateTask(), tracker("สร้างงาน งานแรก ให้วิภา ภายในพรุ่งนี้", "create_task", "31"))
    run(ActionCreateTask(), tracker("สร้างงาน งานที่สอง ภายใน 20 ธ.ค.", "create_task", "31"))
    messages = run(ActionListTasks(), tracker("งานของวิภามีอะไรบ้าง", "list_tasks", "31"))
    assert "งานแรก" in messages[0]["tasks"] and "งานที่สอง" not in messages[0]["tasks"]
    messages = run(ActionListTasks(), tracker("งานที่ต้องส่งภายในศุกร์นี้", "list_tasks", "31"))
    assert "งานแรก" in messages[0]["tasks"] and "งานที่สอง" not in messages[0]["tasks"]
    messages = run(ActionListTasks(), tracker("งานที่เสร็จแล้ว", "list_tasks", "31"))
    assert messages[0]["response"] == "utter_no_tasks"


def test_reminder_with_a_past_date_asks_and_the_button_stores_it(world) -> None:
    engine, _ = world
    text = "เตือนทุกคนเรื่องส่งรายงาน 5 ธ.ค. 2569 9 โมง"
    messages = run(ActionSetReminder(), tracker("เตือนทุกคนเรื่องส่งรายงาน ต้นเดือนหน้า", "set_reminder", "31"))
    assert messages[0]["response"] == "utter_reminder_confirm_time"
    with session_scope(engine) as s:
        assert s.scalars(select(Reminder)).all() == []
    payload = messages[0]["buttons"][0]["payload"]
    body = json.loads(payload[len("/set_reminder"):])
    t = tracker(payload, "set_reminder", "31", entities=[{"entity": "time", "value": body["time"]}],
                before=["เตือนทุกคนเรื่องส่งรายงาน ต้นเดือนหน้า"])
    messages = run(ActionSetReminder(), t)
    assert messages[0]["response"] == "utter_reminder_set", messages
    with session_scope(engine) as s:
        reminder = s.scalars(select(Reminder)).one()
        assert reminder.text == "ส่งรายงาน" and reminder.target == "group"
    messages = run(ActionSetReminder(), tracker(text, "set_reminder", "31"))
    assert messages[0]["response"] == "utter_reminder_set"


@pytest.mark.parametrize(("text", "cancels"), [
    ("ยกเลิกงาน T-2", True), ("ลบงาน T-2 ครับ", True), ("ยกเลิก T-2", True), ("T-2 ยกเลิกงานนี้", True),
    ("T-2 ยกเลิกประชุมแล้ว เลื่อนไปสัปดาห์หน้า", False), ("T-2 เสร็จแล้ว", False), ("ยกเลิกคำร้อง REQ-000001", False),
])
def test_what_cancels_a_task(text: str, cancels: bool) -> None:
    from actions.official_parsing import is_task_cancel

    assert is_task_cancel(text) is cancels


@pytest.mark.parametrize(("text", "status", "note"), [
    ("รับเรื่อง REQ-000004 ครับ เดี๋ยวส่งช่างไปดู", "received", "เดี๋ยวส่งช่างไปดู"),
    ("REQ-000004 เสร็จแล้วครับ เปลี่ยนหลอดไฟครบ4ต้นแล้ว", "completed", "เปลี่ยนหลอดไฟครบ4ต้นแล้ว"),
    ("REQ-000123 ไม่อนุมัติ เอกสารไม่ครบค่ะ", "rejected", "เอกสารไม่ครบค่ะ"),
    ("ช่างเข้าไปแล้วครับ REQ-000123 กำลังดำเนินการ", "in_progress", "ช่างเข้าไปแล้วครับ"),
    ("เปลี่ยนสถานะ REQ-000123 เป็น เสร็จสิ้น หมายเหตุ: เปลี่ยนท่อแล้ว", "completed", "เปลี่ยนท่อแล้ว"),
    ("REQ-000123 ขอเอกสารเพิ่ม สำเนาบัตรประชาชน", "need_info", "สำเนาบัตรประชาชน"),
    ("REQ-000123 รับเรื่องแล้ว", "received", ""),
    ("คำร้อง REQ-000012 ขอข้อมูลเพิ่มเติม: รบกวนส่งรูปถ่ายจุดที่ชำรุดด้วยครับ", "need_info", "รบกวนส่งรูปถ่ายจุดที่ชำรุดด้วยครับ"),
    ("อัปเดต REQ-000012 เป็นกำลังดำเนินการ รอผู้รับเหมา", "in_progress", "รอผู้รับเหมา"),
    ("REQ๐๐๐๐๑๒ ดำเนินการเสร็จแล้ว", "completed", ""),
    ("REQ-000012 ปิดเรื่องแล้วนะคะ ประสานเจ้าของบ้านเรียบร้อยแล้ว", "completed", "ประสานเจ้าของบ้านเรียบร้อยแล้ว"),
])
def test_request_status_and_note_in_plain_thai(text: str, status: str, note: str) -> None:
    from actions.official_parsing import request_update_parts

    assert request_update_parts(text, []) == (status, note)


@pytest.mark.parametrize(("text", "target", "reason"), [
    ("ส่งต่อ REQ-000004 ให้ กทม. ค่ะ พื้นที่อยู่เขตราชเทวี สำนักงานเขตดูแล", "กทม.", "พื้นที่อยู่เขตราชเทวี สำนักงานเขตดูแล"),
    ("ส่งต่อ REQ-000004 ให้กรมที่ดินเพราะเป็นเรื่องโฉนด", "กรมที่ดิน", "เพราะเป็นเรื่องโฉนด"),
    ("REQ-000004 ส่งต่อให้ กรมทางหลวง ครับ ถนนสายนี้เป็นทางหลวงแผ่นดิน", "กรมทางหลวง", "ถนนสายนี้เป็นทางหลวงแผ่นดิน"),
    ("ส่งต่อ REQ-000004 กทม. เขตราชเทวีดูแลค่ะ", "กทม.", "เขตราชเทวีดูแลค่ะ"),
    ("ส่งต่อ REQ-000004 ครับ", None, ""),
    ("ส่งต่อ REQ-000012 ไปที่กรมทางหลวงชนบท เพราะเป็นถนนของกรม", "กรมทางหลวงชนบท", "เพราะเป็นถนนของกรม"),
    ("REQ-000012 ส่งต่อ การประปาส่วนภูมิภาค ท่อเมนเป็นของ กปภ.", "การประปาส่วนภูมิภาค", "ท่อเมนเป็นของ กปภ."),
])
def test_forward_target_and_reason(text: str, target: str, reason: str) -> None:
    from actions.official_parsing import forward_parts

    assert forward_parts(text, [])[:2] == (target, reason)


@pytest.mark.parametrize(("text", "status"), [
    ("T-1 ทำไปแล้ว 50%", "in_progress"), ("T-3 เสร็จแล้ว", "done"), ("T-3 ยังไม่เสร็จ", "in_progress"),
    ("T-3 ติดต่อผู้รับเหมาแล้ว", None), ("T-3 รออนุมัติงบ", "blocked"), ("T-3 รอดำเนินการ", "todo"),
    ("T-2 กำลังทำ จะเสร็จพรุ่งนี้", "in_progress"), ("T-2 ทำรอบสองแล้ว", None), ("T-5 เสร็จครับ", "done"),
])
def test_task_status_words(text: str, status: str | None) -> None:
    from actions.official_parsing import status_from

    assert status_from(text, []) == status


@pytest.mark.parametrize(("text", "title"), [
    ("สร้างงาน: ร่าง TOR โครงการ ภายใน 15 ธ.ค.", "ร่าง TOR โครงการ"),
    ("สร้างงานใหม่ ประสานงานเรื่องน้ำท่วม ส่งภายในพรุ่งนี้ 10 โมงนะครับ", "ประสานงานเรื่องน้ำท่วม"),
    ("/newtask จัดทำรายงานสรุปผล กำหนดส่ง 20 ธ.ค.", "จัดทำรายงานสรุปผล"),
    ("สร้างงาน ติดตามคำร้องเรื่องถนนชำรุด ให้เสร็จภายในศุกร์นี้", "ติดตามคำร้องเรื่องถนนชำรุด"),
    ("สร้างงาน ประชุมเรื่องขนส่งภายในพรุ่งนี้", "ประชุมเรื่องขนส่ง"),
    ("เพิ่มงาน ตรวจรับพัสดุ ก่อนสิ้นเดือนธันวา ครับ", "ตรวจรับพัสดุ"),
    # the bot addressed first, as officials write in a group: the address is not the title
    ("บอท สร้างงาน ทดสอบระบบจองคิวออนไลน์ ภายในวันศุกร์นี้", "ทดสอบระบบจองคิวออนไลน์"),
    ("น้องบอทครับ เพิ่มงาน ตรวจรับพัสดุ ก่อนสิ้นเดือนธันวา", "ตรวจรับพัสดุ"),
    ("@thai_gov_bot สร้างงาน: ร่าง TOR โครงการ ภายใน 15 ธ.ค.", "ร่าง TOR โครงการ"),
])
def test_task_titles_are_whole(text: str, title: str) -> None:
    from actions.official_parsing import task_title_from
    from common.thai_datetime import parse_when

    when = parse_when(text, TUESDAY)
    assert when is not None
    assert task_title_from(text, [], [when.span]) == title


def test_give_inside_the_title_is_not_an_assignee(world) -> None:
    engine, _ = world
    text = "สร้างงาน ส่งเอกสารให้ กรมสรรพากร ภายในวันที่ 30"
    run(ActionCreateTask(), tracker(text, "create_task", "31", entities=[ent(text, "กรมสรรพากร", "agency")]))
    with session_scope(engine) as s:
        task = s.scalars(select(Task)).one()
        assert task.title == "ส่งเอกสารให้ กรมสรรพากร" and task.assignees == []
    text = "สร้างงาน ตรวจเอกสารภาษี มอบหมายให้กรมสรรพากร"
    run(ActionCreateTask(), tracker(text, "create_task", "31", entities=[ent(text, "กรมสรรพากร", "agency")]))
    with session_scope(engine) as s:
        task = s.scalars(select(Task).order_by(Task.id.desc())).first()
        assert task.title == "ตรวจเอกสารภาษี" and [a.agency for a in task.assignees] == ["กรมสรรพากร"]


def test_assign_by_display_name(world) -> None:
    engine, _ = world
    run(ActionCreateTask(), tracker("สร้างงาน ทำรายงาน", "create_task", "31"))
    code = _task(engine).code
    from actions.officials import ActionAssignTask

    messages = run(ActionAssignTask(), tracker(f"มอบหมาย {code} ให้คุณวิภา", "assign_task", "31"))
    assert messages[0]["response"] == "utter_task_assigned" and "วิภา" in messages[0]["task"]
    messages = run(ActionListTasks(), tracker("งานของฉัน", "list_tasks", "32"))
    assert code in messages[0]["tasks"]


def test_reminder_subject_drops_the_deadline_words() -> None:
    from actions.official_parsing import reminder_subject
    from common.thai_datetime import parse_when

    text = "ช่วยเตือนทีมว่าส่งรายงานภายในศุกร์นี้ 4 โมงเย็นด้วยนะครับ"
    assert reminder_subject(text, parse_when(text, TUESDAY).span) == "ส่งรายงาน"


def test_a_task_about_a_request_is_still_a_task(world) -> None:
    engine, code = world
    text = f"สร้างงาน ติดตามคำร้อง {code} ภายในพรุ่งนี้"
    messages = run(ActionCreateTask(), tracker(text, "create_task", "31"))
    assert messages[0]["response"] == "utter_task_created"
    assert _task(engine).title == f"ติดตามคำร้อง {code}"
    assert _request(engine)[0] == "submitted"


@pytest.mark.parametrize("tail", ["", " 10 โมง", " 10.30 น.", " 14.00", " บ่ายสอง"])
def test_every_two_digit_number_after_a_date_is_in_the_window_or_asked(tail: str) -> None:
    from common.thai_datetime import parse_when

    now = TUESDAY.astimezone(TZ)
    for number in range(100):
        for month in ("ธ.ค.", "ม.ค.", "ธันวา", "มิถุนายน"):
            result = parse_when(f"9 {month} {number:02d}{tail}", now)
            assert result is not None
            if not result.needs_confirmation:
                assert now.year - 1 <= result.datetime.year <= now.year + 2 and result.datetime >= now, (number, month, tail)


def test_another_agency_asking_which_status_learns_nothing(world) -> None:
    _, code = world
    messages = run(ActionUpdateRequestStatus(), tracker(f"{code} สถานะอะไรครับ", "update_request_status", "33"))
    assert messages[0]["response"] == "utter_request_not_for_you"
    assert not messages[0].get("buttons")


@pytest.mark.parametrize(("text", "deadline_words", "title"), [
    ("สร้างงานใหม่ ทำสรุปผลการประชุม 3 ธ.ค. ส่งภายในพรุ่งนี้", "พรุ่งนี้", "ทำสรุปผลการประชุม 3 ธ.ค."),
    ("สร้างงาน ทำสรุปผลการประชุม 3 ธ.ค. ส่งภายในพรุ่งนี้ 10 โมง", "พรุ่งนี้ 10 โมง", "ทำสรุปผลการประชุม 3 ธ.ค."),
    ("สร้างงาน ประชุม 9 ธ.ค. เตรียมเอกสารก่อน 8 ธ.ค. 16.30 น.", "8 ธ.ค. 16.30 น.", "ประชุม 9 ธ.ค. เตรียมเอกสาร"),
    ("สร้างงาน จัดทำแผนป้องกันน้ำท่วม ปี 2570 ภายในสิ้นเดือนธันวา", "สิ้นเดือนธันวา", "จัดทำแผนป้องกันน้ำท่วม ปี 2570"),
    ("สร้างงาน ร่างหนังสือ ภายในวันศุกร์หน้า 10 โมง", "วันศุกร์หน้า 10 โมง", "ร่างหนังสือ"),
    ("สร้างงาน ตรวจงาน มะรืนนี้ก่อนเที่ยง", "มะรืนนี้ก่อนเที่ยง", "ตรวจงาน"),
])
def test_the_deadline_is_the_date_after_the_deadline_word(text: str, deadline_words: str, title: str) -> None:
    from actions.official_parsing import parse_deadline, task_title_from

    when = parse_deadline(text, [])
    assert when is not None and text[when.span[0] : when.span[1]] == deadline_words
    assert task_title_from(text, [], [when.span]) == title


def test_list_by_agency_named_in_the_question(world) -> None:
    engine, _ = world
    with session_scope(engine) as s:
        actor = require_official(s, "telegram", "31")
        given = create_task(s, actor, title="ตรวจเอกสารภาษี", channel="telegram", chat_id=GROUP)
        assign_task(s, actor, given.id, agency="กรมสรรพากร")
        create_task(s, actor, title="งานภายใน", channel="telegram", chat_id=GROUP)
    messages = run(ActionListTasks(), tracker("งานของกรมสรรพากรมีอะไรบ้าง", "list_tasks", "31"))
    assert "ตรวจเอกสารภาษี" in messages[0]["tasks"] and "งานภายใน" not in messages[0]["tasks"]
    assert "กรมสรรพากร" in messages[0]["title"]


def test_my_tasks_question_reaches_the_list_whatever_the_intent(world) -> None:
    engine, _ = world
    run(ActionCreateTask(), tracker("สร้างงาน ทำรายงาน ให้วิภา", "create_task", "31"))
    code = _task(engine).code
    for intent, action in (("update_task_status", ActionUpdateTaskStatus()), ("create_task", ActionCreateTask())):
        messages = run(action, tracker("งานของฉันมีอะไรบ้าง", intent, "32"))
        assert messages[0]["response"] == "utter_task_list" and code in messages[0]["tasks"], (intent, messages)
    with session_scope(engine) as s:
        assert len(s.scalars(select(Task)).all()) == 1  # the question created nothing

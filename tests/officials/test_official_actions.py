"""Officials' actions with recorded tracker fixtures: identity from metadata, roles, replies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import db
from common import clock
from actions.officials import ActionAssignTask, ActionCreateTask, ActionListTasks, ActionSetReminder, ActionUpdateTaskStatus
from storage.db import session_scope
from storage.models.officials import Reminder, Task
from storage.models.outbox import Outbox
from storage.officials import link_group, register_official

GROUP = "-100777"
BANGKOK = timezone(timedelta(hours=7))
WINDOW_TURNS = 10  # engine/tracker_store.py DEFAULT_WINDOW_TURNS (the engine runtime, not importable here)


def tracker(text: str, intent: str, user_id: str, *, entities: list[dict] | None = None, chat_type: str = "supergroup",
            chat_id: str = GROUP, channel: str = "telegram") -> Tracker:
    metadata = {"channel": channel, "user_id": user_id, "chat_id": chat_id, "chat_type": chat_type, "display_name": f"user{user_id}"}
    sender = f"{channel}:{chat_id}"
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": entities or [], "metadata": metadata}
    return Tracker(sender, {}, latest, [{"event": "user", "text": text, "metadata": metadata, "parse_data": latest}], False, None, {}, "")


def run(action, t: Tracker) -> list[dict]:
    dispatcher = CollectingDispatcher()
    action.run(dispatcher, t, {})
    return dispatcher.messages


def ent(text: str, value: str, entity: str, canonical: str | None = None) -> dict:
    start = text.index(value)
    return {"entity": entity, "start": start, "end": start + len(value), "value": canonical or value}


@pytest.fixture
def officials(sqlite_engine):
    db.use_engine(sqlite_engine)
    with session_scope(sqlite_engine) as s:
        register_official(s, channel="telegram", user_id="11", agency="สำนักงานพัฒนารัฐบาลดิจิทัล", role="coordinator", display_name="สมชาย")
        register_official(s, channel="telegram", user_id="22", agency="กรมสรรพากร", display_name="สมหญิง")
        link_group(s, channel="telegram", chat_id=GROUP, project_code="SBX", project_name="แซนด์บ็อกซ์")
    yield sqlite_engine
    db.use_engine(None)


def test_two_agencies_run_a_task_in_one_group(officials) -> None:
    text = "สร้างงาน ร่างหนังสือเชิญประชุม ภายในวันศุกร์หน้า 10 โมง"
    messages = run(ActionCreateTask(), tracker(text, "create_task", "11", entities=[ent(text, "ร่างหนังสือเชิญประชุม", "task_title")]))
    assert messages[0]["response"] == "utter_task_created"
    with session_scope(officials) as s:
        task = s.scalars(select(Task)).one()
        assert task.title == "ร่างหนังสือเชิญประชุม" and task.deadline is not None and task.project_id is not None
        code = task.code
    text = f"มอบหมาย {code} ให้กรมสรรพากร"
    messages = run(ActionAssignTask(), tracker(text, "assign_task", "11", entities=[ent(text, code, "task_id"), ent(text, "กรมสรรพากร", "agency")]))
    assert messages[0]["response"] == "utter_task_assigned"
    text = f"{code} ทำไปแล้ว 60%"
    messages = run(ActionUpdateTaskStatus(), tracker(text, "update_task_status", "22", entities=[ent(text, code, "task_id")]))
    assert messages[0]["response"] == "utter_task_updated" and "60%" in messages[0]["task"]
    messages = run(ActionListTasks(), tracker("งานค้างมีอะไรบ้าง", "list_tasks", "22"))
    assert messages[0]["response"] == "utter_task_list" and code in messages[0]["tasks"]


def test_citizen_in_group_is_refused_and_nothing_changes(officials) -> None:
    text = "สร้างงาน แอบสร้างงาน"
    for action, intent in ((ActionCreateTask(), "create_task"), (ActionListTasks(), "list_tasks"), (ActionSetReminder(), "set_reminder")):
        messages = run(action, tracker(text, intent, "99999"))
        assert messages[0]["response"] == "utter_officials_only"
    messages = run(ActionCreateTask(), tracker(text, "create_task", "Uabc", channel="line", chat_type="private", chat_id="Uabc"))
    assert messages[0]["response"] == "utter_officials_only"
    with session_scope(officials) as s:
        assert s.scalars(select(Task)).all() == []


def test_unknown_task_and_other_agency(officials) -> None:
    messages = run(ActionUpdateTaskStatus(), tracker("T-999 เสร็จแล้ว", "update_task_status", "22"))
    assert messages[0]["response"] == "utter_task_not_found"
    run(ActionCreateTask(), tracker("สร้างงาน เตรียมข้อมูล", "create_task", "11"))
    with session_scope(officials) as s:
        code = s.scalars(select(Task)).one().code
    messages = run(ActionUpdateTaskStatus(), tracker(f"{code} เสร็จแล้ว", "update_task_status", "22"))
    assert messages[0]["response"] == "utter_task_not_yours"


def test_group_reminder_is_stored_with_due_time(officials) -> None:
    text = "เตือนทุกคนเรื่องประชุมพรุ่งนี้ 9 โมง"
    messages = run(ActionSetReminder(), tracker(text, "set_reminder", "22"))
    assert messages[0]["response"] == "utter_reminder_set", messages
    with session_scope(officials) as s:
        reminder = s.scalars(select(Reminder)).one()
        assert reminder.target == "group" and reminder.chat_id == GROUP
        assert "ประชุม" in reminder.text and "เตือน" not in reminder.text
        local = reminder.due_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Bangkok"))
        assert local.hour == 9 and reminder.due_at - clock.now() < timedelta(days=2)
        assert s.scalars(select(Outbox).where(Outbox.kind == "reminder")).one().recipient == GROUP


def command(intent: str, words: str, user_id: str, events: list[dict] | None = None) -> Tracker:
    """The tracker of an officials' slash command as the gateway sends it: the intent's payload, the words in the metadata."""
    metadata = {"channel": "telegram", "user_id": user_id, "chat_id": GROUP, "chat_type": "supergroup", "display_name": f"user{user_id}",
                "command_text": words}
    latest = {"text": f"/{intent}", "intent": {"name": intent, "confidence": 1.0}, "entities": [], "metadata": metadata}
    return Tracker(f"telegram:{GROUP}:{user_id}", {}, latest, [*(events or []), {"event": "user", "text": f"/{intent}", "metadata": metadata,
                                                                                  "parse_data": latest}], False, None, {}, "")


def test_newtask_words_are_the_task_verbatim_whatever_they_name(officials) -> None:
    """"/newtask เตรียมข้อมูลผู้เสียภาษีตัวอย่าง" (the classifier read a tax question): the title is the words after the
    command; words that look like another command ("งานใหม่…", a request ID) are still the title, a deadline is still read."""
    said = {"เตรียมข้อมูลผู้เสียภาษีตัวอย่าง": "เตรียมข้อมูลผู้เสียภาษีตัวอย่าง",
            "งานใหม่ของทีม ภายในศุกร์หน้า": "งานใหม่ของทีม",
            "ติดตาม REQ-000123 กับกรมที่ดิน": "ติดตาม REQ-000123 กับกรมที่ดิน"}
    for words, title in said.items():
        messages = run(ActionCreateTask(), command("create_task", words, "22"))
        assert messages[0]["response"] == "utter_task_created", messages
        assert title in messages[0]["task"]
    with session_scope(officials) as s:
        tasks = s.scalars(select(Task).order_by(Task.id)).all()
        assert [t.title for t in tasks] == list(said.values())
        assert [t.deadline is not None for t in tasks] == [False, True, False]
        assert {t.owner_agency for t in tasks} == {"กรมสรรพากร"}
    assert run(ActionCreateTask(), command("create_task", "", "22"))[0]["response"] == "utter_task_needs_title"


def test_tasks_command_reads_its_words(officials) -> None:
    run(ActionCreateTask(), command("create_task", "ร่างหนังสือเชิญประชุม", "11"))
    run(ActionCreateTask(), command("create_task", "เตรียมข้อมูลผู้เสียภาษี", "22"))
    mine = run(ActionListTasks(), command("list_tasks", "ของฉัน", "22"))[0]
    assert mine["response"] == "utter_task_list" and mine["title"].startswith("งานของคุณ")
    assert "เตรียมข้อมูลผู้เสียภาษี" in mine["tasks"] and "ร่างหนังสือ" not in mine["tasks"]
    plain = run(ActionListTasks(), command("list_tasks", "", "11"))[0]  # "/tasks": the open tasks this official may see
    assert plain["title"] == "งานที่ยังไม่เสร็จ" and "ร่างหนังสือเชิญประชุม" in plain["tasks"]


def test_reminder_confirmation_sets_its_own_words_after_more_turns_than_the_window(officials) -> None:
    """The "ยืนยัน" under a vague reminder carries the reminder's words: tapped after more turns than the actions'
    window holds (engine/tracker_store.py, 10 turns), the reminder it asked about is set, not the last thing said."""
    asked = run(ActionSetReminder(), command("set_reminder", "ต้นเดือนหน้า ส่งแผนงบประมาณ", "11"))[0]
    assert asked["response"] == "utter_reminder_confirm_time"
    payload = asked["buttons"][0]["payload"]
    entities = json.loads(payload.removeprefix("/set_reminder"))
    assert entities["task_title"] == "ส่งแผนงบประมาณ" and entities["time"].startswith(str(clock.now().year)[:3])
    with session_scope(officials) as s:
        assert s.scalars(select(Reminder)).all() == []

    # what the tracker window holds when the lead taps: the lead's later turns (the group's other members have
    # conversations of their own); the reminder request itself has left the window
    meta = {"channel": "telegram", "user_id": "11", "chat_id": GROUP, "chat_type": "supergroup", "display_name": "สมชาย"}
    window = [{"event": "user", "text": f"T-{n} เสร็จแล้วครับ", "metadata": meta} for n in range(WINDOW_TURNS + 2)]
    pressed = [{"entity": name, "value": value} for name, value in entities.items()]
    latest = {"text": payload, "intent": {"name": "set_reminder", "confidence": 1.0}, "entities": pressed, "metadata": meta}
    tapped = Tracker(f"telegram:{GROUP}:11", {}, latest, [*window, {"event": "user", "text": payload, "metadata": meta, "parse_data": latest}],
                     False, None, {}, "")
    done = run(ActionSetReminder(), tapped)[0]
    assert done["response"] == "utter_reminder_set" and done["subject"] == "ส่งแผนงบประมาณ", done
    with session_scope(officials) as s:
        reminder = s.scalars(select(Reminder)).one()
        assert reminder.text == "ส่งแผนงบประมาณ" and reminder.target == "group" and reminder.chat_id == GROUP
        local = reminder.due_at.replace(tzinfo=reminder.due_at.tzinfo or UTC).astimezone(BANGKOK)
        assert local.isoformat()[:10] == entities["time"][:10] and (local.day, local.hour, local.minute) == (1, 9, 0)  # the 1st, 9 a.m.


def test_reminder_button_words_keep_who_is_reminded(officials) -> None:
    asked = run(ActionSetReminder(), command("set_reminder", "เตือนผมต้นเดือนหน้า ต่อภาษีรถ", "11"))[0]
    payload = asked["buttons"][0]["payload"]
    entities = json.loads(payload.removeprefix("/set_reminder"))
    meta = {"channel": "telegram", "user_id": "11", "chat_id": GROUP, "chat_type": "supergroup", "display_name": "สมชาย"}
    latest = {"text": payload, "intent": {"name": "set_reminder", "confidence": 1.0},
              "entities": [{"entity": k, "value": v} for k, v in entities.items()], "metadata": meta}
    done = run(ActionSetReminder(), Tracker(f"telegram:{GROUP}:11", {}, latest, [{"event": "user", "text": payload, "metadata": meta}],
                                            False, None, {}, ""))[0]
    assert done["response"] == "utter_reminder_set" and done["who"] == "คุณ" and "ต่อภาษีรถ" in done["subject"]
    with session_scope(officials) as s:
        assert s.scalars(select(Reminder)).one().chat_id == "11"  # the person, not the group


def test_newtask_gives_the_work_to_a_catalog_agency_named_after_hai(officials) -> None:
    """The classifier never reads a command's words: an agency after "ให้" is found in the catalog (exact names only)."""
    messages = run(ActionCreateTask(), command("create_task", "ตรวจแปลงที่ดินสาธารณะ มอบหมายให้กรมที่ดิน ภายในศุกร์หน้า", "11"))
    assert messages[0]["response"] == "utter_task_created", messages
    run(ActionCreateTask(), command("create_task", "ส่งเอกสารให้ กรมที่ดิน", "11"))  # "ให้" inside the title
    run(ActionCreateTask(), command("create_task", "ทำสรุป ให้เสร็จก่อนประชุม", "11"))
    with session_scope(officials) as s:
        first, second, third = s.scalars(select(Task).order_by(Task.id)).all()
        assert first.title == "ตรวจแปลงที่ดินสาธารณะ" and [a.agency for a in first.assignees] == ["กรมที่ดิน"]
        assert first.deadline is not None
        assert second.title == "ส่งเอกสารให้ กรมที่ดิน" and second.assignees == []
        assert third.assignees == [] and third.title.startswith("ทำสรุป")

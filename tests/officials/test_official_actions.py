"""Officials' actions with recorded tracker fixtures: identity from metadata, roles, replies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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

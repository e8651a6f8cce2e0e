"""Roles, task life cycle, history and deadline follow-ups (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.db import session_scope
from storage.models.officials import Task, TaskHistory
from storage.models.outbox import CANCELLED, PENDING, Outbox
from storage.officials import PermissionDenied, link_group, register_official, remove_official, require_official
from storage.reminders import cancel_reminder, create_reminder
from storage.tasks import TaskFilter, assign_task, create_task, list_tasks, set_deadline, update_status
from tests.clock import START

GROUP = "-100200"
NOW = START


@pytest.fixture
def people(db_engine):
    with session_scope(db_engine) as s:
        register_official(s, channel="telegram", user_id="1", agency="สำนักงานพัฒนารัฐบาลดิจิทัล", role="coordinator", display_name="สมชาย")
        register_official(s, channel="telegram", user_id="2", agency="กรมสรรพากร", role="member", display_name="สมหญิง")
        register_official(s, channel="telegram", user_id="3", agency="กรุงเทพมหานคร", role="member", display_name="วิชัย")
        link_group(s, channel="telegram", chat_id=GROUP, project_code="SANDBOX-1", project_name="แซนด์บ็อกซ์ภาษีดิจิทัล")
    return db_engine


def test_only_active_registered_officials_pass(people) -> None:
    with session_scope(people) as s:
        assert require_official(s, "telegram", "1").role == "coordinator"
        with pytest.raises(PermissionDenied):
            require_official(s, "telegram", "999")  # a citizen or stranger
        with pytest.raises(PermissionDenied):
            require_official(s, "telegram", "2", minimum="admin")
        assert remove_official(s, "telegram", "2")
    with session_scope(people) as s, pytest.raises(PermissionDenied):
        require_official(s, "telegram", "2")  # removed officials lose access


def test_task_life_cycle_keeps_history_and_follow_ups(people) -> None:
    deadline = NOW + timedelta(days=3)
    with session_scope(people) as s:
        boss = require_official(s, "telegram", "1")
        task = create_task(s, boss, title="ร่างหนังสือเชิญประชุม", channel="telegram", chat_id=GROUP, deadline=deadline)
        task_id = task.id
    with session_scope(people) as s:
        rows = s.scalars(select(Outbox).where(Outbox.cause_id == str(task_id))).all()
        assert {r.kind for r in rows} == {"task_deadline", "task_overdue"}
        assert all(r.recipient == GROUP for r in rows)
        assert min(r.due_at for r in rows) == deadline - timedelta(days=1)
    with session_scope(people) as s:
        boss = require_official(s, "telegram", "1")
        assign_task(s, boss, task_id, agency="กรมสรรพากร")
        revenue = require_official(s, "telegram", "2")  # now involved through their agency
        update_status(s, revenue, task_id, "in_progress", percent=60)
        bangkok = require_official(s, "telegram", "3")
        with pytest.raises(PermissionDenied):
            update_status(s, bangkok, task_id, "done")  # not involved
    with session_scope(people) as s:
        boss = require_official(s, "telegram", "1")
        set_deadline(s, boss, task_id, deadline + timedelta(days=2))
    with session_scope(people) as s:
        pending = s.scalars(select(Outbox).where(Outbox.cause_id == str(task_id), Outbox.state == PENDING)).all()
        assert pending and min(r.due_at for r in pending) == deadline + timedelta(days=1)
        revenue = require_official(s, "telegram", "2")
        update_status(s, revenue, task_id, "done")
    with session_scope(people) as s:
        states = set(s.scalars(select(Outbox.state).where(Outbox.cause_id == str(task_id))))
        assert states == {CANCELLED}
        history = [h.action for h in s.scalars(select(TaskHistory).where(TaskHistory.task_id == task_id).order_by(TaskHistory.id))]
        assert history == ["created", "assigned", "status", "deadline", "status"]
        assert s.get(Task, task_id).percent == 100


def test_list_filters(people) -> None:
    with session_scope(people) as s:
        boss = require_official(s, "telegram", "1")
        revenue = require_official(s, "telegram", "2")
        late = create_task(s, boss, title="งานเลยกำหนด", channel="telegram", chat_id=GROUP, deadline=NOW - timedelta(days=1))
        mine = create_task(s, revenue, title="งานของสรรพากร", channel="telegram", chat_id=GROUP)
        done = create_task(s, boss, title="งานเสร็จแล้ว", channel="telegram", chat_id=GROUP)
        update_status(s, boss, done.id, "done")
        ids = lambda f, who=boss: {t.id for t in list_tasks(s, who, f, now=NOW)}  # noqa: E731
        assert ids(TaskFilter("open")) == {late.id}  # the Revenue Department's own task is not the DGA's
        assert ids(TaskFilter("open"), revenue) == {mine.id}
        assert ids(TaskFilter("overdue")) == {late.id}
        assert ids(TaskFilter("mine"), revenue) == {mine.id}
        assert ids(TaskFilter("open", agency="กรมสรรพากร"), revenue) == {mine.id}
        assert ids(TaskFilter("all")) == {late.id, done.id}


def test_reminder_is_stored_with_its_delivery(people) -> None:
    with session_scope(people) as s:
        boss = require_official(s, "telegram", "1")
        with pytest.raises(ValueError):
            create_reminder(s, boss, channel="telegram", chat_id=GROUP, target="group", text="ประชุม", due_at=NOW - timedelta(hours=1), now=NOW)
        reminder = create_reminder(s, boss, channel="telegram", chat_id=GROUP, target="group", text="ประชุมเตรียมงาน", due_at=NOW + timedelta(hours=20), now=NOW)
        rid = reminder.id
    with session_scope(people) as s:
        row = s.scalars(select(Outbox).where(Outbox.cause_type == "reminder")).one()
        assert row.due_at == NOW + timedelta(hours=20) and "ประชุมเตรียมงาน" in row.payload["text"]
        assert cancel_reminder(s, rid)
    with session_scope(people) as s:
        assert s.scalars(select(Outbox.state).where(Outbox.cause_type == "reminder")).one() == CANCELLED

"""Tasks are visible to and changeable by the agencies involved only (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from storage.db import session_scope
from storage.officials import PermissionDenied, register_official, require_official
from storage.tasks import TaskFilter, assign_task, create_task, list_tasks, update_status

GROUP = "-100300"


def test_other_agencies_neither_see_nor_change_a_task(db_engine) -> None:
    with session_scope(db_engine) as s:
        register_official(s, channel="telegram", user_id="1", agency="กรมสรรพากร", role="coordinator")
        register_official(s, channel="telegram", user_id="2", agency="กรมที่ดิน", role="coordinator")
        register_official(s, channel="telegram", user_id="3", agency="กรมการปกครอง", role="member")
        register_official(s, channel="telegram", user_id="9", agency="สำนักงานพัฒนารัฐบาลดิจิทัล", role="global_admin")
        owner = require_official(s, "telegram", "1")
        task_id = create_task(s, owner, title="ตรวจสอบภาษีที่ดิน", channel="telegram", chat_id=GROUP).id
    with session_scope(db_engine) as s:
        lands = require_official(s, "telegram", "2")
        assert task_id not in {t.id for t in list_tasks(s, lands, TaskFilter())}
        with pytest.raises(PermissionDenied):  # a coordinator of another agency is not involved
            update_status(s, lands, task_id, "done")
        assign_task(s, require_official(s, "telegram", "1"), task_id, agency="กรมที่ดิน")
    with session_scope(db_engine) as s:
        lands = require_official(s, "telegram", "2")
        assert task_id in {t.id for t in list_tasks(s, lands, TaskFilter())}  # involved now
        update_status(s, lands, task_id, "in_progress", percent=30)
        outsider = require_official(s, "telegram", "3")
        assert task_id not in {t.id for t in list_tasks(s, outsider, TaskFilter(scope="all"))}
        assert task_id in {t.id for t in list_tasks(s, require_official(s, "telegram", "9"), TaskFilter())}

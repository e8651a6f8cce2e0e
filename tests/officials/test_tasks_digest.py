from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from storage.db import session_scope
from storage.digest import queue_daily_digests
from storage.models.outbox import Outbox
from storage.officials import link_group, register_official, require_official
from storage.tasks import create_task

TZ = ZoneInfo("Asia/Bangkok")
MORNING = datetime(2026, 11, 24, 8, 0, tzinfo=TZ)


def test_digest_lists_overdue_and_due_today_and_skips_empty_groups(db_engine) -> None:
    with session_scope(db_engine) as s:
        register_official(s, channel="telegram", user_id="1", agency="กรมสรรพากร", role="coordinator")
        link_group(s, channel="telegram", chat_id="-1", agency="กรมสรรพากร")
        link_group(s, channel="telegram", chat_id="-2", agency="กรมที่ดิน")  # nothing to report
        actor = require_official(s, "telegram", "1")
        create_task(s, actor, title="รายงานสรุป", channel="telegram", chat_id="-1", deadline=MORNING - timedelta(days=1))
        create_task(s, actor, title="ประชุมทีม", channel="telegram", chat_id="-1", deadline=MORNING + timedelta(hours=6))
    with session_scope(db_engine) as s:
        assert queue_daily_digests(s, now=MORNING) == 1
        assert queue_daily_digests(s, now=MORNING) == 1  # same day: the same row, not a second one
    with session_scope(db_engine) as s:
        rows = s.scalars(select(Outbox).where(Outbox.kind == "digest")).all()
        assert len(rows) == 1 and rows[0].recipient == "-1"
        text = rows[0].payload["text"]
        assert "เลยกำหนด" in text and "รายงานสรุป" in text and "ครบกำหนดวันนี้" in text and "2569" in text

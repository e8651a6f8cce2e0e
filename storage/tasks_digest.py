"""Task sections of the daily digest (registered with storage.digest on import)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from common.wording import tasks as wording
from storage.digest import register_groups, register_section
from storage.models.officials import DONE, GroupLink, Task, TaskAssignee

TZ = ZoneInfo("Asia/Bangkok")


def _groups(session: Session, today: date) -> list[tuple[str, str]]:
    return [(g.channel, g.chat_id) for g in session.scalars(select(GroupLink))]


def _open_tasks_for_group(session: Session, channel: str, chat_id: str) -> list[Task]:
    link = session.scalar(select(GroupLink).where(GroupLink.channel == channel, GroupLink.chat_id == chat_id))
    conditions = [Task.chat_id == chat_id]
    if link is not None and link.project_id is not None:
        conditions.append(Task.project_id == link.project_id)
    if link is not None and link.agency:
        assigned = select(TaskAssignee.task_id).where(TaskAssignee.agency == link.agency)
        conditions += [Task.owner_agency == link.agency, Task.id.in_(assigned)]
    stmt = select(Task).options(selectinload(Task.assignees)).where(Task.status != DONE, or_(*conditions)).order_by(Task.deadline, Task.id)
    return list(session.scalars(stmt))


def tasks_section(session: Session, channel: str, chat_id: str, today: date) -> tuple[str, list[str]] | None:
    tasks = _open_tasks_for_group(session, channel, chat_id)
    if not tasks:
        return None
    start = datetime.combine(today, time.min, TZ)
    end = start + timedelta(days=1)
    overdue = [t for t in tasks if t.deadline is not None and t.deadline < start]
    due_today = [t for t in tasks if t.deadline is not None and start <= t.deadline < end]
    later = [t for t in tasks if t not in overdue and t not in due_today]
    return wording.digest_section(len(tasks), overdue, due_today, later)


register_groups(_groups)
register_section(tasks_section)

"""Task life cycle for officials: create, assign, update, list; history and deadline follow-ups.

Every change writes a `TaskHistory` row. Deadline follow-ups (reminders before the
deadline and an overdue notice) are outbox rows written in the same transaction;
moving the deadline replaces them and finishing the task cancels them.
Callers own the transaction.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from common.wording import tasks as wording
from storage.models.base import utcnow
from storage.models.officials import (
    BLOCKED,
    DONE,
    IN_PROGRESS,
    ROLE_GLOBAL_ADMIN,
    TASK_STATUSES,
    Official,
    Task,
    TaskAssignee,
    TaskHistory,
)
from storage.officials import Actor, PermissionDenied
from storage.outbox import cancel_pending, enqueue

FOLLOW_UP_KINDS = ("task_deadline", "task_overdue")


class TaskNotFound(Exception):
    pass


def reminder_offsets() -> list[timedelta]:
    """Offsets before a deadline at which to remind, from TASK_REMINDER_OFFSETS (default "1d,1h")."""
    raw = os.environ.get("TASK_REMINDER_OFFSETS", "1d,1h")
    offsets = []
    for part in (p.strip().lower() for p in raw.split(",") if p.strip()):
        unit = part[-1]
        value = float(part[:-1])
        offsets.append({"d": timedelta(days=value), "h": timedelta(hours=value), "m": timedelta(minutes=value)}[unit])
    return offsets


def _history(session: Session, task: Task, actor: Actor | None, action: str, detail: str) -> None:
    session.add(TaskHistory(task_id=task.id, actor_id=actor.id if actor else None, action=action, detail=detail))


def _recipients(session: Session, task: Task) -> list[tuple[str, str]]:
    targets: list[tuple[str, str]] = []
    if task.chat_id:
        targets.append((task.channel, task.chat_id))
    for assignee in task.assignees:
        if assignee.official is not None and assignee.official.active:
            target = (assignee.official.channel, assignee.official.user_id)
            if target not in targets:
                targets.append(target)
    return targets


def schedule_deadline_followups(session: Session, task: Task, now: datetime | None = None) -> int:
    """(Re)write the pending deadline follow-ups of a task; returns how many were queued."""
    now = now or utcnow()
    cancel_pending(session, cause_type="task", cause_id=str(task.id), kinds=FOLLOW_UP_KINDS)
    if task.deadline is None or task.status == DONE:
        return 0
    session.flush()
    stamp = task.deadline.strftime("%Y%m%d%H%M")
    queued = 0
    for channel, recipient in _recipients(session, task):
        for offset in reminder_offsets():
            due = task.deadline - offset
            if due <= now:
                continue
            hours = int(offset.total_seconds() // 3600)
            enqueue(
                session, kind="task_deadline", channel=channel, recipient=recipient,
                text=wording.due_soon(task, hours),
                idempotency_key=f"task:{task.id}:{stamp}:{int(offset.total_seconds())}:{channel}:{recipient}",
                due_at=due, stale_at=task.deadline, cause=("task", str(task.id)),
            )
            queued += 1
        enqueue(
            session, kind="task_overdue", channel=channel, recipient=recipient,
            text=wording.overdue(task),
            idempotency_key=f"task:{task.id}:{stamp}:overdue:{channel}:{recipient}",
            due_at=task.deadline + timedelta(minutes=1), stale_at=task.deadline + timedelta(days=3),
            cause=("task", str(task.id)),
        )
        queued += 1
    return queued


def create_task(
    session: Session, actor: Actor, *, title: str, channel: str, chat_id: str | None, description: str = "",
    owner_agency: str | None = None, deadline: datetime | None = None, deadline_has_time: bool = True,
    project_id: int | None = None, assignee_agencies: list[str] | None = None,
) -> Task:
    title = " ".join(title.split())[:300]
    if not title:
        raise ValueError("a task needs a title")
    task = Task(
        title=title, description=description, owner_agency=owner_agency or actor.agency, project_id=project_id,
        channel=channel, chat_id=chat_id, created_by=actor.id, deadline=deadline, deadline_has_time=deadline_has_time,
    )
    session.add(task)
    session.flush()
    _history(session, task, actor, "created", title)
    for agency in assignee_agencies or []:
        task.assignees.append(TaskAssignee(agency=agency))
        _history(session, task, actor, "assigned", agency)
    session.flush()
    schedule_deadline_followups(session, task)
    return task


def get_task(session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id, options=[selectinload(Task.assignees).selectinload(TaskAssignee.official)])
    if task is None:
        raise TaskNotFound(task_id)
    return task


def _may_change(task: Task, actor: Actor) -> bool:
    """Only the agencies involved (owner, assigned agencies and people) change a task; global admins any."""
    if actor.role == ROLE_GLOBAL_ADMIN or task.created_by == actor.id:
        return True
    if task.owner_agency == actor.agency:
        return True
    return any(a.agency == actor.agency or a.official_id == actor.id for a in task.assignees)


def _involving(actor: Actor) -> Any:
    """SQL condition: tasks the actor's agency (or the actor) is involved in."""
    assigned = select(TaskAssignee.task_id).where(or_(TaskAssignee.agency == actor.agency, TaskAssignee.official_id == actor.id))
    return or_(Task.owner_agency == actor.agency, Task.created_by == actor.id, Task.id.in_(assigned))


def assign_task(session: Session, actor: Actor, task_id: int, *, agency: str | None = None, official: Official | None = None) -> Task:
    task = get_task(session, task_id)
    if not _may_change(task, actor):
        raise PermissionDenied("not_involved")
    if agency is None and official is None:
        raise ValueError("assign to an agency or a person")
    exists = any(a.agency == agency and a.official_id == (official.id if official else None) for a in task.assignees)
    if not exists:
        task.assignees.append(TaskAssignee(agency=agency or (official.agency if official else None), official_id=official.id if official else None))
        label = official.display_name or official.user_id if official else agency
        _history(session, task, actor, "assigned", str(label))
        session.flush()
        schedule_deadline_followups(session, task)
    return task


def update_status(
    session: Session, actor: Actor, task_id: int, status: str, *, percent: int | None = None, reason: str | None = None
) -> Task:
    if status not in TASK_STATUSES:
        raise ValueError(f"status must be one of {', '.join(TASK_STATUSES)}")
    task = get_task(session, task_id)
    if not _may_change(task, actor):
        raise PermissionDenied("not_involved")
    task.status = status
    task.percent = max(0, min(100, percent)) if percent is not None and status == IN_PROGRESS else (100 if status == DONE else None)
    task.blocked_reason = (reason or "").strip()[:500] or None if status == BLOCKED else None
    detail = status + (f" {task.percent}%" if task.percent is not None and status == IN_PROGRESS else "")
    if task.blocked_reason:
        detail += f": {task.blocked_reason}"
    _history(session, task, actor, "status", detail)
    if status == DONE:
        cancel_pending(session, cause_type="task", cause_id=str(task.id), kinds=FOLLOW_UP_KINDS)
    session.flush()
    return task


def set_deadline(session: Session, actor: Actor, task_id: int, deadline: datetime, has_time: bool = True) -> Task:
    task = get_task(session, task_id)
    if not _may_change(task, actor):
        raise PermissionDenied("not_involved")
    task.deadline, task.deadline_has_time = deadline, has_time
    _history(session, task, actor, "deadline", deadline.isoformat())
    session.flush()
    schedule_deadline_followups(session, task)
    return task


@dataclass(frozen=True)
class TaskFilter:
    scope: str = "open"  # open, overdue, mine, agency, project, all
    agency: str | None = None
    project_id: int | None = None


def list_tasks(session: Session, actor: Actor, task_filter: TaskFilter, now: datetime | None = None, limit: int = 20) -> list[Task]:
    now = now or utcnow()
    stmt = select(Task).options(selectinload(Task.assignees)).order_by(Task.deadline.is_(None), Task.deadline, Task.id).limit(limit)
    if task_filter.scope != "all":
        stmt = stmt.where(Task.status != DONE)
    if task_filter.scope == "overdue":
        stmt = stmt.where(Task.deadline.is_not(None), Task.deadline < now)
    elif task_filter.scope == "mine":
        mine = select(TaskAssignee.task_id).where(TaskAssignee.official_id == actor.id)
        stmt = stmt.where(or_(Task.created_by == actor.id, Task.id.in_(mine)))
    if task_filter.agency:
        assigned = select(TaskAssignee.task_id).where(TaskAssignee.agency == task_filter.agency)
        stmt = stmt.where(or_(Task.owner_agency == task_filter.agency, Task.id.in_(assigned)))
    if task_filter.project_id is not None:
        stmt = stmt.where(Task.project_id == task_filter.project_id)
    if actor.role != ROLE_GLOBAL_ADMIN:
        stmt = stmt.where(_involving(actor))  # other agencies' tasks stay theirs
    return list(session.scalars(stmt))

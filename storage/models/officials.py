"""Officials, their roles, linked group chats, sandbox projects, tasks and reminders.

Agencies are referred to by their canonical name (docs/CATALOG_NAMES.md), the same
value the NLU's `agency` entity and the service catalog use.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, utcnow

ROLE_MEMBER = "member"
ROLE_COORDINATOR = "coordinator"
ROLE_ADMIN = "admin"  # an agency's admin: registers officials and links groups of that agency only
ROLE_GLOBAL_ADMIN = "global_admin"  # cross-agency set-up; granted from the CLI (or by another global admin)
ROLES = (ROLE_MEMBER, ROLE_COORDINATOR, ROLE_ADMIN, ROLE_GLOBAL_ADMIN)

TODO = "todo"
IN_PROGRESS = "in_progress"
BLOCKED = "blocked"
DONE = "done"
TASK_STATUSES = (TODO, IN_PROGRESS, BLOCKED, DONE)


class Official(Base):
    """A registered official: a person on a channel (Telegram user id) in an agency."""

    __tablename__ = "officials"
    __table_args__ = (UniqueConstraint("channel", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), default="telegram")
    user_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    agency: Mapped[str] = mapped_column(String(160))
    role: Mapped[str] = mapped_column(String(16), default=ROLE_MEMBER)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Project(Base):
    """A cross-agency (sandbox) project."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GroupLink(Base):
    """A group chat linked to an agency (its requests and digests go there) or to a project."""

    __tablename__ = "group_links"
    __table_args__ = (UniqueConstraint("channel", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), default="telegram")
    chat_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200), default="")
    agency: Mapped[str | None] = mapped_column(String(160))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    project: Mapped[Project | None] = relationship()


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_status_deadline", "status", "deadline"),)

    id: Mapped[int] = mapped_column(primary_key=True)  # shown as T-<id>
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_agency: Mapped[str | None] = mapped_column(String(160))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    channel: Mapped[str] = mapped_column(String(16), default="telegram")
    chat_id: Mapped[str | None] = mapped_column(String(64))  # the group it was created in
    created_by: Mapped[int] = mapped_column(ForeignKey("officials.id"))
    status: Mapped[str] = mapped_column(String(16), default=TODO)
    percent: Mapped[int | None] = mapped_column()
    blocked_reason: Mapped[str | None] = mapped_column(Text)
    deadline: Mapped[datetime | None] = mapped_column()
    deadline_has_time: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    project: Mapped[Project | None] = relationship()
    assignees: Mapped[list[TaskAssignee]] = relationship(back_populates="task", cascade="all, delete-orphan")
    history: Mapped[list[TaskHistory]] = relationship(back_populates="task", cascade="all, delete-orphan", order_by="TaskHistory.id")

    @property
    def code(self) -> str:
        return f"T-{self.id}"


class TaskAssignee(Base):
    """A task is assigned to an agency, a person, or both."""

    __tablename__ = "task_assignees"
    __table_args__ = (UniqueConstraint("task_id", "agency", "official_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    agency: Mapped[str | None] = mapped_column(String(160))
    official_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    task: Mapped[Task] = relationship(back_populates="assignees")
    official: Mapped[Official | None] = relationship()


class TaskHistory(Base):
    """Every change to a task: who, when, what."""

    __tablename__ = "task_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id"))
    action: Mapped[str] = mapped_column(String(30))  # created, assigned, status, deadline
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)

    task: Mapped[Task] = relationship(back_populates="history")
    actor: Mapped[Official | None] = relationship()


class Reminder(Base):
    """A reminder set by an official for a group or a person; delivered through the outbox."""

    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))  # where it is delivered
    target: Mapped[str] = mapped_column(String(16))  # "group" or "person"
    text: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[int] = mapped_column(ForeignKey("officials.id"))
    cancelled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

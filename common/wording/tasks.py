"""Officials' tasks: status names, deadline reminders and the tasks part of the daily digest."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, Sequence

from common.thai_datetime import format_thai

STATUS_THAI = {"todo": "รอดำเนินการ", "in_progress": "กำลังดำเนินการ", "blocked": "ติดปัญหา", "done": "เสร็จแล้ว"}
DIGEST_SHOWN = 10  # tasks listed in one digest


class TaskView(Protocol):
    code: str
    title: str
    status: str
    deadline: datetime | None
    deadline_has_time: bool


def deadline(task: TaskView, short: bool = False) -> str:
    assert task.deadline is not None
    return format_thai(task.deadline, with_time=task.deadline_has_time, short=short)


def _ahead(hours: int) -> str:
    return f"อีก {hours // 24} วัน" if hours >= 24 else (f"อีก {hours} ชั่วโมง" if hours else "อีกไม่กี่นาที")


def due_soon(task: TaskView, hours_ahead: int) -> str:
    return f"⏰ {_ahead(hours_ahead)}จะถึงกำหนดส่งงาน {task.code} \"{task.title}\" ({deadline(task)}) สถานะตอนนี้: {STATUS_THAI[task.status]}"


def overdue(task: TaskView) -> str:
    return f"⚠️ งาน {task.code} \"{task.title}\" เลยกำหนดส่งแล้ว ({deadline(task)}) กรุณาอัปเดตสถานะด้วยนะครับ"


def digest_section(total: int, late: Sequence[TaskView], due_today: Sequence[TaskView], later: Sequence[TaskView]) -> tuple[str, list[str]]:
    """The tasks part of a group's daily digest: (title, lines), at most DIGEST_SHOWN tasks listed."""
    lines = [f"งานที่ยังไม่เสร็จ {total} งาน (เลยกำหนด {len(late)} · ครบกำหนดวันนี้ {len(due_today)})"]
    shown = 0
    for label, group in (("⚠️ เลยกำหนด", late), ("📌 ครบกำหนดวันนี้", due_today), ("🗂 งานอื่น", later)):
        for task in group:
            if shown == DIGEST_SHOWN:
                break
            when = f" กำหนด {deadline(task, short=True)}" if task.deadline is not None and label == "🗂 งานอื่น" else ""
            lines.append(f"{label}: {task.code} {task.title} ({STATUS_THAI[task.status]}){when}")
            shown += 1
    if total > shown:
        lines.append(f"และอีก {total - shown} งาน ดูทั้งหมด: /tasks")
    return "งาน", lines


def reminder(target: str, mention: str | None, text: str) -> str:
    """A reminder an official set: for the whole group, for one person (mentioned) or for themself."""
    lead = "🔔 เตือนทุกคน" if target == "group" else f"🔔 เตือน{(' ' + mention) if mention else 'ความจำ'}"
    return f"{lead}: {text}"

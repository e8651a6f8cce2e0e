"""Pure helpers that read officials' messages (no database, no Rasa)."""

from __future__ import annotations

import re
from typing import Any

TASK_STATUS_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("done", ("เสร็จแล้ว", "เสร็จเรียบร้อย", "เรียบร้อยแล้ว", "ปิดงาน", "เสร็จ", "done", "complete", "finished")),
    ("blocked", ("ติดปัญหา", "ติดขัด", "ติด", "รอ", "blocked", "stuck")),
    ("in_progress", ("กำลังทำ", "กำลังดำเนินการ", "ดำเนินการ", "ทำไปแล้ว", "คืบหน้า", "in progress", "in_progress", "doing", "%")),
    ("todo", ("ยังไม่เริ่ม", "รอดำเนินการ", "todo", "to do")),
]
_COMMAND_WORDS = re.compile(
    r"^(?:/newtask(?:@\w+)?|/remind(?:@\w+)?|สร้างงาน(?:ใหม่)?|เพิ่มงาน(?:ใหม่)?|เปิดงาน(?:ใหม่)?|ตั้งงาน|new task|create task|งานใหม่)\s*[:：-]?\s*",
    re.IGNORECASE,
)
_REMIND_WORDS = re.compile(
    r"(?:/remind(?:@\w+)?|ช่วยเตือน|ตั้งเตือน|เตือน|remind(?:\s+me)?|แจ้งเตือน)\s*(?:ทุกคน|ทั้งกลุ่ม|ทีม|ผม|ฉัน|หนู|ดิฉัน|เรา|everyone|all)?\s*(?:ด้วย|หน่อย)?\s*(?:ว่า|เรื่อง|ให้)?\s*",
    re.IGNORECASE,
)


def entity_values(entities: list[dict[str, Any]], name: str) -> list[str]:
    """Distinct values of one entity, in order (DIET and regex extractors may both find it)."""
    seen: list[str] = []
    for entity in entities:
        if entity.get("entity") == name and entity.get("value") not in (None, "") and str(entity["value"]) not in seen:
            seen.append(str(entity["value"]))
    return seen


def task_title_from(text: str, entities: list[dict[str, Any]]) -> str:
    """The task title: the annotated span, else the text without the command and the deadline."""
    titles = entity_values(entities, "task_title")
    if titles:
        return titles[0].strip()
    cleaned = _COMMAND_WORDS.sub("", text.strip())
    for entity in sorted(entities, key=lambda e: -int(e.get("start", 0))):
        if entity.get("entity") in ("time", "agency"):
            start, end = int(entity["start"]), int(entity["end"])
            if text[start:end] in cleaned:
                cleaned = cleaned.replace(text[start:end], " ")
    cleaned = re.sub(r"\s*(?:ภายใน|ก่อน|ส่ง|ให้|กำหนด|deadline|by)\s*$", "", cleaned.strip(), flags=re.IGNORECASE)
    cleaned = re.sub(r"(?:ครับ|ค่ะ|คะ|นะ|จ้า)+$", "", cleaned.strip())
    return " ".join(cleaned.split())


def status_from(text: str, entities: list[dict[str, Any]]) -> str | None:
    for value in entity_values(entities, "task_status"):
        if value in ("todo", "in_progress", "blocked", "done"):
            return value
    lowered = text.lower()
    for status, words in TASK_STATUS_WORDS:
        if any(word in lowered for word in words):
            return status
    return None


def percent_in(text: str) -> int | None:
    match = re.search(r"([0-9๐-๙]{1,3})\s*(?:%|เปอร์เซ็นต์|เปอร์เซ็น|percent)", text)
    if not match:
        return None
    return int(match.group(1).translate(str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")))


def list_scope(text: str) -> str:
    lowered = text.lower()
    if any(w in lowered for w in ("เกินกำหนด", "เลยกำหนด", "overdue", "ล่าช้า", "เลยเดดไลน์")):
        return "overdue"
    if any(w in lowered for w in ("ของฉัน", "ของผม", "ของหนู", "ของดิฉัน", "ของเรา", "mine", "my task")):
        return "mine"
    if any(w in lowered for w in ("ทั้งหมด", "all tasks", "รวมที่เสร็จ")):
        return "all"
    return "open"


def reminder_target(text: str, in_group: bool) -> str:
    lowered = text.lower()
    if any(w in lowered for w in ("เตือนผม", "เตือนฉัน", "เตือนหนู", "เตือนดิฉัน", "remind me", "เตือนเรา")):
        return "person"
    return "group" if in_group else "person"


def reminder_subject(text: str, span: tuple[int, int] | None) -> str:
    """What to remind about: the message without the command words and the time expression."""
    if span:
        text = text[: span[0]] + " " + text[span[1] :]
    text = _REMIND_WORDS.sub(" ", text)
    text = re.sub(r"(?:ครับ|ค่ะ|คะ|นะ|จ้า|ด้วย|หน่อย)+\s*$", "", text.strip())
    text = re.sub(r"^\s*(?:เรื่อง|ว่า|ให้)\s*", "", text.strip())
    return " ".join(text.split())


def parse_deadline(text: str, entities: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    """A date/time in the message (the whole text first, then the `time` entity alone)."""
    from common.thai_datetime import parse_when

    for entity in entities:
        if entity.get("entity") == "time" and isinstance(entity.get("value"), str) and re.match(r"^\d{4}-\d{2}-\d{2}T", entity["value"]):
            return parse_when(entity["value"])  # a confirmed ISO value from a button
    result = parse_when(text)
    if result is not None:
        return result
    for value in entity_values(entities, "time"):
        result = parse_when(value)
        if result is not None:
            return result
    return None

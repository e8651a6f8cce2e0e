"""Pure helpers that read officials' messages (no database, no Rasa)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from common.thai_datetime import parse_when

# An official may address the bot before the command: "บอท สร้างงาน ...", "น้องบอทครับ เพิ่มงาน ...",
# "@thai_gov_bot สร้างงาน ..." (the address is not part of the task's title).
_ADDRESS = r"(?:(?:@\w+|(?:น้อง)?บอท(?:ครับ|คับ|ค่ะ|คะ|จ้า|จ๋า)?)\s*[,:：]?\s*)?"
_COMMAND_WORDS = re.compile(
    r"^" + _ADDRESS + r"(?:/newtask(?:@\w+)?|/remind(?:@\w+)?|สร้างงาน(?:ใหม่)?|เพิ่มงาน(?:ใหม่)?|เปิดงาน(?:ใหม่)?|ตั้งงาน|new task|create task|งานใหม่)\s*[:：-]?\s*",
    re.IGNORECASE,
)
_REMIND_WORDS = re.compile(
    r"(?:/remind(?:@\w+)?|ช่วยเตือน|ตั้งเตือน|เตือน|remind(?:\s+me)?|แจ้งเตือน)\s*(?:ทุกคน|ทั้งกลุ่ม|ทีม|ผม|ฉัน|หนู|ดิฉัน|เรา|everyone|all)?\s*(?:ด้วย|หน่อย)?\s*(?:ว่า|เรื่อง|ให้)?\s*",
    re.IGNORECASE,
)


def starts_task_creation(text: str) -> bool:
    """The message opens with a task-creation command ("สร้างงาน ...", "/newtask ...")."""
    return bool(_COMMAND_WORDS.match(text.strip()))


def entity_values(entities: list[dict[str, Any]], name: str) -> list[str]:
    """Distinct values of one entity, in order (DIET and regex extractors may both find it)."""
    seen: list[str] = []
    for entity in entities:
        if entity.get("entity") == name and entity.get("value") not in (None, "") and str(entity["value"]) not in seen:
            seen.append(str(entity["value"]))
    return seen


_PAYLOAD = re.compile(r"^/\w+(?:\{.*\})?\s*$", re.DOTALL)


def is_payload(text: str) -> bool:
    """A button press ("/update_task_status{...}"), not a typed command ("/newtask ร่าง TOR")."""
    return bool(_PAYLOAD.match(text))


# words that introduce a deadline; dropped when they stand right before the removed date
_DEADLINE_MARKERS = re.compile(
    r"(?:\s*(?:ให้แล้วเสร็จ|ให้เสร็จ|ให้ทัน|(?:(?<=\s)|^)ส่ง(?:ภายใน|ก่อน)?|ภายใน|ก่อน|กำหนดส่ง|กำหนด|เดดไลน์|deadline|by))*\s*\x00",
    re.IGNORECASE,
)


def _drop_markers(marked: str) -> str:
    return _DEADLINE_MARKERS.sub(" ", marked).replace("\x00", " ")


def task_title_from(text: str, entities: list[dict[str, Any]], remove: list[tuple[int, int]] | None = None, *,
                    command: bool = False) -> str:
    """The task title: the official's words minus the command, the deadline and the assignee.

    DIET's `task_title` span is not used: it cuts titles ("สรุปยอดคำร้องเรื่อง" for
    "สรุปยอดคำร้องเรื่องขยะประจำเดือน"). `remove` holds the spans of the deadline and the
    assignee phrase found by the caller; the words that introduce them ("ภายใน", "ให้") go too.
    `command`: `text` is what followed /newtask (the command is gone already: nothing more is cut
    from its start, "/newtask งานใหม่ของทีม" is titled "งานใหม่ของทีม").
    """
    if not command and is_payload(text):
        titles = entity_values(entities, "task_title")  # a button payload carries the title
        return titles[0].strip() if titles else ""
    words = remove_spans(text, remove or []).strip()
    kept = _drop_markers(words if command else _COMMAND_WORDS.sub("", words))
    kept = re.sub(r"(?:\s*(?:ภายใน|ก่อน|กำหนดส่ง|กำหนด|deadline|by|ให้|ด้วย|หน่อย|นะ|ครับ|ค่ะ|คะ|จ้า|ครับผม))+\s*$", "", kept.strip(), flags=re.IGNORECASE)
    return " ".join(kept.split()).strip(" :-,")


def remove_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with each span replaced by a NUL marker (so the words around it can be recognised)."""
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            start = last
        if end <= start:
            continue
        out.append(text[last:start])
        out.append("\x00")
        last = end
    out.append(text[last:])
    return "".join(out)


_TASK_STATUS_PATTERNS: list[tuple[str, str]] = [
    ("todo", r"ยังไม่(?:ได้)?เริ่ม|รอดำเนินการ|\btodo\b|\bto do\b"),
    ("in_progress", r"ยังไม่เสร็จ|กำลังทำ|กำลังดำเนินการ|ดำเนินการอยู่|อยู่ระหว่าง(?:ดำเนินการ)?|ทำไปแล้ว|ทำไปได้|ได้ครึ่ง|ครึ่งทาง|ครึ่งนึง|ครึ่งหนึ่ง"
                    r"|คืบหน้า|in[ _]progress|doing|[0-9๐-๙]{1,3}\s*(?:%|เปอร์เซ็น)"),
    ("blocked", r"ติดปัญหา|ติดขัด|ติด(?!ตาม|ต่อ|ตั้ง|ป้าย)|รอ(?!บ|ง|ด|ยต่อ)|blocked|stuck"),
    ("done", r"เสร็จแล้ว|เสร็จเรียบร้อย|เรียบร้อยแล้ว|เสร็จสิ้น|ปิดงาน|\bdone\b|complete|finished"
             r"|(?<!จะ)(?<!ยังไม่)เสร็จ(?!\s*(?:ภายใน|ก่อน|ทัน|พรุ่งนี้|วัน|สัปดาห์|อาทิตย์|เดือน))"),
]


def status_from(text: str, entities: list[dict[str, Any]]) -> str | None:
    """The task status the official said: the earliest status phrase in the text ("ยังไม่เสร็จ" is
    in progress, "จะเสร็จพรุ่งนี้" is not done, "ติดต่อ" is not blocked); the classifier's entity
    only when the text names none."""
    lowered = text.lower()
    best: tuple[int, int, str] | None = None
    for status, pattern in _TASK_STATUS_PATTERNS:
        for match in re.finditer(pattern, lowered):
            key = (match.start(), -(match.end() - match.start()), status)
            if best is None or key[:2] < best[:2]:
                best = key
            break
    if best is not None:
        return best[2]
    for value in entity_values(entities, "task_status"):
        if value in ("todo", "in_progress", "blocked", "done"):
            return value
    return None


def percent_in(text: str) -> int | None:
    match = re.search(r"([0-9๐-๙]{1,3})\s*(?:%|เปอร์เซ็นต์|เปอร์เซ็น|percent)", text)
    if not match:
        return 50 if re.search(r"ครึ่งทาง|ครึ่งนึง|ครึ่งหนึ่ง|ได้ครึ่ง", text) else None
    return int(match.group(1).translate(str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")))


def list_scope(text: str) -> str:
    lowered = text.lower()
    if any(w in lowered for w in ("เกินกำหนด", "เลยกำหนด", "overdue", "ล่าช้า", "เลยเดดไลน์")):
        return "overdue"
    if any(w in lowered for w in ("ของฉัน", "ของผม", "ของหนู", "ของดิฉัน", "ของเรา", "ของตัวเอง", "ให้ผม", "ให้ฉัน", "ให้หนู", "ให้ดิฉัน", "ที่ได้รับมอบหมาย", "ที่ผมต้องทำ", "ที่ฉันต้องทำ", "mine", "my task")):
        return "mine"
    if any(w in lowered for w in ("ทั้งหมด", "all tasks", "รวมที่เสร็จ")):
        return "all"
    return "open"


def reminder_target(text: str, in_group: bool) -> str:
    lowered = text.lower()
    if any(w in lowered for w in ("เตือนผม", "เตือนฉัน", "เตือนหนู", "เตือนดิฉัน", "remind me", "เตือนเรา")):
        return "person"
    return "group" if in_group else "person"


def reminder_words(text: str, span: tuple[int, int] | None) -> str:
    """The reminder request without its time and the words that introduce it ("ก่อน", "ภายใน"):
    what a confirmation button carries, read again by `reminder_target` and `reminder_subject`."""
    return " ".join(_drop_markers(remove_spans(text, [span] if span else [])).split())


def reminder_subject(text: str, span: tuple[int, int] | None) -> str:
    """What to remind about: the message without the command words and the time expression."""
    text = _drop_markers(remove_spans(text, [span] if span else []))
    text = _REMIND_WORDS.sub(" ", text)
    text = re.sub(r"(?:ครับ|ค่ะ|คะ|นะ|จ้า|ด้วย|หน่อย)+\s*$", "", text.strip())
    text = re.sub(r"^\s*(?:เรื่อง|ว่า|ให้)\s*", "", text.strip())
    return " ".join(text.split())


_DEADLINE_WORD = re.compile(r"(?:ภายใน|ก่อน|กำหนดส่ง|ส่งงาน|ส่ง|เดดไลน์|deadline|due|by)\s*", re.IGNORECASE)


def parse_deadline(text: str, entities: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    """A date/time in the message: the whole text first, then the `time` entity alone (its span
    mapped back onto the text). A button payload's ISO value is what the official confirmed."""
    if is_payload(text):
        for value in entity_values(entities, "time"):
            if re.match(r"^\d{4}-\d{2}-\d{2}T", value):
                result = parse_when(value)
                if result is not None:
                    return replace(result, span=(0, 0), ambiguous=False, reason="", needs_confirmation=False)
        return None
    # "สรุปผลการประชุม 3 ธ.ค. ส่งภายในพรุ่งนี้": the date after a deadline word is the deadline;
    # another date in the sentence belongs to the title
    full = parse_when(text)
    for marker in reversed(list(_DEADLINE_WORD.finditer(text))):
        after = parse_when(text[marker.end() :])
        if after is not None and after.span[0] == 0 and after.has_date:
            if full is None or full.span[0] < marker.start():
                return replace(after, span=(marker.end() + after.span[0], marker.end() + after.span[1]))
            break
    if full is not None:
        return full
    for entity in entities:
        if entity.get("entity") == "time" and isinstance(entity.get("value"), str):
            result = parse_when(entity["value"])
            if result is not None:
                span = (int(entity["start"]), int(entity["end"])) if "start" in entity and "end" in entity else (0, 0)
                return replace(result, span=span)
    return None


# --- requests: status words in the official's own phrasing -------------------------------

# Order matters only for phrases that contain another ("ไม่รับเรื่อง" holds "รับเรื่อง"): the
# alternation is built longest first, and the earliest phrase in the message wins.
REQUEST_STATUS_WORDS: dict[str, tuple[str, ...]] = {
    "rejected": ("ไม่อนุมัติ", "ไม่รับเรื่อง", "ไม่รับเรือง", "ไม่รับคำร้อง", "ปฏิเสธ", "ไม่สามารถดำเนินการได้", "ดำเนินการไม่ได้", "rejected",
                 "reject"),
    "need_info": ("ขอข้อมูลเพิ่มเติม", "ขอข้อมูลเพิ่ม", "ขอเอกสารเพิ่มเติม", "ขอเอกสารเพิ่ม", "ต้องการข้อมูลเพิ่ม", "ขอรูปเพิ่ม", "ขอรูปถ่ายเพิ่ม",
                  "ขอภาพเพิ่ม", "ขอรายละเอียดเพิ่ม", "ขอพิกัด", "รอเอกสาร", "need info", "need_info"),
    "completed": ("ดำเนินการเสร็จสิ้น", "ดำเนินการเสร็จแล้ว", "ดำเนินการเรียบร้อย", "เสร็จสิ้น", "เสร็จเรียบร้อย", "เสร็จแล้ว", "เสร็จละ",
                  "แก้ไขเรียบร้อย", "แก้ไขเสร็จ", "แก้เสร็จ", "ซ่อมเสร็จ", "ซ่อมแล้ว", "ปิดเรื่อง", "ปิดคำร้อง", "ปิดงาน", "เรียบร้อยแล้ว",
                  "completed", "done"),
    "in_progress": ("อยู่ระหว่างดำเนินการ", "กำลังดำเนินการ", "ดำเนินการอยู่", "กำลังแก้ไข", "กำลังตรวจสอบ", "กำลังซ่อม", "ยังไม่เสร็จ",
                    "in progress", "in_progress"),
    "received": ("รับเรื่องแล้ว", "รับเรื่อง", "รับเรืองแล้ว", "รับเรือง", "รับคำร้อง", "รับแล้ว", "รับทราบ", "received"),
}
_STATUS_OF = {w: status for status, words in REQUEST_STATUS_WORDS.items() for w in words}
_REQUEST_STATUS_RE = re.compile("|".join(re.escape(w) for w in sorted(_STATUS_OF, key=len, reverse=True)), re.IGNORECASE)
REQUEST_ID_RE = re.compile(r"(?i)(?<![a-z])req\s*[-_]?\s*[0-9๐-๙]{1,6}(?![0-9๐-๙])")
TASK_ID_RE = re.compile(r"(?i)(?<![a-z])t\s*[-_]?\s*[0-9๐-๙]{1,7}(?![0-9๐-๙])")
FORWARD_WORDS_RE = re.compile(r"ส่งต่อ(?:เรื่อง)?|โอนเรื่อง|ส่งเรื่อง|forward", re.IGNORECASE)

# words that belong to the command, absorbed when they touch a command span
_LEFT_FILLERS = ("เปลี่ยนสถานะ", "อัปเดตสถานะ", "อัพเดทสถานะ", "สถานะ", "คำร้องเลขที่", "คำร้อง", "เลขที่", "เรื่อง", "อัปเดต", "อัพเดท")
_RIGHT_FILLERS = ("แล้ว", "นะครับ", "นะคะ", "ครับผม", "ครับ", "ค่ะ", "คะ", "นะ", "จ้า", "จ้ะ", "เป็น", "เลย")
_LABEL = re.compile(r"^(?:เหตุผล|หมายเหตุ|โน้ต|note|reason|เนื่องจาก(?=\s))\s*[:：-]?\s*", re.IGNORECASE)
_PUNCT = " \t\n:：-–,，.;"
_TAIL_PUNCT = " \t\n:：-–,，;"  # a final "." may end an abbreviation ("กปภ.") and stays


def request_status_in(text: str) -> tuple[str, tuple[int, int]] | None:
    """The request status the official named, and where ("รับเรื่อง", "เสร็จแล้ว", "ไม่อนุมัติ" ...)."""
    match = _REQUEST_STATUS_RE.search(text)
    if match is None:
        return None
    word = match.group(0)
    return _STATUS_OF.get(word) or _STATUS_OF[word.lower()], match.span()


def _leads_status(rest: str) -> bool:
    rest = rest.lstrip(_PUNCT)
    return not rest or rest[0] == "\x00" or _REQUEST_STATUS_RE.match(rest) is not None or re.match(r"(?i)[a-z_]+\b", rest) is not None


def _absorb(text: str, start: int, end: int) -> tuple[int, int]:
    """Grow a command span over the filler words and punctuation that touch it."""
    changed = True
    while changed:
        changed = False
        left = text[:start].rstrip(_PUNCT)
        for word in _LEFT_FILLERS:
            if left.endswith(word):
                start, changed = len(left) - len(word), True
                break
        rest = text[end:]
        stripped = rest.lstrip(_PUNCT)
        for word in _RIGHT_FILLERS:
            if word == "เป็น" and not _leads_status(stripped[len(word):]):
                continue  # "… เป็นงานระบบระบายน้ำใหญ่" is the official's reason, "… เป็น กำลังดำเนินการ" a command
            if stripped.startswith(word):
                end, changed = end + (len(rest) - len(stripped)) + len(word), True
                break
    return start, end


def free_text(text: str, spans: list[tuple[int, int]]) -> str:
    """What the official wrote besides the command: `text` minus the command spans (grown over
    their filler words), joined in order. The official's own words are kept verbatim, tails and
    particles included ("...ครบ4ต้นแล้ว", "...ค่ะ")."""
    if not spans:
        return " ".join(text.split())
    grown = sorted(_absorb(text, s, e) for s, e in spans)
    merged: list[list[int]] = []
    for start, end in grown:
        if merged and text[merged[-1][1] : start].strip(_PUNCT) == "":
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces, last = [], 0
    for start, end in merged:
        pieces.append(text[last:start])
        last = end
    pieces.append(text[last:])
    kept = [" ".join(p.split()).lstrip(_PUNCT).rstrip(_TAIL_PUNCT) for p in pieces]
    note = " ".join(p for p in kept if p)
    return _LABEL.sub("", note).lstrip(_PUNCT).rstrip(_TAIL_PUNCT)


def request_update_parts(text: str, entities: list[dict[str, Any]]) -> tuple[str | None, str]:
    """(status named in the text or by the classifier, the official's note)."""
    if is_payload(text):
        values = entity_values(entities, "request_status")
        return (values[0] if values else None), ""
    spans = [m.span() for m in REQUEST_ID_RE.finditer(text)]
    found = request_status_in(text)
    status = None
    if found:
        status, span = found
        spans.append(span)
    else:
        values = [v for v in entity_values(entities, "request_status") if v in REQUEST_STATUS_WORDS]
        status = values[0] if values else None
    return status, free_text(text, spans)


_REASON_START = re.compile(r"เพราะ|เนื่องจาก|เหตุผล")
_GIVE_AFTER_COMMAND = re.compile(r"\s*(?:ให้(?:กับ)?|ไปที่|ไปยัง|ไปให้|ไป|to\b)\s*", re.IGNORECASE)
_PARTICLE_WORD = re.compile(r"\s*(?:ครับผม|ครับ|ค่ะ|คะ|นะคะ|นะครับ|จ้า)(?=\s|$)")


def forward_parts(text: str, entities: list[dict[str, Any]]) -> tuple[str | None, str, tuple[int, int] | None]:
    """Forwarding: (the words naming the target, the reason, the target's span). Resolving the
    words to an agency is the catalog's job; this only says which words are the target and which
    are the reason. The classifier's agency span is used only where a target goes (right after
    "ให้"): elsewhere it is part of the reason ("สำนักงานเขตดูแล").

    "ส่งต่อ REQ-000004 ให้ กทม. ค่ะ พื้นที่อยู่เขตราชเทวี สำนักงานเขตดูแล"
    -> ("กทม.", "พื้นที่อยู่เขตราชเทวี สำนักงานเขตดูแล", (21, 25))
    """
    spans = [m.span() for m in REQUEST_ID_RE.finditer(text)] + [m.span() for m in FORWARD_WORDS_RE.finditer(text)]
    after_command = max((end for _, end in spans), default=0)
    # "ส่งต่อ REQ-… ไปกรมโยธาฯ": a bare "ไป" right after the command leads the target too
    give = _GIVE_AFTER_COMMAND.match(text, after_command) if spans else None
    give = give or re.search(r"(?:ให้(?:กับ)?|ไปที่|ไปยัง|ไปให้|\bto\b)\s*", text)
    agency_spans = [(int(e["start"]), int(e["end"])) for e in entities if e.get("entity") == "agency" and "start" in e]
    target_span: tuple[int, int] | None = None
    if give is not None:
        spans.append(give.span())
        word_end = None
        word = re.match(r"\S+", text[give.end() :])
        if word is not None:
            raw = word.group(0)
            cut = _REASON_START.search(raw, 2)
            raw = raw[: cut.start()] if cut else raw
            raw = re.sub(r"(?:ครับ|ค่ะ|คะ|นะ|จ้า)+$", "", raw)
            word_end = give.end() + len(raw) if raw else None
        entity = next((sp for sp in agency_spans if sp[0] == give.end()), None)
        if entity is not None:  # the classifier's span, without a particle or the reason it ran into
            particle = _PARTICLE_WORD.search(text, entity[0], entity[1])
            entity = (entity[0], particle.start()) if particle else entity
        if entity is not None and (word_end is None or entity[1] >= word_end):
            target_span = entity  # a name of several words ("สำนักงาน ก.พ.ร.")
        elif word_end is not None:
            target_span = (give.end(), word_end)  # the whole word, not the piece the classifier saw ("กรม" of "กรมไฟฟ้าชุมชน")
    elif agency_spans:  # "ส่งต่อ REQ-000004 กรมที่ดิน ..." without "ให้"
        target_span = agency_spans[0]
    elif spans:  # no "ให้" and no entity: the word right after the command ("ส่งต่อ REQ-000004 กทม. ...")
        after = max(end for _, end in spans)
        word = re.match(r"\s*(\S+)", text[after:])
        if word is not None:
            raw = re.sub(r"(?:ครับ|ค่ะ|คะ|นะ|จ้า)+$", "", word.group(1))
            if raw and not _REASON_START.match(raw):
                target_span = (after + word.start(1), after + word.start(1) + len(raw))
    if target_span is None:
        return None, free_text(text, spans), None
    spans.append(target_span)
    return text[target_span[0] : target_span[1]].strip(), free_text(text, spans), target_span


# --- routing by the ID kind in the text ---------------------------------------------------

def id_kinds(text: str) -> set[str]:
    """"request" and/or "task": which kinds of ID the text holds (REQ-000123, T-42)."""
    kinds = set()
    if REQUEST_ID_RE.search(text):
        kinds.add("request")
    if TASK_ID_RE.search(REQUEST_ID_RE.sub(" ", text)):
        kinds.add("task")
    return kinds


_NEW_REQUESTS = re.compile(r"คำร้อง|เรื่องร้องเรียน|requests?\b", re.IGNORECASE)
_ASKING = re.compile(r"มี(?:อะไร|ไหม|มั้ย|มั๊ย|หรือเปล่า|รึเปล่า|บ้าง)|กี่|ใหม่|ค้าง|รอ|ยังไม่|ดู|รายการ|list|\?", re.IGNORECASE)


def asks_for_request_list(text: str) -> str | None:
    """"new", "today" or "open" when the official asks what requests there are; None otherwise."""
    if REQUEST_ID_RE.search(text) or not _NEW_REQUESTS.search(text) or not _ASKING.search(text):
        return None
    if "วันนี้" in text:
        return "today"
    if "ใหม่" in text or "new" in text.lower():
        return "new"
    return "open"


# --- tasks ---------------------------------------------------------------------------------

_TASK_QUESTION = re.compile(r"งาน.*(?:อะไรบ้าง|มีอะไร|มีไหม|มีมั้ย|มีมั๊ย|กี่งาน|เหลือ|ค้าง|รายการ|\?)|^/tasks\b|^ขอดูงาน|^ดูงาน")


def asks_for_task_list(text: str) -> bool:
    """"งานของฉันมีอะไรบ้าง", "งานค้างมีกี่งาน": a question about tasks, with no task ID in it."""
    return not TASK_ID_RE.search(REQUEST_ID_RE.sub(" ", text)) and not starts_task_creation(text) and bool(_TASK_QUESTION.search(text))

CANCEL_TASK_RE = re.compile(r"(?:ยกเลิก|ลบ|cancel|delete)\s*(?:งาน|task)?\s*(?=(?:ที่\s*)?t\s*[-_]?\s*[0-9๐-๙])", re.IGNORECASE)


def is_task_cancel(text: str) -> bool:
    """"ยกเลิกงาน T-2", "ลบงาน T-2", "ยกเลิก T-2": the task goes (not a time, not a status)."""
    # "T-3 ยกเลิกประชุมแล้ว" is an update about a meeting, not a cancellation: after the ID only
    # "ยกเลิกงาน(นี้)" / "ลบงาน(นี้)" / "ลบทิ้ง" cancel.
    return bool(CANCEL_TASK_RE.search(text)) or bool(re.search(r"(?i)t\s*-?\s*[0-9๐-๙]+\s*(?:ยกเลิกงาน|ลบงาน|ลบทิ้ง)", text))


TASK_STATUS_TEXT_RE = re.compile(
    r"ติดปัญหา|ติดขัด|เสร็จแล้ว|เสร็จเรียบร้อย|เรียบร้อยแล้ว|ปิดงาน|กำลังดำเนินการ|กำลังทำ|ทำไปแล้ว|ยังไม่เริ่ม|รอดำเนินการ|blocked|stuck|done"
)


def blocked_reason(text: str) -> str:
    """Why a task is blocked: the message without the task ID and the status word."""
    spans = [m.span() for m in TASK_ID_RE.finditer(text)]
    status = TASK_STATUS_TEXT_RE.search(text)
    if status is not None:
        spans.append(status.span())
    reason = free_text(text, spans)
    return re.sub(r"^(?:เพราะ|เนื่องจาก)\s*", "", reason) if reason else ""


LIST_STATUS_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("blocked", ("ติดปัญหา", "ติดขัด", "blocked")),
    ("done", ("เสร็จแล้ว", "ที่เสร็จ", "done")),
    ("in_progress", ("กำลังทำ", "กำลังดำเนินการ", "in progress")),
    ("todo", ("ยังไม่เริ่ม", "ยังไม่ได้เริ่ม", "todo")),
]


def list_status(text: str) -> str | None:
    lowered = text.lower()
    for status, words in LIST_STATUS_WORDS:
        if any(w in lowered for w in words):
            return status
    return None

"""An admin's decision on captured messages, shared by `bot nlu review` and the /admin page.

Annotating writes the example into `nlu_data/` first and then marks the captures as
annotated; if writing fails nothing is marked. Discarding only marks them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from bot.nlu_admin.audit import tracked
from bot.nlu_admin.training_data import Written, add_example, build_example
from common.thai_datetime import format_thai
from storage.models.nlu_capture import CAPTURE_ANNOTATED, CAPTURE_DISCARDED
from storage.nlu_review import ReviewGroup, resolve

# Why a message waits for review, in the admins' words (the CLI and the /admin page both show these).
REASONS_TH = {
    "fallback": "ผู้ช่วยไม่เข้าใจ",
    "low_confidence": "ความมั่นใจต่ำ",
    "contradicted": "ผู้ใช้ปฏิเสธหรือเริ่มใหม่ทันที",
    "flagged": "มีผู้แจ้งให้ตรวจ",
}


def suggested_example(group: ReviewGroup) -> str:
    """The group's wording with NLU's entities marked, as a starting point for the admin."""
    return build_example(group.text, group.entities)


def group_view(group: ReviewGroup) -> dict[str, Any]:
    """A queue group for the page and `--json`: the stored facts plus the suggested markup."""
    view = group.as_dict()
    view["example"] = suggested_example(group)
    view["last_seen_th"] = format_thai(group.last_seen, short=True)
    return view


def annotate(
    session: Session, ids: list[int], intent: str, example: str, *, data_dir: Path, group: str | None = None, move: bool = False,
    author: str = "unknown",
) -> tuple[Written, int]:
    """Write `example` as an example of `intent` (recorded as `author`'s change), then mark the captures annotated.
    (written, captures marked)"""
    with tracked(session, data_dir, author, f"{author} adds an example to {intent}" + (" (moved)" if move else "")):
        written = add_example(data_dir, intent, example, group=group, move=move)
    resolution = {"intent": intent, "example": " ".join(example.split()), "file": written.path.name}
    return written, resolve(session, ids, status=CAPTURE_ANNOTATED, resolution=resolution)


def discard(session: Session, ids: list[int]) -> int:
    return resolve(session, ids, status=CAPTURE_DISCARDED)

"""The daily digest a group of officials gets: a dated header and one block per feature section."""

from __future__ import annotations

from datetime import date, datetime
from typing import Sequence

from common.thai_datetime import format_thai


def daily(today: date, sections: Sequence[tuple[str, list[str]]]) -> str | None:
    """The digest's text from (title, lines) sections; None when there is nothing to say."""
    parts = [f"【{title}】\n" + "\n".join(lines) for title, lines in sections if lines]
    if not parts:
        return None
    header = f"สรุปงานประจำวันที่ {format_thai(datetime(today.year, today.month, today.day), with_time=False)}"
    return header + "\n\n" + "\n\n".join(parts)

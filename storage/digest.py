"""Daily digests for officials' groups.

Features register a section builder with `register_section`; each builder returns
the lines it has for a group chat today (open tasks, due today, overdue, new citizen
requests for the group's agency). A group whose sections are all empty gets nothing.
One digest per group per day (idempotency key `digest:<chat>:<date>`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from common import clock
from common.wording import digest as wording
from storage.outbox import enqueue

# (session, today) -> list of (channel, chat_id) to consider
GroupLister = Callable[[Session, date], list[tuple[str, str]]]
# (session, channel, chat_id, today) -> (section title, lines) or None
SectionBuilder = Callable[[Session, str, str, date], tuple[str, list[str]] | None]

_group_listers: list[GroupLister] = []
_sections: list[SectionBuilder] = []


def register_groups(lister: GroupLister) -> None:
    if lister not in _group_listers:
        _group_listers.append(lister)


def register_section(builder: SectionBuilder) -> None:
    if builder not in _sections:
        _sections.append(builder)


def _load_feature_modules() -> None:
    """Import the features that contribute to digests (they register on import)."""
    import importlib

    for name in ("storage.tasks_digest", "storage.requests_digest"):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def build_digest(session: Session, channel: str, chat_id: str, today: date) -> str | None:
    sections = [section for builder in _sections if (section := builder(session, channel, chat_id, today))]
    return wording.daily(today, sections)


def queue_daily_digests(session: Session, now: datetime | None = None, tz: str = "Asia/Bangkok") -> int:
    _load_feature_modules()
    today = (now or clock.now()).astimezone(ZoneInfo(tz)).date()
    count = 0
    groups: set[tuple[str, str]] = set()
    for lister in _group_listers:
        groups.update(lister(session, today))
    for channel, chat_id in sorted(groups):
        text = build_digest(session, channel, chat_id, today)
        if text is None:
            continue
        enqueue(
            session,
            kind="digest",
            channel=channel,
            recipient=chat_id,
            text=text,
            idempotency_key=f"digest:{channel}:{chat_id}:{today.isoformat()}",
            cause=("digest", f"{chat_id}:{today.isoformat()}"),
        )
        count += 1
    return count

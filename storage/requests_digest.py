"""Citizen-request section of the daily digest: what waits for the group's agency."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.wording import requests as wording
from storage.digest import register_section
from storage.models.officials import GroupLink
from storage.models.services import OPEN_STATUSES, SUBMITTED, ServiceRequest

TZ = ZoneInfo("Asia/Bangkok")


def requests_section(session: Session, channel: str, chat_id: str, today: date) -> tuple[str, list[str]] | None:
    link = session.scalar(select(GroupLink).where(GroupLink.channel == channel, GroupLink.chat_id == chat_id))
    if link is None or not link.agency:
        return None
    waiting = list(session.scalars(
        select(ServiceRequest).where(ServiceRequest.agency == link.agency, ServiceRequest.status.in_(OPEN_STATUSES)).order_by(ServiceRequest.id)
    ))
    if not waiting:
        return None
    since = datetime.combine(today, time.min, TZ).astimezone(UTC) - timedelta(days=1)
    new = [r for r in waiting if r.created_at >= since]
    untouched = [r for r in waiting if r.status == SUBMITTED]
    return wording.digest_section(len(waiting), len(new), len(untouched), (new + [x for x in untouched if x not in new])[:10])


register_section(requests_section)

""""ยังไม่เสร็จจริง": a citizen reopens a completed request within 14 days; the agency is told; it counts as reopened."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.models.outbox import Outbox
from storage.models.services import COMPLETED, IN_PROGRESS
from storage.officials import link_group, register_official, require_official
from storage.requests import (
    Citizen,
    NotCompleted,
    ReopenTooLate,
    RequestNotFound,
    create_request,
    reopen_request,
    update_request_status,
)
from storage.services import get_service, load_catalog
from storage.stats import load_facts
from tests.clock import START

ALICE = Citizen(key="line:Ualice", channel="line", reply_to="Ualice")
LOCAL = "องค์กรปกครองส่วนท้องถิ่น"


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    load_catalog(session)
    register_official(session, channel="telegram", user_id="903", agency=LOCAL)
    link_group(session, channel="telegram", chat_id="-100500", agency=LOCAL)
    session.commit()
    return session


def _completed(s, at):  # type: ignore[no-untyped-def]
    request = create_request(s, ALICE, get_service(s, "ไฟถนนดับ"), details="ไฟดับทั้งซอย", now=at)
    official = require_official(s, "telegram", "903")
    update_request_status(s, official, request.id, COMPLETED, now=at + timedelta(hours=5))
    s.commit()
    return request


def test_completion_notice_has_the_button_and_reopening_tells_the_agency(world) -> None:  # type: ignore[no-untyped-def]
    s = world
    request = _completed(s, START - timedelta(days=3))
    notice = next(o for o in s.scalars(select(Outbox).where(Outbox.kind == "request_status")) if "เสร็จสิ้น" in o.payload["text"])
    assert any(b["title"] == "ยังไม่เสร็จจริง" and "/reopen_request" in b["payload"] for b in notice.payload["buttons"])
    reopen_request(s, ALICE.key, request.id, reason="ไฟยังดับอยู่ 0812345678", now=START)
    s.commit()
    assert request.status == IN_PROGRESS and request.closed_at is None
    assert request.history[-1].action == "reopened" and request.history[-1].actor == "citizen"
    told = [o for o in s.scalars(select(Outbox).where(Outbox.kind == "request_reopened"))]
    assert [o.recipient for o in told] == ["-100500"] and "ยังไม่เสร็จจริง" in told[0].payload["text"] and request.code in told[0].payload["text"]
    assert [f.reopened for f in load_facts(s)] == [1]
    # Completed again: still counted as reopened once, closed at the new time.
    update_request_status(s, require_official(s, "telegram", "903"), request.id, COMPLETED, now=START + timedelta(hours=2))
    s.commit()
    assert [(f.reopened, f.status) for f in load_facts(s)] == [(1, COMPLETED)]


def test_only_own_completed_requests_within_14_days(world) -> None:  # type: ignore[no-untyped-def]
    s = world
    request = _completed(s, START - timedelta(days=20))
    with pytest.raises(ReopenTooLate):  # completed 20 days minus 5 hours ago
        reopen_request(s, ALICE.key, request.id, now=START)
    with pytest.raises(RequestNotFound):
        reopen_request(s, "line:Ubob", request.id, now=START)
    fresh = create_request(s, ALICE, get_service(s, "ไฟถนนดับ"), details="อีกเรื่อง", now=START)
    with pytest.raises(NotCompleted):
        reopen_request(s, ALICE.key, fresh.id, now=START)
    ok = _completed(s, START - timedelta(days=13))
    assert reopen_request(s, ALICE.key, None, now=START).id == ok.id  # the latest completed one

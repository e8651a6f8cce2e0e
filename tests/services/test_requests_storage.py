"""Requests in storage on SQLite and PostgreSQL: routing, ownership, history, follow-ups, PDPA."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.handoff import active_handoff, release_handoff, relay_from_citizen, reply_in_handoff, start_handoff
from storage.models.base import utcnow
from storage.models.outbox import CANCELLED, PENDING, Outbox
from storage.models.services import ServiceRating, ServiceRequest
from storage.officials import link_group, register_official, require_official
from common.wording.privacy import export_lines
from common.wording.requests import status_lines
from storage.privacy import erase, holdings
from storage.requests import (
    Citizen,
    NotCompleted,
    NotYourAgency,
    RequestNotFound,
    cancel_request,
    create_request,
    forward_request,
    get_own_request,
    rate_request,
    reply_to_citizen,
    update_request_status,
)
from storage.services import get_service, load_catalog

ALICE = Citizen(key="line:Ualice", channel="line", reply_to="Ualice")
BOB = Citizen(key="line:Ubob", channel="line", reply_to="Ubob")
LOCAL = "องค์กรปกครองส่วนท้องถิ่น"


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    load_catalog(session)
    register_official(session, channel="telegram", user_id="901", agency=LOCAL, role="coordinator")
    register_official(session, channel="telegram", user_id="903", agency=LOCAL)
    register_official(session, channel="telegram", user_id="902", agency="กรมที่ดิน")
    link_group(session, channel="telegram", chat_id="-100500", agency=LOCAL)
    link_group(session, channel="telegram", chat_id="-100600", agency="กรมที่ดิน")
    session.commit()
    return session


def _outbox(session, **where):  # type: ignore[no-untyped-def]
    rows = session.scalars(select(Outbox).order_by(Outbox.id)).all()
    return [r for r in rows if all(getattr(r, k) == v for k, v in where.items())]


def _file(session, citizen=ALICE, service="ไฟถนนดับ"):  # type: ignore[no-untyped-def]
    request = create_request(session, citizen, get_service(session, service), details="ไฟดับทั้งซอยสามคืนแล้ว",
                             location={"latitude": 13.75, "longitude": 100.5, "address": "ซอยสุขใจ 5"}, contact="0812345678")
    session.commit()
    return request


def test_a_request_is_routed_to_its_agency_with_an_escalation(world) -> None:
    request = _file(world)
    assert request.code == f"REQ-{request.id:06d}" and request.agency == LOCAL and request.status == "submitted"
    routed = _outbox(world, kind="request_routed")
    assert [(r.channel, r.recipient) for r in routed] == [("telegram", "-100500")]
    assert request.code in routed[0].payload["text"]
    escalation = _outbox(world, kind="request_escalation")
    assert [(r.recipient, r.state) for r in escalation] == [("901", PENDING)]  # the coordinator, not the member
    service = get_service(world, "ไฟถนนดับ")
    assert abs((escalation[0].due_at - request.created_at) - timedelta(days=service.duration_days)) < timedelta(seconds=5)


def test_a_citizen_reaches_only_their_own_requests(world) -> None:
    mine = _file(world)
    theirs = _file(world, BOB)
    assert get_own_request(world, ALICE.key, mine.id).id == mine.id
    assert get_own_request(world, ALICE.key, None).id == mine.id  # "my latest request"
    for probe in (theirs.id, 999_999):
        with pytest.raises(RequestNotFound):
            get_own_request(world, ALICE.key, probe)
        with pytest.raises(RequestNotFound):
            cancel_request(world, ALICE.key, probe)
    world.rollback()
    assert world.get(ServiceRequest, theirs.id).status == "submitted"


def test_cancelling_stops_the_follow_ups_and_tells_the_agency(world) -> None:
    request = _file(world)
    cancel_request(world, ALICE.key, request.id)
    world.commit()
    assert world.get(ServiceRequest, request.id).status == "cancelled"
    assert {r.state for r in _outbox(world, kind="request_escalation")} == {CANCELLED}
    assert [r.recipient for r in _outbox(world, kind="request_cancelled")] == ["-100500"]
    assert [h.action for h in world.get(ServiceRequest, request.id).history] == ["created", "cancelled"]


def test_only_the_responsible_agency_moves_a_request_and_the_citizen_hears(world) -> None:
    request = _file(world)
    other = require_official(world, "telegram", "902")
    with pytest.raises(NotYourAgency):
        update_request_status(world, other, request.id, "received")
    member = require_official(world, "telegram", "903")
    update_request_status(world, member, request.id, "in_progress", "ส่งช่างไฟฟ้าแล้ว")
    world.commit()
    notices = _outbox(world, kind="request_status")
    assert [(n.channel, n.recipient) for n in notices] == [("line", "Ualice")]
    assert "กำลังดำเนินการ" in notices[0].payload["text"] and "ส่งช่างไฟฟ้าแล้ว" in notices[0].payload["text"]
    assert {r.state for r in _outbox(world, kind="request_escalation")} == {CANCELLED}  # touched in time
    stored = world.get(ServiceRequest, request.id)
    lines = status_lines(stored.history, stored.anonymised)
    assert len(lines) == 2 and "กำลังดำเนินการ" in lines[1] and str(utcnow().year + 543) in lines[0]  # Buddhist Era


def test_completion_schedules_a_satisfaction_check_and_rating_cancels_it(world) -> None:
    request = _file(world)
    with pytest.raises(NotCompleted):
        rate_request(world, ALICE.key, request.id, 5)
    member = require_official(world, "telegram", "903")
    update_request_status(world, member, request.id, "completed", "เปลี่ยนหลอดไฟแล้ว")
    world.commit()
    check = _outbox(world, kind="satisfaction_check")
    assert len(check) == 1 and check[0].state == PENDING and check[0].due_at > utcnow() + timedelta(days=2)
    assert check[0].payload["buttons"][0]["payload"].startswith("/rate_service")
    with pytest.raises(RequestNotFound):
        rate_request(world, BOB.key, request.id, 1)
    rate_request(world, ALICE.key, None, 4, "ช่างมาเร็วมาก")  # the latest completed, unrated one
    world.commit()
    rating = world.scalars(select(ServiceRating)).one()
    assert (rating.score, rating.agency, rating.service, rating.comment) == (4, LOCAL, "ไฟถนนดับ", "ช่างมาเร็วมาก")
    assert _outbox(world, kind="satisfaction_check")[0].state == CANCELLED
    from storage.requests import rating_summary

    assert rating_summary(world) == [(LOCAL, "ไฟถนนดับ", 1, 4.0)]
    assert rating_summary(world, "กรมที่ดิน") == []


def test_forwarding_keeps_history_and_moves_ownership(world) -> None:
    request = _file(world)
    member = require_official(world, "telegram", "903")
    forward_request(world, member, request.id, "กรมที่ดิน", "เป็นที่ดินเอกชน")
    world.commit()
    moved = world.get(ServiceRequest, request.id)
    assert moved.agency == "กรมที่ดิน" and [h.action for h in moved.history] == ["created", "forwarded"]
    assert "-100600" in [r.recipient for r in _outbox(world, kind="request_routed")]
    with pytest.raises(NotYourAgency):
        update_request_status(world, member, request.id, "received")  # no longer theirs
    land = require_official(world, "telegram", "902")
    reply_to_citizen(world, land, request.id, "ขอสำเนาโฉนดเพิ่มเติมครับ", key="ev1")
    reply_to_citizen(world, land, request.id, "ขอสำเนาโฉนดเพิ่มเติมครับ", key="ev1")  # a retried command
    world.commit()
    assert len(_outbox(world, kind="official_reply")) == 1


def test_erasure_leaves_anonymous_statistics_and_nothing_that_links(world) -> None:
    request = _file(world)
    member = require_official(world, "telegram", "903")
    update_request_status(world, member, request.id, "completed")
    rate_request(world, ALICE.key, request.id, 2, "ช้ามาก โทรหาผมที่ 0812345678")
    theirs = _file(world, BOB)
    world.commit()
    assert any("REQ-" in line for line in export_lines(holdings(world, ALICE, "line:Ualice"), ALICE.reply_to))
    done = erase(world, ALICE, "line:Ualice")
    world.commit()
    assert done.requests == 1
    row = world.get(ServiceRequest, request.id)
    assert row.anonymised and row.citizen_key is None and row.reply_to is None
    assert row.details is None and row.location is None and row.contact is None
    assert all(h.note == "" for h in row.history) and (row.service, row.agency, row.status) == ("ไฟถนนดับ", LOCAL, "completed")
    assert world.scalars(select(ServiceRating)).one().comment is None
    assert not [r for r in world.scalars(select(Outbox)) if r.recipient == "Ualice"]
    assert not [r for r in world.scalars(select(Outbox)) if "ไฟดับทั้งซอย" in str(r.payload) and r.cause_id == str(request.id)]
    assert [r for r in world.scalars(select(Outbox)) if r.cause_id == str(theirs.id)]  # Bob's request is still routed
    assert holdings(world, ALICE, "line:Ualice").empty
    assert world.get(ServiceRequest, theirs.id).citizen_key == BOB.key  # someone else's data untouched


def test_a_handoff_relays_until_released(world) -> None:
    request = _file(world)
    handoff, told = start_handoff(world, ALICE, "line:Ualice", request=request, reason="อยากคุยกับเจ้าหน้าที่")
    world.commit()
    assert told == 1 and handoff.agency == LOCAL
    assert relay_from_citizen(world, "line:Ualice", "ไฟยังดับอยู่เลยครับ", event_id=7)
    assert relay_from_citizen(world, "line:Ualice", "ไฟยังดับอยู่เลยครับ", event_id=7)  # the same event again
    world.commit()
    assert len(_outbox(world, kind="handoff_message")) == 1
    outsider = require_official(world, "telegram", "902")
    with pytest.raises(PermissionError):
        reply_in_handoff(world, outsider, handoff.id, "สวัสดี", key="k")
    member = require_official(world, "telegram", "903")
    reply_in_handoff(world, member, handoff.id, "กำลังประสานช่างให้ครับ", key="k1")
    release_handoff(world, member, handoff.id)
    world.commit()
    assert active_handoff(world, "line:Ualice") is None
    assert [r.recipient for r in _outbox(world, kind="official_reply")] == ["Ualice"]


def test_a_silent_handoff_expires(world) -> None:
    handoff, _ = start_handoff(world, ALICE, "line:Ualice")
    world.commit()
    assert active_handoff(world, "line:Ualice", utcnow() + timedelta(days=1)) is None
    world.commit()
    assert not relay_from_citizen(world, "line:Ualice", "ยังอยู่ไหม", event_id=9)

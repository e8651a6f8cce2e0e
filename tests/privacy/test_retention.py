"""Retention per table, with injected times (storage.retention)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models.effects import ActionEffect
from storage.models.channels import CallbackPayload, ChannelUser, InboundEvent, WebMessage
from storage.models.nlu_capture import NluCapture
from storage.models.outbox import Outbox
from storage.models.services import Handoff, RequestHistory, ServiceRating, ServiceRequest
from storage.retention import Retention, purge

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=91)
RECENT = NOW - timedelta(days=89)
POLICY = Retention(messages_days=90, closed_requests_days=90, nlu_capture_days=90, tracker_days=90)


def _event(session: Session, key: str, at: datetime, state: str = "done") -> None:
    session.add(InboundEvent(channel="line", external_id=key, conversation=f"line:U{key}", text="", state=state, received_at=at,
                             next_attempt_at=at, metadata_={"user_id": f"U{key}", "display_name": "สมศรี"}))


def _request(session: Session, status: str, created: datetime, closed: datetime | None) -> ServiceRequest:
    request = ServiceRequest(citizen_key="line:Ux", channel="line", reply_to="Ux", service="ไฟถนนดับ", agency="องค์กรปกครองส่วนท้องถิ่น",
                             details="ไฟดับหน้าบ้าน", location={"address": "ซอย 9"}, contact="0812345678", status=status,
                             status_note="ช่างเข้าแล้ว", created_at=created, closed_at=closed)
    session.add(request)
    session.flush()
    session.add(RequestHistory(request_id=request.id, action="status", status=status, agency=request.agency, note="โทรหาคุณสมศรีแล้ว",
                               actor="official", at=created))
    return request


def test_each_table_keeps_its_period(session: Session) -> None:
    _event(session, "old", OLD)
    _event(session, "open", OLD, state="pending")  # not handled yet: never purged
    _event(session, "new", RECENT)
    session.add_all([
        WebMessage(chat_id="w1", payload={"text": "เก่า"}, created_at=OLD),
        WebMessage(chat_id="w2", payload={"text": "ใหม่"}, created_at=RECENT),
        Outbox(kind="request_status", channel="line", recipient="Ux", payload={"text": "เก่า"}, idempotency_key="o1", state="sent",
               created_at=OLD, due_at=OLD),
        Outbox(kind="request_status", channel="line", recipient="Ux", payload={"text": "รอส่ง"}, idempotency_key="o2", state="pending",
               created_at=OLD, due_at=OLD),
        Outbox(kind="request_status", channel="line", recipient="Ux", payload={"text": "ใหม่"}, idempotency_key="o3", state="sent",
               created_at=RECENT, due_at=RECENT),
        CallbackPayload(key="k1", payload="/rate{\"rating\": 5}", created_at=OLD),
        ChannelUser(channel="line", user_id="Ugone", following=False, updated_at=OLD),
        ChannelUser(channel="line", user_id="Ustill", following=True, updated_at=OLD),
        NluCapture(channel="line", sender="p1", text="เก่า", norm_key="a", captured_at=OLD),
        NluCapture(channel="line", sender="p1", text="ใหม่", norm_key="b", captured_at=RECENT),
    ])
    closed_long_ago = _request(session, "completed", OLD - timedelta(days=30), OLD)
    closed_lately = _request(session, "rejected", OLD, RECENT)
    still_open = _request(session, "in_progress", NOW - timedelta(days=400), None)
    session.add(ServiceRating(request_id=closed_long_ago.id, agency=closed_long_ago.agency, service=closed_long_ago.service, score=4,
                              comment="ช่างชื่อสมชายดีมาก", created_at=OLD))
    session.add_all([
        Handoff(conversation="line:Ux", citizen_key="line:Ux", channel="line", reply_to="Ux", agency="กรมที่ดิน", status="released",
                created_at=OLD, expires_at=OLD, closed_at=OLD),
        Handoff(conversation="line:Uy", citizen_key="line:Uy", channel="line", reply_to="Uy", agency="กรมที่ดิน", status="open",
                created_at=OLD, expires_at=NOW + timedelta(hours=1)),
    ])
    session.add_all([ActionEffect(action="action_submit_request", conversation="line:Ux", message_id=m, result={}, created_at=at)
                     for m, at in (("old", NOW - timedelta(days=3)), ("recent", NOW - timedelta(hours=1)))])
    session.commit()

    purged = purge(session, NOW, POLICY)
    session.commit()

    assert purged.as_dict() == {"inbound_events": 1, "web_messages": 1, "outbox": 1, "callback_payloads": 1, "channel_users": 1,
                                "nlu_captures": 1, "requests_anonymised": 1, "handoffs_anonymised": 1,
                                "action_effects": 1}
    assert list(session.scalars(select(ActionEffect.message_id))) == ["recent"]
    assert sorted(session.scalars(select(InboundEvent.external_id))) == ["new", "open"]
    assert list(session.scalars(select(WebMessage.chat_id))) == ["w2"]
    assert sorted(session.scalars(select(Outbox.idempotency_key))) == ["o2", "o3"]
    assert list(session.scalars(select(ChannelUser.user_id))) == ["Ustill"]
    assert list(session.scalars(select(NluCapture.text))) == ["ใหม่"]
    session.expire_all()
    old = session.get(ServiceRequest, closed_long_ago.id)
    assert old.anonymised and (old.citizen_key, old.reply_to, old.details, old.location, old.contact, old.status_note) == (None,) * 6
    # what statistics need stays: agency, service, timestamps, status history, the rating value
    assert (old.agency, old.service, old.status, old.closed_at) == ("องค์กรปกครองส่วนท้องถิ่น", "ไฟถนนดับ", "completed", OLD)
    assert [(h.status, h.note) for h in old.history] == [("completed", "")]
    rating = session.scalars(select(ServiceRating)).one()
    assert (rating.score, rating.comment) == (4, None)
    for kept in (closed_lately, still_open):
        row = session.get(ServiceRequest, kept.id)
        assert not row.anonymised and row.contact == "0812345678" and row.history[0].note
    handoffs = {h.status: h for h in session.scalars(select(Handoff))}
    assert (handoffs["released"].conversation, handoffs["released"].citizen_key, handoffs["released"].reply_to) == (None, None, None)
    assert handoffs["open"].conversation == "line:Uy"

    again = purge(session, NOW, POLICY)  # idempotent
    assert sum(again.as_dict().values()) == 0


def test_the_periods_come_from_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RETENTION_MESSAGES_DAYS", "30")
    monkeypatch.setenv("RETENTION_CLOSED_REQUESTS_DAYS", "365")
    monkeypatch.setenv("RETENTION_TRACKER_DAYS", "7")
    monkeypatch.delenv("NLU_CAPTURE_RETENTION_DAYS", raising=False)
    policy = Retention.from_env()
    assert (policy.messages_days, policy.closed_requests_days, policy.nlu_capture_days, policy.tracker_days) == (30, 365, 90, 7)
    assert policy.tracker_cutoff(NOW) == (NOW - timedelta(days=7)).timestamp()


def test_zero_days_keeps_no_finished_message(session: Session) -> None:
    _event(session, "just-now", NOW - timedelta(seconds=1))
    session.commit()
    purge(session, NOW, Retention(messages_days=0))
    session.commit()
    assert session.scalar(select(func.count()).select_from(InboundEvent)) == 0

"""Capture rows on SQLite and PostgreSQL: contradictions, retention, erasure, flags, the review queue."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from storage.db import session_scope
from storage.models.nlu_capture import CAPTURE_ANNOTATED, CAPTURE_DISCARDED, NluCapture
from storage.nlu_capture import count_captures, erase_captures, pseudonym, pseudonym_secret, purge_expired
from storage.nlu_review import counts, flag, recent, resolve, review_queue
from tests.nlu_admin.conftest import SECRET, capture


def _row(engine: Engine, capture_id: int) -> NluCapture:
    with session_scope(engine) as s:
        return s.get(NluCapture, capture_id)


def test_a_deny_or_restart_right_after_contradicts_the_message_before(db_engine: Engine, at) -> None:
    asked = capture(db_engine, "ขอแบบฟอร์มลดหย่อนภาษี", "search_law", 0.81, at=at)
    other = capture(db_engine, "สวัสดี", "greet", 0.99, user="U2", at=at + timedelta(seconds=5))
    capture(db_engine, "ไม่ใช่", "deny", 0.93, at=at + timedelta(seconds=20))
    assert _row(db_engine, asked).contradicted is True
    assert _row(db_engine, other).contradicted is False  # someone else's message

    restarted = capture(db_engine, "ลงทะเบียนคนละครึ่ง", "request_service", 0.7, at=at + timedelta(minutes=1))
    capture(db_engine, "/restart", "restart", 1.0, at=at + timedelta(minutes=1, seconds=10))
    assert _row(db_engine, restarted).contradicted is True

    late = capture(db_engine, "ขอเอกสารเพิ่ม", "ask_service_info", 0.9, at=at + timedelta(minutes=2))
    capture(db_engine, "ไม่", "deny", 0.9, at=at + timedelta(minutes=20))  # much later: an answer to something else
    assert _row(db_engine, late).contradicted is False

    button = capture(db_engine, "/help", "help", 1.0, at=at + timedelta(minutes=21))
    capture(db_engine, "ไม่", "deny", 0.9, at=at + timedelta(minutes=21, seconds=5))
    assert _row(db_engine, button).contradicted is False  # a button press is not language


def test_retention_purges_old_captures(db_engine: Engine) -> None:
    from storage.models.base import utcnow

    now = utcnow()
    old = capture(db_engine, "ข้อความเก่า", "nlu_fallback", 0.2, at=now - timedelta(days=91))
    kept = capture(db_engine, "ข้อความใหม่กว่า", "nlu_fallback", 0.2, at=now - timedelta(days=89))
    with session_scope(db_engine) as s:
        assert purge_expired(s, 90, now=now) == 1
    assert _row(db_engine, old) is None and _row(db_engine, kept) is not None
    with session_scope(db_engine) as s:
        assert purge_expired(s, 0, now=now) == 1  # 0 days keeps nothing
        assert counts(s) == {}


def test_erasure_removes_one_persons_captures_only(db_engine: Engine) -> None:
    capture(db_engine, "ข้อความของคนแรก", "nlu_fallback", 0.3, user="Ua")
    capture(db_engine, "อีกข้อความของคนแรก", "greet", 0.9, user="Ua")
    theirs = capture(db_engine, "ข้อความของคนที่สอง", "nlu_fallback", 0.3, user="Ub")
    with session_scope(db_engine) as s:
        assert count_captures(s, pseudonym("line:Ua", SECRET)) == 2
        assert erase_captures(s, pseudonym("line:Ua", SECRET)) == 2
        assert erase_captures(s, None) == 0
    assert _row(db_engine, theirs) is not None


def test_privacy_erase_and_export_cover_captures(db_engine: Engine, tmp_path) -> None:
    from common.wording.privacy import export_lines
    from storage.privacy import erase, holdings
    from storage.requests import Citizen

    secret = pseudonym_secret(tmp_path / "var")  # the installation's key, as the gateway makes it
    capture(db_engine, "สอบถามเบี้ยยังชีพ โทร 0812345678", "nlu_fallback", 0.3, user="U77", secret=secret)
    citizen = Citizen(key="line:U77", channel="line", reply_to="U77")
    with session_scope(db_engine) as s:
        assert any("ปรับปรุงความเข้าใจ" in line and "1 ข้อความ" in line for line in export_lines(holdings(s, citizen, "line:U77"), citizen.reply_to))
        erase(s, citizen, "line:U77")
    with session_scope(db_engine) as s:
        assert counts(s) == {}


def test_flag_and_resolve(db_engine: Engine) -> None:
    confident = capture(db_engine, "แจ้งไฟถนนดับหน้าบ้าน", "request_service", 0.97)
    with session_scope(db_engine) as s:
        assert review_queue(s) == []
        assert flag(s, confident) is True
    with session_scope(db_engine) as s:
        (group,) = review_queue(s)
        assert group.ids == [confident] and group.reasons == {"flagged": 1}
        assert resolve(s, [confident], status=CAPTURE_ANNOTATED, resolution={"intent": "request_service"}) == 1
        assert resolve(s, [confident], status=CAPTURE_DISCARDED) == 0  # decided already
        assert flag(s, confident) is False
    row = _row(db_engine, confident)
    assert row.status == CAPTURE_ANNOTATED and row.resolution == {"intent": "request_service"} and row.resolved_at is not None
    with session_scope(db_engine) as s:
        assert [c.id for c in recent(s)] == [confident]


def test_review_queue_groups_near_duplicates_and_ranks_by_frequency(db_engine: Engine, at) -> None:
    licence = [
        capture(db_engine, "ต่อใบขับขี่ยังไง", "nlu_fallback", 0.3, user="U1", at=at),
        capture(db_engine, "ต่อใบขับขี่ยังไงครับ", "nlu_fallback", 0.35, user="U2", at=at),
        capture(db_engine, "ต่อใบขับขี่ ยังไง!!", "ask_service_info", 0.5, user="U3", at=at),
        capture(db_engine, "ต่อใบขับขี่ยังไงดี", "nlu_fallback", 0.4, user="U4", at=at),  # similar words: same group
    ]
    lamp_seen = [capture(db_engine, "แจ้งไฟถนนดับ", "request_service", 0.95, user=f"L{i}", at=at) for i in range(5)]
    lamp = capture(db_engine, "แจ้งไฟถนนดับ", "request_service", 0.9, user="L9", at=at + timedelta(seconds=1))
    capture(db_engine, "ไม่ใช่", "deny", 0.9, user="L9", at=at + timedelta(seconds=3))  # contradicts the lamp message
    dog = capture(db_engine, "หมาหายแจ้งใคร", "nlu_fallback", 0.2, user="U9", at=at)
    capture(db_engine, "/help", "help", 0.1, user="U9", at=at)  # payloads never queue
    done = capture(db_engine, "ขอเลขเด็ด", "nlu_fallback", 0.2, user="U8", at=at)
    with session_scope(db_engine) as s:
        resolve(s, [done], status=CAPTURE_DISCARDED)
        queue = review_queue(s)
    texts = [g.text for g in queue]
    assert texts[0] == "แจ้งไฟถนนดับ"  # 6 occurrences of the wording, although only one is in the queue
    assert queue[0].ids == [lamp] and queue[0].count == 1 and queue[0].occurrences == 6 and queue[0].reasons == {"contradicted": 1}
    licence_group = queue[1]
    assert sorted(licence_group.ids) == sorted(licence) and licence_group.count == 4 and licence_group.occurrences == 4
    assert licence_group.reasons == {"fallback": 3, "low_confidence": 1}
    assert licence_group.intents == {"nlu_fallback": 3, "ask_service_info": 1}
    assert licence_group.variants == ["ต่อใบขับขี่ยังไงดี"]
    assert [g.ids for g in queue[2:]] == [[dog]]
    assert "ขอเลขเด็ด" not in texts and "/help" not in texts and lamp_seen[0] not in [i for g in queue for i in g.ids]
    with session_scope(db_engine) as s:
        low = review_queue(s, low_confidence=0.6)
        assert sum(g.count for g in low) == 6


def test_low_confidence_threshold_is_adjustable(db_engine: Engine) -> None:
    capture(db_engine, "ขอข้อมูลเรื่องภาษีป้าย", "ask_service_info", 0.55)
    with session_scope(db_engine) as s:
        assert len(review_queue(s, low_confidence=0.6)) == 1
        assert review_queue(s, low_confidence=0.5) == []
        assert s.scalar(select(NluCapture.text)) == "ขอข้อมูลเรื่องภาษีป้าย"

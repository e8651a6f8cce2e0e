"""The inbound event store's hot path on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from storage.inbound import (
    count_open,
    due_conversations,
    finish_and_next,
    mark_done,
    mark_retry,
    next_open_event,
    store_new_event,
)
from storage.models.base import utcnow


def _store(engine, conversation: str, external_id: str, text: str = "สวัสดี"):
    return store_new_event(engine, channel="line", external_id=external_id, conversation=conversation, text=text,
                           metadata={"chat_id": conversation, "chat_type": "private", "emoji": "🙏"}, reply_token="tok")


def test_events_are_stored_once_and_read_back_as_the_worker_got_them(db_engine) -> None:
    first = _store(db_engine, "line:Ua", "e1", "ขอบคุณครับ")
    assert first is not None and _store(db_engine, "line:Ua", "e1") is None  # a redelivery
    second = _store(db_engine, "line:Ua", "e2")
    _store(db_engine, "line:Ub", "e3")
    read = next_open_event(db_engine, "line:Ua")
    assert read == first  # what the webhook handed the worker is exactly what the store holds
    assert count_open(db_engine) == 3
    assert due_conversations(db_engine) == ["line:Ua", "line:Ub"]  # oldest first
    assert finish_and_next(db_engine, first.id, "line:Ua", [{"text": "ตอบ"}], "Ua") == second
    mark_done(db_engine, second.id)
    assert next_open_event(db_engine, "line:Ua") is None and count_open(db_engine) == 1


def test_an_event_waiting_for_its_retry_is_not_due(db_engine) -> None:
    event = _store(db_engine, "line:Uc", "r1")
    assert mark_retry(db_engine, event.id, "rasa: down", timedelta(minutes=5), 3)
    assert due_conversations(db_engine) == []
    assert due_conversations(db_engine, now=utcnow() + timedelta(minutes=6)) == ["line:Uc"]
    assert next_open_event(db_engine, "line:Uc").attempts == 1


def test_an_event_given_up_on_is_listed_with_the_failed_replies(db_engine) -> None:
    from storage.inbound import count_undelivered, undelivered_replies

    event = _store(db_engine, "line:Ud", "g1", "เบอร์ 0812345678")
    assert mark_retry(db_engine, event.id, "rasa: HTTP 503", timedelta(seconds=1), 2)
    assert not mark_retry(db_engine, event.id, "rasa: HTTP 503", timedelta(seconds=1), 2)  # attempts used up
    assert count_undelivered(db_engine) == {"failed": 1, "unknown": 0}
    [listed] = undelivered_replies(db_engine)
    assert listed.event_id == event.id and listed.outcome == "failed" and "HTTP 503" in listed.error
    assert "0812345678" not in listed.error and listed.notice_id is None

"""The gateway's erasure use-case (usecases/erasure.py) on both databases, and the worker running it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Engine, select

from storage.db import session_scope
from storage.inbound import Event, store_new_event
from storage.models.services import Handoff, ServiceRequest
from storage.requests import Citizen
from tests.privacy.scan import found
from usecases.erasure import FAILED_TEXT, PARTIAL_TEXT, Person, carry_out, person_of, requested, without_marker

USER = "U4af4980629e1c2d3a4b5c6d7e8f90123"
OTHER = "U9bb1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"
PHONE = "081-234-5678"
DETAILS = "ไฟดับทั้งซอยสุขใจสามคืนแล้ว"
ME = f"line:{USER}"
GROUP = "line-group:C1234"
MARKED = [{"text": None, "buttons": [], "custom": {"pdpa_erase": {"confirmed": True}}},
          {"text": "ลบข้อมูลส่วนบุคคลของคุณเรียบร้อยแล้วครับ", "buttons": [], "custom": None}]


def _meta(user: str, chat: str, chat_type: str = "private") -> dict[str, Any]:
    return {"channel": "line", "user_id": user, "chat_id": chat, "chat_type": chat_type, "display_name": "สมศรี ใจดี" if user == USER else "วิชัย"}


def _world(engine: Engine) -> dict[str, Any]:
    """The person's data everywhere the gateway and the actions put it."""
    from storage.handoff import relay_from_citizen, start_handoff
    from storage.nlu_capture import capture_values, insert_capture
    from storage.officials import link_group
    from storage.requests import create_request
    from storage.services import get_service, load_catalog

    events = [store_new_event(engine, channel="line", external_id=f"e{i}", conversation=ME, text=text, metadata=_meta(USER, USER))
              for i, text in enumerate([f"แจ้งไฟดับ {DETAILS}", f"โทร {PHONE}"])]
    store_new_event(engine, channel="line", external_id="g1", conversation=GROUP, text=f"บอท เบอร์ผม {PHONE}",
                    metadata=_meta(USER, "C1234", "group"))
    store_new_event(engine, channel="line", external_id="g2", conversation=GROUP, text="บอท ประชุมกี่โมง", metadata=_meta(OTHER, "C1234", "group"))
    events.append(store_new_event(engine, channel="line", external_id="e2", conversation=ME, text="ยืนยัน", metadata=_meta(USER, USER)))
    later = store_new_event(engine, channel="line", external_id="e9", conversation=ME, text="สวัสดีอีกครั้ง", metadata=_meta(USER, USER))
    citizen = Citizen(key=ME, channel="line", reply_to=USER)
    with session_scope(engine) as s:
        load_catalog(s)
        link_group(s, channel="telegram", chat_id="-100500", agency="องค์กรปกครองส่วนท้องถิ่น")
        s.flush()
        create_request(s, citizen, get_service(s, "ไฟถนนดับ"), details=DETAILS, location={"address": "ซอยสุขใจ"}, contact="0812345678")
        handoff, _ = start_handoff(s, citizen, ME, agency="องค์กรปกครองส่วนท้องถิ่น", reason=f"ติดต่อ {PHONE}")
        s.flush()
        relay_from_citizen(s, ME, f"ด่วนครับ {DETAILS}", event_id=events[1].id)
    with engine.begin() as conn:
        insert_capture(conn, capture_values(text=f"โทร {PHONE}", conversation=ME, metadata=_meta(USER, USER),
                                            nlu={"intent": "request_service", "confidence": 0.9}, secret=b"erasure-test"))
    return {"confirming": events[2], "later": later, "handoff_id": handoff.id}


@pytest.fixture(autouse=True)
def _pseudonym_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NLU_PSEUDONYM_SECRET", "erasure-test")


class RasaStub:
    def __init__(self, fail: int = 0) -> None:
        self.calls: list[tuple[str, str, list[str]]] = []
        self.fail = fail

    async def erase(self, channel: str, user_id: str, conversations: list[str]) -> dict[str, int]:
        self.calls.append((channel, user_id, conversations))
        if len(self.calls) <= self.fail:
            raise ConnectionError("rasa down")
        return {c: 1 for c in conversations}


NEEDLES = [USER, PHONE, "0812345678", DETAILS, "ซอยสุขใจ", "สมศรี"]


def test_nothing_of_the_person_is_left_and_others_keep_theirs(db_engine: Engine) -> None:
    world = _world(db_engine)
    assert len(found(db_engine, NEEDLES)) > 8  # the scan sees what is there
    rasa = RasaStub()
    person = person_of(ME, _meta(USER, USER))
    outcome = asyncio.run(carry_out(db_engine, rasa.erase, person, MARKED, event_id=world["confirming"].id))
    assert outcome.rasa_erased and outcome.stored_erased
    assert [r["text"] for r in outcome.replies] == ["ลบข้อมูลส่วนบุคคลของคุณเรียบร้อยแล้วครับ"]
    # the group where they spoke, found from the stored events; a second sweep after storage
    assert rasa.calls == [("line", USER, [GROUP, ME])] * 2
    # the message sent after the confirmation is theirs to keep; it alone still names them
    assert found(db_engine, NEEDLES) == [f"inbound_events.conversation: {USER}", f"inbound_events.metadata: {USER}",
                                         "inbound_events.metadata: สมศรี"]
    with session_scope(db_engine) as s:
        from storage.models.channels import InboundEvent

        assert sorted(s.scalars(select(InboundEvent.external_id))) == ["e9", "g2"]
        request = s.scalars(select(ServiceRequest)).one()
        assert request.anonymised and request.service == "ไฟถนนดับ"
        old = s.get(Handoff, world["handoff_id"])
        assert old is not None and old.status == "released" and old.conversation is None  # kept, anonymous
    # H-numbers are never given to someone else
    from storage.handoff import start_handoff

    with session_scope(db_engine) as s:
        new, _ = start_handoff(s, Citizen(key="line:Unext", channel="line", reply_to="Unext"), "line:Unext", agency="กรมที่ดิน")
        s.flush()
        assert new.id > world["handoff_id"]


def test_rasa_unreachable_storage_still_erased_and_the_person_told_honestly(db_engine: Engine) -> None:
    world = _world(db_engine)
    rasa = RasaStub(fail=99)
    outcome = asyncio.run(carry_out(db_engine, rasa.erase, person_of(ME, _meta(USER, USER)), MARKED,
                                    event_id=world["confirming"].id, retry_delay=0))
    assert len(rasa.calls) == 3 and not outcome.rasa_erased and outcome.stored_erased
    assert [r["text"] for r in outcome.replies] == [PARTIAL_TEXT]
    with session_scope(db_engine) as s:
        assert s.scalars(select(ServiceRequest)).one().anonymised


def test_rasa_back_after_a_retry_is_a_full_erasure(db_engine: Engine) -> None:
    world = _world(db_engine)
    rasa = RasaStub(fail=1)
    outcome = asyncio.run(carry_out(db_engine, rasa.erase, person_of(ME, _meta(USER, USER)), MARKED,
                                    event_id=world["confirming"].id, retry_delay=0))
    assert len(rasa.calls) == 3 and outcome.rasa_erased and outcome.replies[0]["text"].startswith("ลบข้อมูลส่วนบุคคล")


def test_the_marker_is_recognised_and_never_delivered() -> None:
    assert requested(MARKED) and not requested(MARKED[1:]) and not requested([{"text": "x", "custom": {"type": "cards"}}])
    assert without_marker(MARKED) == MARKED[1:]
    mixed = [{"text": "t", "buttons": [], "custom": {"pdpa_erase": {}, "type": "cards"}}]
    assert without_marker(mixed) == [{"text": "t", "buttons": [], "custom": {"type": "cards"}}]
    assert person_of("telegram:555", {"channel": "telegram", "user_id": "555", "chat_id": "555"}) == Person("telegram", "555", "telegram:555")
    assert "ไม่สำเร็จ" in FAILED_TEXT and "ไม่สำเร็จ" in PARTIAL_TEXT


async def test_the_worker_erases_before_it_answers_and_keeps_nothing_of_the_turn(sqlite_engine: Engine) -> None:
    from connectors.rasa_client import RasaAnswer
    from connectors.worker import Worker
    from storage.models.nlu_capture import NluCapture

    world = _world(sqlite_engine)
    with session_scope(sqlite_engine) as s:
        s.get(Handoff, world["handoff_id"]).status = "released"  # the bot answers again
    delivered: list[dict[str, Any]] = []
    order: list[str] = []

    class Rasa(RasaStub):
        async def ask(self, sender: str, text: str, metadata: dict[str, Any], message_id: str | None = None,
                      resumed: bool = False) -> RasaAnswer:
            order.append("ask")
            if text == "ยืนยัน":
                return RasaAnswer([{"recipient_id": sender, "custom": {"pdpa_erase": {"confirmed": True}}},
                                   {"recipient_id": sender, "text": "ลบข้อมูลส่วนบุคคลของคุณเรียบร้อยแล้วครับ"}],
                                  {"intent": "affirm", "confidence": 0.99, "entities": [], "ranking": []})
            return RasaAnswer([{"recipient_id": sender, "text": "รับทราบครับ"}], {"intent": "greet", "confidence": 0.9})

        async def erase(self, channel: str, user_id: str, conversations: list[str]) -> dict[str, int]:
            order.append("erase")
            return await super().erase(channel, user_id, conversations)

    async def deliver(event: Event, replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        order.append("deliver")
        delivered.extend(replies)
        return []

    worker = Worker(sqlite_engine, Rasa(), deliver, poll_interval=0.05, capture_secret=b"erasure-test")  # type: ignore[arg-type]
    worker.start()
    try:
        done, later = worker.waiter(world["confirming"].id), worker.waiter(world["later"].id)
        worker.stored([ME])
        await asyncio.wait_for(done.wait(), 20)
        await asyncio.wait_for(later.wait(), 20)
    finally:
        await worker.stop()
    # the two first stored messages are answered too; the erasure comes before its answer is delivered
    assert order.index("erase") < order.index("deliver", order.index("erase"))
    assert not any((r.get("custom") or {}).get("pdpa_erase") for r in delivered)
    assert "ลบข้อมูลส่วนบุคคลของคุณเรียบร้อยแล้วครับ" in [r["text"] for r in delivered]
    with session_scope(sqlite_engine) as s:
        from storage.models.channels import InboundEvent

        # the confirming turn left nothing; the message after it was handled as a new conversation
        assert s.get(InboundEvent, world["confirming"].id) is None
        assert s.get(InboundEvent, world["later"].id).state == "done"
        from storage.nlu_capture import pseudonym

        kept = {c.sender: c.text for c in s.scalars(select(NluCapture))}
        # the person's captures before the erasure are gone (the confirmation was never captured); the
        # message after it, and the other member's, stay
        assert kept == {pseudonym(ME, b"erasure-test"): "สวัสดีอีกครั้ง", pseudonym(f"line:{OTHER}", b"erasure-test"): "บอท ประชุมกี่โมง"}


async def test_an_erasure_cut_short_is_finished_after_a_restart_without_asking_rasa(sqlite_engine: Engine) -> None:
    from connectors.worker import Worker
    from storage.models.channels import InboundEvent
    from usecases.erasure import DONE_TEXT, ERASING

    world = _world(sqlite_engine)
    with session_scope(sqlite_engine) as s:
        s.get(Handoff, world["handoff_id"]).status = "released"
        for event in s.scalars(select(InboundEvent).where(InboundEvent.conversation == ME)):  # earlier turns were answered
            event.state = "done" if event.id < world["confirming"].id else event.state
        confirming = s.get(InboundEvent, world["confirming"].id)
        confirming.metadata_ = {**confirming.metadata_, ERASING: True}  # the gateway stopped after marking it
    rasa = RasaStub()
    asked: list[str] = []

    async def ask(sender: str, text: str, metadata: dict[str, Any], message_id: str | None = None, resumed: bool = False) -> Any:
        from connectors.rasa_client import RasaAnswer

        asked.append(text)
        return RasaAnswer([{"recipient_id": sender, "text": "สวัสดีครับ"}])

    rasa.ask = ask  # type: ignore[attr-defined]
    delivered: list[str | None] = []

    async def deliver(event: Event, replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        delivered.extend(r["text"] for r in replies)
        return []

    worker = Worker(sqlite_engine, rasa, deliver, poll_interval=0.05)  # type: ignore[arg-type]
    worker.start()
    try:
        done, later = worker.waiter(world["confirming"].id), worker.waiter(world["later"].id)
        worker.stored([ME])
        await asyncio.wait_for(done.wait(), 20)
        await asyncio.wait_for(later.wait(), 20)
    finally:
        await worker.stop()
    assert "ยืนยัน" not in asked and rasa.calls and DONE_TEXT in delivered
    assert found(sqlite_engine, [PHONE, DETAILS, "0812345678"]) == []
    with session_scope(sqlite_engine) as s:
        assert s.get(InboundEvent, world["confirming"].id) is None and s.scalars(select(ServiceRequest)).one().anonymised

"""Side-effecting actions act once per user message (actions/idempotency.py), on SQLite and PostgreSQL.

Rasa asks an action again for the same message when it (or the action server) died after
the action committed and before the turn was saved; the gateway then resumes the message
with the same id. The second run must give the same answer and change nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from rasa_sdk import Tracker
from sqlalchemy import Engine, func, select

from actions import db
from actions import idempotency
from actions.handoff import ActionHumanHandoff
from actions.requests import ActionCancelRequest, ActionSubmitRequest
from storage.db import session_scope
from storage.effects import EffectKey, erase_effects, find_effect, purge_effects
from storage.models.base import utcnow
from storage.models.effects import ActionEffect
from storage.models.outbox import Outbox
from storage.models.services import Handoff, ServiceRequest
from storage.officials import link_group, register_official
from storage.services import load_catalog
from tests.services.conftest import AGENCY_GROUP, run, tracker

FILLED = {"service": "ไฟถนนดับ", "request_details": "ไฟดับทั้งซอยสามคืน", "request_contact": "-",
          "request_location": {"latitude": 13.75, "longitude": 100.5, "address": "ซอยสุขใจ 5"}, "request_confirm": True}


@pytest.fixture
def effects_db(db_engine: Engine) -> Iterator[Engine]:
    db.use_engine(db_engine)
    with session_scope(db_engine) as s:
        load_catalog(s)
        register_official(s, channel="telegram", user_id="901", agency="องค์กรปกครองส่วนท้องถิ่น", role="coordinator", display_name="ปลัด")
        link_group(s, channel="telegram", chat_id=AGENCY_GROUP, agency="องค์กรปกครองส่วนท้องถิ่น")
    yield db_engine
    db.use_engine(None)


def with_id(t: Tracker, message_id: str | None) -> Tracker:
    if message_id is not None:
        t.latest_message["message_id"] = message_id
    return t


def confirm(message_id: str | None, user: str = "U1") -> Tracker:
    return with_id(tracker("ยืนยัน", "affirm", user_id=user, slots=dict(FILLED)), message_id)


def count(engine: Engine, model: type, *where: Any) -> int:
    with session_scope(engine) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_the_same_message_files_one_request_and_gets_the_same_answer(effects_db: Engine) -> None:
    first_messages, first_events = run(ActionSubmitRequest(), confirm("line-7-1700000000000000"))
    again_messages, again_events = run(ActionSubmitRequest(), confirm("line-7-1700000000000000"))
    assert first_messages[0]["response"] == "utter_request_filed" and first_messages[0]["request_id"].startswith("REQ-")
    assert again_messages == first_messages and again_events == first_events
    assert count(effects_db, ServiceRequest) == 1
    # the officials' group is told once
    assert count(effects_db, Outbox, Outbox.kind == "request_routed") == 1
    assert count(effects_db, ActionEffect) == 1


def test_another_message_or_no_message_id_acts_again(effects_db: Engine) -> None:
    codes = {run(ActionSubmitRequest(), confirm("line-7-1"))[0][0]["request_id"],
             run(ActionSubmitRequest(), confirm("line-8-2"))[0][0]["request_id"],
             run(ActionSubmitRequest(), confirm(None))[0][0]["request_id"],
             run(ActionSubmitRequest(), confirm(None))[0][0]["request_id"]}
    assert len(codes) == 4 and count(effects_db, ServiceRequest) == 4
    assert count(effects_db, ActionEffect) == 2  # nothing is recorded without an id


def test_the_same_message_id_in_another_conversation_is_another_message(effects_db: Engine) -> None:
    run(ActionSubmitRequest(), confirm("m-1", user="U1"))
    run(ActionSubmitRequest(), confirm("m-1", user="U2"))
    assert count(effects_db, ServiceRequest) == 2


def test_two_attempts_racing_commit_once_and_the_loser_answers_as_the_winner(effects_db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loser did not see the winner's row when it looked, acted, and fails on the unique key at commit."""
    winner_messages, winner_events = run(ActionSubmitRequest(), confirm("line-9-9"))
    looks = {"n": 0}
    real_find = idempotency.find_effect

    def blind_first_look(session: Any, key: EffectKey) -> Any:
        looks["n"] += 1
        return None if looks["n"] == 1 else real_find(session, key)

    monkeypatch.setattr(idempotency, "find_effect", blind_first_look)
    loser_messages, loser_events = run(ActionSubmitRequest(), confirm("line-9-9"))
    assert looks["n"] == 2  # looked, acted, lost at commit, looked again
    assert (loser_messages, loser_events) == (winner_messages, winner_events)
    assert count(effects_db, ServiceRequest) == 1 and count(effects_db, Outbox, Outbox.kind == "request_routed") == 1


def test_a_cancel_asked_again_says_cancelled_not_already_closed(effects_db: Engine) -> None:
    code = run(ActionSubmitRequest(), confirm("file-1"))[0][0]["request_id"]
    cancel = {"entity": "request_id", "value": code, "start": 0, "end": len(code)}
    ask = lambda: with_id(tracker(f"ยกเลิก {code}", "cancel_request", entities=[cancel]), "cancel-1")  # noqa: E731
    first, _ = run(ActionCancelRequest(), ask())
    again, _ = run(ActionCancelRequest(), ask())
    assert first[0]["response"] == "utter_request_cancelled" and again == first
    fresh, _ = run(ActionCancelRequest(), with_id(tracker(f"ยกเลิก {code}", "cancel_request", entities=[cancel]), "cancel-2"))
    assert fresh[0]["response"] == "utter_request_already_closed"  # a new message is a new attempt


def test_a_handoff_asked_again_starts_one_handoff(effects_db: Engine) -> None:
    run(ActionSubmitRequest(), confirm("file-1"))
    first, _ = run(ActionHumanHandoff(), with_id(tracker("ขอคุยกับเจ้าหน้าที่", "human_handoff"), "handoff-1"))
    told = count(effects_db, Outbox, Outbox.cause_type == "handoff")
    again, _ = run(ActionHumanHandoff(), with_id(tracker("ขอคุยกับเจ้าหน้าที่", "human_handoff"), "handoff-1"))
    assert first[0]["response"] == "utter_handoff_started" and again == first  # not "already handed over"
    assert count(effects_db, Handoff) == 1
    assert told >= 1 and count(effects_db, Outbox, Outbox.cause_type == "handoff") == told  # the officials are told once


def test_an_error_inside_the_action_keeps_nothing(effects_db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import actions.requests as requests_actions

    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(requests_actions, "create_request", broken)
    with pytest.raises(RuntimeError):
        run(ActionSubmitRequest(), confirm("line-1-1"))
    assert count(effects_db, ActionEffect) == 0 and count(effects_db, ServiceRequest) == 0
    monkeypatch.undo()
    db.use_engine(effects_db)
    messages, _ = run(ActionSubmitRequest(), confirm("line-1-1"))  # the retry files it
    assert messages[0]["response"] == "utter_request_filed" and count(effects_db, ServiceRequest) == 1


def test_answers_are_purged_after_the_retry_window_and_erased_with_the_person(effects_db: Engine) -> None:
    run(ActionSubmitRequest(), confirm("a", user="U1"))
    run(ActionSubmitRequest(), confirm("b", user="U2"))
    with session_scope(effects_db) as s:
        assert purge_effects(s, now=utcnow()) == 0
        assert purge_effects(s, now=utcnow() + timedelta(days=3)) == 2
    run(ActionSubmitRequest(), confirm("c", user="U1"))
    run(ActionSubmitRequest(), confirm("d", user="U2"))
    with session_scope(effects_db) as s:
        assert erase_effects(s, ["line:U1"]) == 1
        assert find_effect(s, EffectKey("action_submit_request", "line:U2", "d")) is not None
        assert find_effect(s, EffectKey("action_submit_request", "line:U1", "c")) is None


def test_pdpa_erasure_takes_the_kept_answers_too(effects_db: Engine) -> None:
    from storage.privacy import erase
    from storage.requests import Citizen

    run(ActionSubmitRequest(), confirm("a", user="U1"))
    run(ActionSubmitRequest(), confirm("b", user="U2"))
    with session_scope(effects_db) as s:
        erase(s, Citizen(key="line:U1", channel="line", reply_to="U1"), "line:U1")
    assert count(effects_db, ActionEffect, ActionEffect.conversation == "line:U1") == 0
    assert count(effects_db, ActionEffect, ActionEffect.conversation == "line:U2") == 1


def test_an_officials_command_asked_again_after_a_gateway_restart_reports_once(effects_db: Engine) -> None:
    """The gateway stopped after `/obstacle` committed but before the message was done: the next gateway runs it again."""
    from storage.inbound import store_new_event
    from storage.models.opengov import ObstacleReport
    from usecases.admin_commands import answer_command

    event = store_new_event(effects_db, channel="telegram", external_id="cmd-7", conversation=f"telegram:{AGENCY_GROUP}",
                            kind="admin_command", text="/obstacle ใบอนุญาตก่อสร้าง ใช้เวลาพิจารณานานเกินไป",
                            metadata={"channel": "telegram", "chat_id": AGENCY_GROUP, "chat_type": "group", "user_id": "901",
                                      "display_name": "ปลัด"})
    assert event is not None
    first = answer_command(effects_db, event)
    again = answer_command(effects_db, event)
    assert first.startswith("บันทึกรายงานว่า") and again == first
    assert count(effects_db, ObstacleReport) == 1

"""Per-member conversations in groups, seen from the actions: the sender id names the member, the
group is still where answers go and what the group is linked to; a low-confidence official's line
with an ID is read by the ID."""

from __future__ import annotations

from rasa_sdk import Tracker

from actions.identity import speaker_of
from actions.officials import ActionFallback
from common.ids import sender_id
from tests.officials.test_issue19_sentences import GROUP, _request, ent, run, tracker, world  # noqa: F401 - fixture


def _member_tracker(text: str, user_id: str, **kwargs) -> Tracker:  # type: ignore[no-untyped-def]
    t = tracker(text, "nlu_fallback", user_id, **kwargs)
    t.sender_id = sender_id("telegram", GROUP, "supergroup", user_id)
    return t


def test_the_speaker_is_the_member_and_answers_go_to_the_group() -> None:
    t = Tracker(sender_id("telegram", "-1009", "supergroup", "77"), {}, {"text": "งานค้าง"}, [], False, None, {}, "")
    speaker = speaker_of(t)  # no metadata at all: read from the per-member sender id
    assert (speaker.channel, speaker.user_id, speaker.chat_id, speaker.in_group) == ("telegram", "77", "-1009", True)
    line = Tracker(sender_id("line", "Cgroup", "group", "Uabc"), {}, {"text": "สวัสดี"}, [], False, None, {}, "")
    assert (speaker_of(line).user_id, speaker_of(line).chat_id, speaker_of(line).in_group) == ("Uabc", "Cgroup", True)


def test_a_low_confidence_official_line_with_a_request_id_updates_the_request(world) -> None:  # noqa: F811
    engine, code = world
    text = f"{code} ซ่อมเสร็จแล้วครับ เปลี่ยนหลอดใหม่ 2 ต้น"
    messages = run(ActionFallback(), _member_tracker(text, "31", entities=[ent(text, code, "request_id")]))
    assert messages[0]["response"] == "utter_request_status_updated", messages
    assert _request(engine)[:2] == ("completed", "เปลี่ยนหลอดใหม่ 2 ต้น")


def test_a_low_confidence_line_from_someone_not_an_official_gets_the_menu(world) -> None:  # noqa: F811
    engine, code = world
    messages = run(ActionFallback(), _member_tracker(f"{code} เสร็จแล้วครับ", "999"))
    assert [m["response"] for m in messages] == ["utter_fallback"]
    assert _request(engine)[0] == "submitted"


def test_a_low_confidence_line_without_an_id_gets_the_menu(world) -> None:  # noqa: F811
    messages = run(ActionFallback(), _member_tracker("อะไรนะครับ งงเลย", "31"))
    assert [m["response"] for m in messages] == ["utter_fallback"]


def test_a_low_confidence_official_line_with_a_task_id_is_a_task_update(world) -> None:  # noqa: F811
    messages = run(ActionFallback(), _member_tracker("T-999 เสร็จละ", "31"))
    assert messages[0]["response"] == "utter_task_not_found", messages

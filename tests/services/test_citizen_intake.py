"""Intake that keeps what people say, forms that do not trap them, natural confirmations and photos (issue #18)."""

from __future__ import annotations

from rasa_sdk import Tracker
from sqlalchemy import select

from actions.privacy import ActionPrivacyRequest, ValidateEraseForm
from actions.requests import ActionAffirmInContext, ActionCancelRequest, ActionDenyInContext, ActionReceivePhoto, ActionSubmitRequest
from storage.db import session_scope
from storage.models.outbox import Outbox
from storage.models.services import RequestHistory, ServiceRequest
from tests.services.conftest import AGENCY_GROUP, run, run_async, tracker
from tests.services.test_service_actions import DOMAIN_DICT, form_tracker, validate

REPORT = "ไฟถนนหน้าบ้านดับค่ะ มืดมากกก ๓ คืนแล้ว😢 อยากให้มาซ่อมหน่อย"


def _start(text: str, intent: str = "request_service", **kw):  # type: ignore[no-untyped-def]
    return validate(tracker(text, intent, slots={"requested_slot": None}, active_loop="request_form", **kw))


def test_the_first_message_gives_the_service_and_is_kept_as_the_details(services_db) -> None:
    messages, slots = _start(REPORT)
    assert slots["service"] == "ไฟถนนดับ" and slots["request_details"] == REPORT
    assert not any(m.get("response") in ("utter_request_service_unknown", "utter_ask_service") for m in messages)


def test_a_bare_filing_keeps_the_service_and_asks_for_details(services_db) -> None:
    _, slots = _start("ขอแจ้งไฟทางดับครับ")
    assert slots["service"] == "ไฟถนนดับ" and "request_details" not in slots


def test_a_stray_entity_does_not_hide_the_service_in_the_words(services_db) -> None:
    text = "ข้างบ้านเปิดเพลงดังมากตอนดึก อยากร้องเรียน"
    _, slots = _start(text, entities=[{"entity": "service", "value": "อายุ", "start": 0, "end": 4}])
    assert slots["service"] == "เหตุเดือดร้อนรำคาญ" and slots["request_details"] == text


def test_a_benefit_question_is_answered_not_filed(services_db) -> None:
    messages, slots = _start("แม่อายุ60แล้ว ลงทะเบียนเบี้ยคนแก่ที่ไหนครับ")
    assert messages[0]["custom"]["cards"][0]["title"] == "เบี้ยยังชีพผู้สูงอายุ"
    assert slots["requested_slot"] is None and slots["request_confirm"] == "answered"
    messages, events = run(ActionSubmitRequest(), tracker("x", slots={"request_confirm": "answered", "request_stopped": True}))
    assert messages == [] and all(e["value"] is None for e in events)


def test_a_question_inside_the_form_is_answered_and_the_form_goes_on(services_db) -> None:
    messages, slots = validate(form_tracker("ต้องใช้เอกสารอะไรบ้างคะ", "request_location", {"service": "ไฟถนนดับ", "request_details": "ดับ"},
                                            intent="ask_service_info"))
    assert messages[0]["custom"]["cards"][0]["title"] == "ไฟถนนดับ"
    assert "request_location" not in slots and slots["request_stopped"] is False
    messages, slots = validate(form_tracker("ทำพาสปอร์ตใช้อะไรบ้าง", "request_contact", {"service": "ไฟถนนดับ"}, intent="ask_service_info",
                                            entities=[{"entity": "service", "value": "หนังสือเดินทาง"}]))
    assert messages[0]["custom"]["cards"][0]["title"] == "หนังสือเดินทาง" and "request_contact" not in slots


def test_details_that_merely_mention_money_are_still_details(services_db) -> None:
    long = "ไฟดับหน้าบ้านมาสามคืนแล้ว ไม่รู้ว่าต้องเสียเงินซ่อมเท่าไหร่ แต่ตอนนี้มืดมากจนเดินไม่ได้เลย กลัวโจรขึ้นบ้าน"
    _, slots = validate(form_tracker(long, "request_details", {"service": "ไฟถนนดับ"}))
    assert slots["request_details"] == long


def test_a_change_of_mind_changes_the_service(services_db) -> None:
    messages, slots = validate(form_tracker("เปลี่ยนเป็นแจ้งถนนชำรุดแทนครับ", "request_location", {"service": "ไฟถนนดับ", "request_details": "ดับ"}))
    assert slots["service"] == "ถนนชำรุด" and slots["request_details"] is None
    assert "ถนนชำรุด" in messages[0]["text"]


def test_the_phone_is_edited_at_the_confirmation_card(services_db) -> None:
    slots_before = {"service": "ไฟถนนดับ", "request_details": "ดับ", "request_location": {"address": "ซอย 5"}, "request_contact": "0812345678"}
    messages, slots = validate(form_tracker("เปลี่ยนเบอร์เป็น 089-765-4321 ค่ะ", "request_confirm", slots_before))
    assert slots["request_contact"] == "0897654321" and slots["request_confirm"] is None
    _, slots = validate(form_tracker("ขอแก้รายละเอียดหน่อย", "request_confirm", slots_before))
    assert slots["request_details"] is None
    _, slots = validate(form_tracker("ยืนยันค่ะ", "request_confirm", slots_before, intent="affirm"))
    assert slots["request_confirm"] is True


def _photo_tracker(text: str, requested: str | None, message_id: str = "4711", **slots):  # type: ignore[no-untyped-def]
    t = form_tracker(text, requested, slots) if requested else tracker(text, "share_photo")
    t.latest_message["metadata"]["photo"] = {"provider": "line", "message_id": message_id}
    return t


def test_a_photo_in_the_form_is_kept_and_filed_with_the_request(services_db) -> None:
    messages, slots = validate(_photo_tracker("/share_photo", "request_location", service="ไฟถนนดับ", request_details="ดับ"))
    assert slots["request_photos"] == [{"provider": "line", "message_id": "4711"}] and "ได้รับรูป" in messages[0]["text"]
    filled = {"service": "ไฟถนนดับ", "request_details": "ไฟดับ", "request_location": {"address": "ซอย 5"}, "request_contact": "-",
              "request_confirm": True, "request_photos": slots["request_photos"]}
    messages, _ = run(ActionSubmitRequest(), tracker("ยืนยัน", "affirm", slots=filled))
    with session_scope(services_db) as s:
        request = s.scalars(select(ServiceRequest)).one()
        assert [h.note for h in request.history if h.action == "attachment"] == ["line-image:4711"]
        routed = s.scalars(select(Outbox).where(Outbox.kind == "request_routed", Outbox.recipient == AGENCY_GROUP)).one()
        assert "รูปประกอบ 1 รูป" in str(routed.payload.get("custom"))


def test_a_photo_right_after_filing_is_attached_and_the_agency_told(services_db) -> None:
    filled = {"service": "ไฟถนนดับ", "request_details": "ไฟดับ", "request_location": {"address": "ซอย 5"}, "request_contact": "-", "request_confirm": True}
    code = run(ActionSubmitRequest(), tracker("ยืนยัน", "affirm", slots=filled))[0][0]["request_id"]
    messages, _ = run(ActionReceivePhoto(), _photo_tracker("/share_photo", None, "99"))
    assert code in messages[0]["text"]
    with session_scope(services_db) as s:
        assert s.scalars(select(RequestHistory.note).where(RequestHistory.action == "attachment")).all() == ["line-image:99"]
        assert s.scalars(select(Outbox).where(Outbox.kind == "request_attachment", Outbox.recipient == AGENCY_GROUP)).one()
    messages, _ = run(ActionReceivePhoto(), tracker("/share_photo", "share_photo", user_id="U2"))
    assert "แจ้งเรื่อง" in messages[0]["text"]  # no request of this person: a polite note, nothing attached


def _after_bot(bot_text: str, text: str, intent: str) -> Tracker:
    t = tracker(text, intent)
    user = t.events[-1]
    t.events[:] = [{"event": "user", "text": "ขอยกเลิกคำร้อง"}, {"event": "bot", "text": bot_text}, user]
    return t


def test_a_natural_yes_to_the_cancel_question_cancels_that_request(services_db) -> None:
    filled = {"service": "ไฟถนนดับ", "request_details": "ไฟดับ", "request_location": {"address": "ซอย 5"}, "request_contact": "-", "request_confirm": True}
    code = run(ActionSubmitRequest(), tracker("ยืนยัน", "affirm", slots=filled))[0][0]["request_id"]
    asked = f"ต้องการยกเลิกคำร้อง {code} (ไฟถนนดับ) ใช่ไหมครับ"
    messages, _ = run(ActionDenyInContext(), _after_bot(asked, "ไม่ใช่ค่ะ", "deny"))
    assert "ไม่ยกเลิก" in messages[0]["text"]
    messages, _ = run(ActionCancelRequest(), _after_bot(asked, "ไม่ยกเลิกแล้วค่ะ", "cancel_request"))
    assert "ไม่ยกเลิก" in messages[0]["text"]
    messages, _ = run(ActionAffirmInContext(), _after_bot("มีอะไรให้ช่วยอีกไหมครับ", "ใช่ค่ะ", "affirm"))
    assert messages[0]["response"] == "utter_anything_else"
    messages, _ = run(ActionAffirmInContext(), _after_bot(asked, "ค่ะ", "affirm"))
    assert messages[0]["response"] == "utter_request_cancelled" and messages[0]["request_id"] == code


def test_someone_else_cannot_cancel_by_quoting_the_question(services_db) -> None:
    filled = {"service": "ไฟถนนดับ", "request_details": "ไฟดับ", "request_location": {"address": "ซอย 5"}, "request_contact": "-", "request_confirm": True}
    code = run(ActionSubmitRequest(), tracker("ยืนยัน", "affirm", slots=filled))[0][0]["request_id"]
    t = _after_bot(f"ต้องการยกเลิกคำร้อง {code} (ไฟถนนดับ) ใช่ไหมครับ", "ใช่", "affirm")
    t.latest_message["metadata"].update(user_id="U9", chat_id="U9")
    messages, _ = run(ActionAffirmInContext(), t)
    assert messages[0]["response"] == "utter_request_not_found"


def _erase(text: str, intent: str, confidence: float = 0.97):  # type: ignore[no-untyped-def]
    import asyncio

    from rasa_sdk.executor import CollectingDispatcher

    t = tracker(text, intent, slots={"requested_slot": "erase_confirm"}, active_loop="erase_form")
    t.latest_message["intent"]["confidence"] = confidence
    return asyncio.run(ValidateEraseForm().extract_erase_confirm(CollectingDispatcher(), t, {}))


def test_natural_answers_at_the_erasure_question() -> None:
    for text in ("ไม่ลบแล้วค่ะ", "ยังไม่ลบดีกว่า", "เปลี่ยนใจแล้วค่ะ เก็บไว้ก่อน"):
        assert _erase(text, "delete_my_data") == {"erase_confirm": False}, text
    for text in ("ลบเลยค่ะ", "ลบได้เลยครับ"):
        assert _erase(text, "delete_my_data") == {"erase_confirm": True}, text
    assert _erase("ทำพาสปอร์ตใช้อะไรบ้าง", "ask_service_info") == {"erase_confirm": "other"}
    assert _erase("อืม", "nlu_fallback", 0.4) == {"erase_confirm": "unclear"}


def test_a_pdpa_law_question_is_not_an_erasure(services_db) -> None:
    _, events = run(ActionPrivacyRequest(), tracker("แล้ว pdpa ล่ะครับ", "delete_my_data"))
    assert {"event": "followup", "timestamp": None, "name": "action_search_law"} in events
    _, events = run(ActionPrivacyRequest(), tracker("ลบข้อมูลของฉัน", "delete_my_data"))
    assert events == [{"event": "slot", "timestamp": None, "name": "privacy_mode", "value": "erase"}]


def test_line_photos_reach_the_bot_in_private_chats_only() -> None:
    from linebot.v3.webhooks import MessageContent, MessageEvent, UserSource

    from connectors.line import PHOTO_PAYLOAD, LineChannel

    event = MessageEvent(source=UserSource(userId="U1"), timestamp=0, mode="active", webhookEventId="e", replyToken="r",
                         deliveryContext={"isRedelivery": False}, message=MessageContent(type="image", id="4711"))
    channel = LineChannel.__new__(LineChannel)
    channel.triggers = ["บอท"]
    kind, text, extra = channel._kind_text(event, "private")
    assert (kind, text, extra) == ("message", PHOTO_PAYLOAD, {"photo": {"provider": "line", "message_id": "4711"}})
    assert channel._kind_text(event, "group")[0] is None


def test_filing_needs_a_real_yes(services_db) -> None:
    filled = {"service": "ไฟถนนดับ", "request_details": "ดับ", "request_location": {"address": "ซอย 5"}, "request_contact": "-"}
    messages, slots = validate(form_tracker("อืมม", "request_confirm", filled, intent="affirm"))
    assert slots["request_confirm"] is None and messages[0]["response"] == "utter_confirm_unclear"
    _, slots = validate(form_tracker("ได้เลยค่ะ", "request_confirm", filled, intent="affirm"))
    assert slots["request_confirm"] is True


def test_a_question_about_a_report_service_shows_its_card_and_files_nothing(services_db) -> None:
    messages, slots = _start("แจ้งไฟถนนดับต้องใช้อะไรบ้าง")
    assert messages[0]["custom"]["cards"][0]["title"] == "ไฟถนนดับ" and slots["request_confirm"] == "answered"


def test_more_about_the_problem_at_the_place_question_is_kept_as_details(services_db) -> None:
    slots_before = {"service": "น้ำประปาไม่ไหล", "request_details": "น้ำประปาไม่ไหลตั้งแต่เมื่อวานค่ะ ทั้งหมู่บ้านเลย"}
    messages, slots = validate(form_tracker("น้ำไม่ไหลตั้งแต่เมื่อวานเช้า ทั้งหมู่ 4 ไม่มีน้ำใช้เลยค่ะ", "request_location", slots_before))
    assert "request_location" not in slots and slots["request_details"].endswith("ไม่มีน้ำใช้เลยค่ะ")
    _, slots = validate(form_tracker("ซอยวัดใหม่ 12 ต.ในเมือง", "request_location", slots_before))
    assert slots["request_location"] == {"address": "ซอยวัดใหม่ 12 ต.ในเมือง"}


def test_a_generic_word_read_as_a_service_names_no_service(services_db) -> None:
    """The classifier may mark "ร้องเรียน" or "ใบอนุญาต" as the service entity and the synonym mapper turn it into
    a real service ("ร้องเรียนการทุจริต"): the word names no service, so nothing is guessed."""
    from actions.services import latest_entity

    complaint = [{"entity": "service", "start": 4, "end": 13, "value": "ร้องเรียนการทุจริต"}]
    t = tracker("อยากร้องเรียนค่ะ", "request_service", entities=complaint)
    assert latest_entity(t, "service") is None
    permit = [{"entity": "service", "start": 2, "end": 10, "value": "ใบอนุญาต"}]
    assert latest_entity(tracker("ขอใบอนุญาตเลี้ยงจระเข้ใช้อะไรบ้าง", "ask_service_info", entities=permit), "service") is None
    named = [{"entity": "service", "start": 2, "end": 9, "value": "บัตรประจำตัวประชาชน"}]
    assert latest_entity(tracker("ทำบัตรปชชใหม่", "ask_service_info", entities=named), "service") == "บัตรประจำตัวประชาชน"
    # in the form: the service is still asked for
    _, slots = validate(form_tracker("อยากร้องเรียนค่ะ", "service", {}, entities=complaint))
    assert slots.get("service") is None

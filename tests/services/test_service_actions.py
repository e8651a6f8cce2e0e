"""Citizen-service actions with trackers shaped like Rasa's: info, the request form, tracking, rating, PDPA, handoff."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from actions.handoff import ActionHumanHandoff
from actions.privacy import ActionEraseMyData, ActionPrivacyRequest, ValidateEraseForm
from actions.request_handling import ActionUpdateRequestStatus
from actions.requests import (
    ActionAskRequestConfirm,
    ActionCancelRequest,
    ActionCheckRequestStatus,
    ActionRateService,
    ActionSubmitRequest,
    ValidateRequestForm,
)
from actions.services import ActionServiceInfo
from storage.db import session_scope
from storage.models.outbox import Outbox
from storage.models.services import Handoff, ServiceRequest
from tests.services.conftest import AGENCY_GROUP, ent, recorded, run, tracker

DOMAIN_DIR = Path(__file__).resolve().parents[2] / "bot" / "domain"
SERVICES, REQUESTS = (yaml.safe_load((DOMAIN_DIR / name).read_text(encoding="utf-8")) for name in ("services.yml", "requests.yml"))
FORM = {"request_form": REQUESTS["forms"]["request_form"]}
DOMAIN_DICT = {"forms": FORM, "slots": SERVICES["slots"] | REQUESTS["slots"]}


def validate(t) -> tuple[list[dict], dict]:  # type: ignore[no-untyped-def]
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    events = asyncio.run(ValidateRequestForm().run(dispatcher, t, DOMAIN_DICT))
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def form_tracker(text: str, requested: str, slots: dict | None = None, **kw):  # type: ignore[no-untyped-def]
    return tracker(text, kw.pop("intent", "inform"), slots={"requested_slot": requested, **(slots or {})}, active_loop="request_form", **kw)


# --- service information ---------------------------------------------------


def test_passport_information_comes_from_the_catalog(services_db) -> None:
    text = "ทำพาสปอร์ตต้องใช้อะไรบ้าง"
    messages, events = run(ActionServiceInfo(), tracker(text, "ask_service_info", entities=[ent(text, "พาสปอร์ต", "service", "หนังสือเดินทาง")]))
    card = messages[0]["custom"]["cards"][0]
    assert card["title"] == "หนังสือเดินทาง" and card["subtitle"] == "กรมการกงสุล"
    from storage.services import seed_services

    documents = next(x["documents"] for x in seed_services() if x["name"] == "หนังสือเดินทาง")
    assert [f"• {d}" for d in documents] == [line for line in card["lines"] if line.startswith("• ")]
    assert any(label == "ค่าธรรมเนียม" for label, _ in card["fields"])
    assert events == [{"event": "slot", "timestamp": None, "name": "service", "value": "หนังสือเดินทาง"}]


def test_service_found_from_words_and_typos_without_an_entity(services_db) -> None:
    for text in ("ต่ออายุใบขับขี่ต้องทำยังไง", "ใบขับขี"):
        messages, _ = run(ActionServiceInfo(), tracker(text, "ask_service_info"))
        assert messages[0]["custom"]["cards"][0]["title"] == "ใบขับขี่", text


def test_unknown_service_says_so(services_db) -> None:
    messages, events = run(ActionServiceInfo(), tracker("ขอใบอนุญาตขับยานอวกาศ", "ask_service_info"))
    assert messages[0]["response"] == "utter_service_unknown" and events == []


# --- the request form ------------------------------------------------------


@pytest.mark.parametrize("requested", ["service", "request_details", "request_location", "request_contact", "request_confirm"])
@pytest.mark.parametrize("text", ["ยกเลิก", "ไม่เอาแล้วครับ", "/cancel_request"])
def test_stop_words_end_the_form_at_every_step(services_db, requested, text) -> None:
    _, slots = validate(form_tracker(text, requested, {"service": "ไฟถนนดับ"}, intent="out_of_scope"))
    assert slots == {"request_stopped": True, "requested_slot": None}


def test_details_must_be_words_and_are_capped(services_db) -> None:
    messages, slots = validate(form_tracker("😡😡😡🔥", "request_details", {"service": "ไฟถนนดับ"}))
    assert slots["request_details"] is None and messages[0]["response"] == "utter_details_too_short"
    _, slots = validate(form_tracker("ก" * 5000, "request_details", {"service": "ไฟถนนดับ"}))
    assert len(slots["request_details"]) == 1000


def test_a_line_location_message_fills_the_location(services_db) -> None:
    location = {"latitude": 13.7563, "longitude": 100.5018, "address": "ถนนราชดำเนิน กรุงเทพฯ", "title": ""}
    _, slots = validate(form_tracker("ถนนราชดำเนิน กรุงเทพฯ", "request_location", {"service": "ไฟถนนดับ"}, location=location))
    assert slots["request_location"]["latitude"] == 13.7563
    _, slots = validate(form_tracker("หน้าโรงเรียนวัดสามัคคี ซอย 5", "request_location", {"service": "ไฟถนนดับ"}))
    assert slots["request_location"] == {"address": "หน้าโรงเรียนวัดสามัคคี ซอย 5"}
    messages, slots = validate(form_tracker("👍", "request_location", {"service": "ไฟถนนดับ"}))
    assert slots["request_location"] is None and "ตำแหน่ง" in messages[0]["text"]


def test_services_without_a_place_skip_the_location(services_db) -> None:
    from rasa_sdk.executor import CollectingDispatcher

    t = form_tracker("x", "service", {"service": "หนังสือเดินทาง"})
    slots = asyncio.run(ValidateRequestForm().required_slots(FORM["request_form"]["required_slots"], CollectingDispatcher(), t, DOMAIN_DICT))
    assert "request_location" not in slots
    t = form_tracker("x", "service", {"service": "ถนนชำรุด"})
    slots = asyncio.run(ValidateRequestForm().required_slots(FORM["request_form"]["required_slots"], CollectingDispatcher(), t, DOMAIN_DICT))
    assert "request_location" in slots


@pytest.mark.parametrize(("text", "expected"), [("081-234-5678", "0812345678"), ("๐๘๑๒๓๔๕๖๗๘", "0812345678"),
                                                ("somchai@example.com", "somchai@example.com"), ("ไม่ต้องครับ", "-")])
def test_contact_is_a_phone_an_email_or_none(services_db, text, expected) -> None:
    _, slots = validate(form_tracker(text, "request_contact", {"service": "ไฟถนนดับ"}))
    assert slots["request_contact"] == expected


def test_an_unclear_confirmation_asks_again(services_db) -> None:
    messages, slots = validate(form_tracker("อืม", "request_confirm", {"service": "ไฟถนนดับ"}))
    assert slots["request_confirm"] is None and messages[0]["response"] == "utter_confirm_unclear"
    _, slots = validate(form_tracker("ยืนยันครับ", "request_confirm", {"service": "ไฟถนนดับ"}))
    assert slots["request_confirm"] is True


def test_an_ambiguous_service_offers_choices(services_db) -> None:
    messages, slots = validate(form_tracker("ทะเบียน", "service"))
    assert slots["service"] is None
    assert messages and (messages[0]["response"] in ("utter_which_service", "utter_request_service_unknown"))


def test_the_confirmation_summary_then_filing(services_db) -> None:
    filled = {"service": "ไฟถนนดับ", "request_details": "ไฟดับทั้งซอยสามคืน", "request_contact": "-",
              "request_location": {"latitude": 13.75, "longitude": 100.5, "address": "ซอยสุขใจ 5"}}
    messages, _ = run(ActionAskRequestConfirm(), form_tracker("-", "request_confirm", filled))
    summary = dict(messages[0]["custom"]["cards"][0]["fields"])
    assert summary["หน่วยงานที่รับผิดชอบ"] == "องค์กรปกครองส่วนท้องถิ่น" and "ซอยสุขใจ 5" in summary["สถานที่"]
    messages, events = run(ActionSubmitRequest(), tracker("ยืนยัน", "affirm", slots={**filled, "request_confirm": True}))
    assert messages[0]["response"] == "utter_request_filed" and messages[0]["request_id"].startswith("REQ-")
    assert {e["name"] for e in events} >= {"service", "request_details", "request_confirm"}
    with session_scope(services_db) as s:
        request = s.scalars(select(ServiceRequest)).one()
        assert (request.citizen_key, request.channel, request.reply_to) == ("line:U1", "line", "U1")
        routed = s.scalars(select(Outbox).where(Outbox.kind == "request_routed")).one()
        assert routed.recipient == AGENCY_GROUP


def test_nothing_is_filed_when_declined_or_stopped(services_db) -> None:
    for slots in ({"service": "ไฟถนนดับ", "request_confirm": False}, {"service": "ไฟถนนดับ", "request_stopped": True}):
        messages, _ = run(ActionSubmitRequest(), tracker("ยกเลิก", "deny", slots=slots))
        assert messages[0]["response"] == "utter_request_not_filed"
    with session_scope(services_db) as s:
        assert s.scalars(select(ServiceRequest)).all() == []


def test_local_chat_citizens_get_notices_in_the_local_chat(services_db) -> None:
    slots = {"service": "ถนนชำรุด", "request_details": "ถนนเป็นหลุมลึก", "request_location": {"address": "ถนนมิตรภาพ กม.5"},
             "request_contact": "-", "request_confirm": True}
    run(ActionSubmitRequest(), tracker("ยืนยัน", "affirm", user_id="demo", slots=slots, via="local_chat"))
    with session_scope(services_db) as s:
        request = s.scalars(select(ServiceRequest)).one()
        assert (request.channel, request.reply_to, request.citizen_key) == ("web", "demo", "line:demo")


# --- tracking, cancelling, rating (recorded trackers) --------------------


def _file_for(user: str, service: str = "ไฟถนนดับ") -> str:
    slots = {"service": service, "request_details": "ไฟดับหน้าบ้าน", "request_location": {"address": "ซอยสุขใจ 5 หน้าบ้านเลขที่ 9"},
             "request_contact": "-", "request_confirm": True}
    messages, _ = run(ActionSubmitRequest(), tracker("ยืนยัน", "affirm", user_id=user, slots=slots))
    return messages[0]["request_id"]


def test_status_of_my_latest_request_in_thai(services_db) -> None:
    code = _file_for("U1")
    messages, _ = run(ActionCheckRequestStatus(), recorded("check_status_latest"))
    card = messages[0]["custom"]["cards"][0]
    assert card["title"] == f"คำร้อง {code}" and "ส่งเรื่องแล้ว" in dict(card["fields"])["สถานะ"]
    assert any("25" in line for line in card["lines"][1:])  # Buddhist-Era dates


def test_someone_elses_id_and_an_unknown_id_get_the_same_answer(services_db) -> None:
    theirs = _file_for("U2")
    answers = []
    for code in (theirs, "REQ-999999"):
        t = recorded("check_status_by_id", text=f"ติดตามคำร้อง {code}", entities=[{"entity": "request_id", "value": code, "start": 11, "end": 21}])
        answers.append(run(ActionCheckRequestStatus(), t)[0])
        answers.append(run(ActionCancelRequest(), tracker(f"ยกเลิก {code}", "cancel_request"))[0])
    assert all(a == [{"response": "utter_request_not_found", **{k: v for k, v in a[0].items() if k != "response"}}] for a in answers)
    assert {a[0]["response"] for a in answers} == {"utter_request_not_found"}
    with session_scope(services_db) as s:
        assert s.scalars(select(ServiceRequest)).one().status == "submitted"


def test_cancel_by_id_and_cancel_latest_asks_first(services_db) -> None:
    first, second = _file_for("U1"), _file_for("U1", "ถนนชำรุด")
    messages, _ = run(ActionCancelRequest(), tracker("ยกเลิกคำร้องล่าสุด", "cancel_request"))
    assert messages[0]["response"] == "utter_confirm_cancel" and messages[0]["request_id"] == second
    messages, _ = run(ActionCancelRequest(), tracker(f"ยกเลิก {first.lower().replace('-', '')}", "cancel_request"))
    assert messages[0]["response"] == "utter_request_cancelled"
    messages, _ = run(ActionCancelRequest(), tracker(f"ยกเลิก {first}", "cancel_request"))
    assert messages[0]["response"] == "utter_request_already_closed"


def test_rating_waits_for_completion(services_db) -> None:
    code = _file_for("U1")
    messages, _ = run(ActionRateService(), tracker(f"ให้ 5 ดาว {code}", "rate_service", entities=[{"entity": "rating", "value": "5"}]))
    assert messages[0]["response"] == "utter_rate_not_completed"
    official = tracker(f"{code} เสร็จสิ้น", "update_request_status", user_id="901", channel="telegram", chat_type="supergroup",
                       chat_id=AGENCY_GROUP, entities=[{"entity": "request_id", "value": code}, {"entity": "request_status", "value": "completed"}])
    messages, _ = run(ActionUpdateRequestStatus(), official)
    assert messages[0]["response"] == "utter_request_status_updated"
    messages, _ = run(ActionRateService(), tracker("ให้สองดาว บริการช้ามาก", "rate_service", entities=[{"entity": "rating", "value": "2"}]))
    assert messages[0]["response"] == "utter_rating_thanks" and messages[0]["rating"] == "2"


def test_citizens_and_other_agencies_cannot_move_requests(services_db) -> None:
    code = _file_for("U1")
    entities = [{"entity": "request_id", "value": code}, {"entity": "request_status", "value": "completed"}]
    citizen = tracker(f"{code} เสร็จสิ้น", "update_request_status", user_id="U1", entities=entities)
    assert run(ActionUpdateRequestStatus(), citizen)[0][0]["response"] == "utter_officials_only"
    land = tracker(f"{code} เสร็จสิ้น", "update_request_status", user_id="902", channel="telegram", chat_type="supergroup",
                   chat_id="-100600", entities=entities)
    assert run(ActionUpdateRequestStatus(), land)[0][0]["response"] == "utter_request_not_for_you"
    text = f"{code} ไม่อนุมัติ"
    reject = tracker(text, "update_request_status", user_id="901", channel="telegram", chat_type="supergroup",
                     chat_id=AGENCY_GROUP, entities=[ent(text, code, "request_id"), ent(text, "ไม่อนุมัติ", "request_status", "rejected")])
    assert run(ActionUpdateRequestStatus(), reject)[0][0]["response"] == "utter_reject_needs_reason"
    with session_scope(services_db) as s:
        assert s.scalars(select(ServiceRequest)).one().status == "submitted"


def test_an_official_forwards_by_naming_an_agency(services_db) -> None:
    code = _file_for("U1")
    text = f"ส่งต่อ {code} ให้กรมที่ดิน เป็นที่ดินเอกชน"
    t = tracker(text, "update_request_status", user_id="901", channel="telegram", chat_type="supergroup", chat_id=AGENCY_GROUP,
                entities=[ent(text, code, "request_id"), ent(text, "กรมที่ดิน", "agency")])
    messages, _ = run(ActionUpdateRequestStatus(), t)
    assert messages[0]["response"] == "utter_request_forwarded" and messages[0]["agency"] == "กรมที่ดิน"


def test_new_details_the_classifier_reads_as_a_handoff_are_the_details(services_db) -> None:
    """Asked for new details, "ไฟดับสองต้น ตรงหัวมุมกับหน้าร้านยา" came back as human_handoff (0.51) and
    stopped the form: an answer to the question asked is the answer; only words asking for a person stop it."""
    from rasa_sdk import Tracker

    text = "ไฟดับสองต้น ตรงหัวมุมกับหน้าร้านยา"
    md = {"channel": "line", "user_id": "U1", "chat_id": "U1", "chat_type": "private"}
    latest = {"text": text, "intent": {"name": "human_handoff", "confidence": 0.51}, "metadata": md,
              "entities": [{"entity": "service", "value": "ไฟฟ้าดับ", "start": 0, "end": 5}]}
    events = [{"event": "slot", "name": "service", "value": "ไฟถนนดับ"}, {"event": "user", "text": "ขอแก้รายละเอียดหน่อยค่ะ", "metadata": md},
              {"event": "slot", "name": "requested_slot", "value": "request_details"}, {"event": "user", "text": text, "metadata": md,
              "parse_data": latest}, {"event": "slot", "name": "service", "value": "ไฟฟ้าดับ"}]
    slots = {"service": "ไฟฟ้าดับ", "requested_slot": "request_details", "request_location": {"address": "ซอยสุขใจ 5"}, "request_contact": "-"}
    t = Tracker("line:U1", slots, latest, events, False, None, {"name": "request_form"}, "action_listen")
    _, set_now = validate(t)
    assert set_now.get("request_stopped") is not True and set_now.get("request_details") == text
    assert set_now.get("service", "ไฟถนนดับ") == "ไฟถนนดับ", "the service settled earlier stays"
    asks = dict(latest, text="ขอคุยกับเจ้าหน้าที่ได้ไหมคะ")
    _, set_now = validate(Tracker("line:U1", slots, asks, events[:3], False, None, {"name": "request_form"}, "action_listen"))
    assert set_now.get("request_stopped") is True, "asking for a person still stops the form"


def test_an_officials_rejection_whose_reason_sounds_like_a_report_updates_the_request(services_db) -> None:
    """The classifier may start the citizens' form on "REQ-… ไม่อนุมัติ เป็นไฟของหมู่บ้าน…ต้องซ่อมเอง":
    the form's first turn reads it as the official's update instead, and files nothing."""
    code = _file_for("U1")
    text = f"{code} ไม่อนุมัติครับ เป็นไฟของหมู่บ้านจัดสรร นิติบุคคลหมู่บ้านต้องซ่อมเอง"
    t = tracker(text, "request_service", user_id="901", channel="telegram", chat_type="supergroup", chat_id=AGENCY_GROUP,
                entities=[ent(text, code, "request_id")], slots={"requested_slot": None}, active_loop="request_form")
    messages, slots = validate(t)
    assert slots["requested_slot"] is None and slots["request_confirm"] == "answered", "the form ends; nothing to file"
    assert not any(m.get("response", "").startswith("utter_ask_") for m in messages)
    with session_scope(services_db) as s:
        rows = s.scalars(select(ServiceRequest)).all()
    assert len(rows) == 1 and rows[0].status == "rejected" and "นิติบุคคลหมู่บ้านต้องซ่อมเอง" in (rows[0].status_note or "")
    citizen = tracker(f"{code} ไม่อนุมัติ เพราะอะไรคะ", "request_service", user_id="U1", slots={"requested_slot": None},
                      active_loop="request_form", entities=[ent(f"{code} ไม่อนุมัติ เพราะอะไรคะ", code, "request_id")])
    _, slots = validate(citizen)
    assert slots.get("request_confirm") != "answered", "a citizen's message is not an official's update"


# --- PDPA and handoff ----------------------------------------------------


def test_export_lists_what_is_held_and_erase_needs_confirmation(services_db) -> None:
    code = _file_for("U1")
    messages, events = run(ActionPrivacyRequest(), tracker("ขอดูข้อมูลของฉันที่เก็บไว้", "delete_my_data"))
    assert messages[0]["response"] == "utter_privacy_export" and code in messages[0]["items"]
    assert "เก็บไว้ไม่เกิน 90 วัน" in messages[0]["items"] and "ปิดเรื่องแล้ว 90 วัน" in messages[0]["items"]  # the notice
    assert events[0]["value"] == "export"
    _, events = run(ActionPrivacyRequest(), tracker("ลบข้อมูลของฉัน", "delete_my_data"))
    assert events[0]["value"] == "erase"
    from rasa_sdk.executor import CollectingDispatcher

    for text, intent, expected in (("ยืนยัน", "affirm", True), ("ไม่ลบ", "deny", False), ("อะไรนะ", "out_of_scope", None)):
        t = tracker(text, intent, slots={"requested_slot": "erase_confirm"}, active_loop="erase_form")
        events = asyncio.run(ValidateEraseForm().run(CollectingDispatcher(), t, {"forms": {"erase_form": {"required_slots": ["erase_confirm"]}}, "slots": {}}))
        assert events[-1]["value"] is expected
    messages, _ = run(ActionEraseMyData(), tracker("ไม่ลบ", "deny", slots={"erase_confirm": False}))
    assert messages[0]["response"] == "utter_erase_kept"
    messages, events = run(ActionEraseMyData(), tracker("ยืนยัน", "affirm", slots={"erase_confirm": True}))
    # The action only records the decision: the gateway erases after the turn (usecases/erasure.py).
    assert messages[0]["custom"] == {"pdpa_erase": {"confirmed": True}}
    assert messages[1]["response"] == "utter_erase_done" and messages[1]["requests"] == "1"
    assert events == [{"event": "reset_slots", "timestamp": None}]
    with session_scope(services_db) as s:
        assert s.scalars(select(ServiceRequest)).one().citizen_key == "line:U1"  # nothing erased during the turn


def test_handoff_goes_to_the_agency_of_the_open_request(services_db) -> None:
    _file_for("U1")
    messages, _ = run(ActionHumanHandoff(), tracker("ขอคุยกับเจ้าหน้าที่", "human_handoff"))
    assert messages[0]["response"] == "utter_handoff_started" and messages[0]["agency"] == "องค์กรปกครองส่วนท้องถิ่น"
    messages, _ = run(ActionHumanHandoff(), tracker("ขอคุยกับเจ้าหน้าที่", "human_handoff"))
    assert messages[0]["response"] == "utter_handoff_already"
    with session_scope(services_db) as s:
        assert s.scalars(select(Handoff)).one().status == "open"
        assert s.scalars(select(Outbox).where(Outbox.kind == "handoff_started")).one().recipient == AGENCY_GROUP


def test_handoff_without_anyone_on_duty_gives_a_phone_number(services_db) -> None:
    messages, _ = run(ActionHumanHandoff(), tracker("ขอคุยกับคน", "human_handoff", user_id="U9"))
    assert messages[0]["response"] == "utter_handoff_nobody" and "contact" in messages[0]
    with session_scope(services_db) as s:
        assert s.scalars(select(Handoff)).one().status == "released"


def test_a_service_word_in_the_details_does_not_change_the_service(services_db) -> None:
    from rasa_sdk import Tracker

    text = "ไฟดับทั้งซอยมาสามคืนแล้ว"
    metadata = {"channel": "line", "user_id": "U1", "chat_id": "U1", "chat_type": "private"}
    latest = {"text": text, "intent": {"name": "request_service", "confidence": 0.99},
              "entities": [{"entity": "service", "value": "ไฟฟ้าดับ", "start": 0, "end": 5}], "metadata": metadata}
    events = [
        {"event": "slot", "name": "service", "value": "ไฟถนนดับ"},
        {"event": "slot", "name": "requested_slot", "value": "request_details"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": latest, "metadata": metadata},
        {"event": "slot", "name": "service", "value": "ไฟฟ้าดับ"},  # Rasa's global from_entity mapping
    ]
    slots = {"service": "ไฟฟ้าดับ", "requested_slot": "request_details"}
    t = Tracker("line:U1", slots, latest, events, False, None, {"name": "request_form"}, "action_listen")
    _, filled = validate(t)
    assert filled["service"] == "ไฟถนนดับ" and filled["request_details"] == text


def test_a_service_asked_about_earlier_is_not_assumed(services_db) -> None:
    t = tracker("อยากยื่นคำร้องครับ", "request_service", slots={"service": "หนังสือเดินทาง"}, active_loop="request_form")
    t.events.append({"event": "slot", "name": "service", "value": "หนังสือเดินทาง"})  # Rasa hands prefilled slots over
    messages, slots = validate(t)
    assert slots.get("service", "missing") is None and messages == []
    text = "แจ้งไฟถนนดับ"
    t = tracker(text, "request_service", slots={"service": "ไฟถนนดับ"}, active_loop="request_form",
                entities=[ent(text, "ไฟถนนดับ", "service")])
    _, slots = validate(t)
    assert slots.get("service", "ไฟถนนดับ") == "ไฟถนนดับ"


def test_asking_for_the_bot_back_when_no_handoff_is_open_starts_none(services_db) -> None:
    messages, _ = run(ActionHumanHandoff(), tracker("คุยกับบอท", "human_handoff", user_id="U8"))
    assert "กลับมาให้บริการ" in messages[0]["text"]
    with session_scope(services_db) as s:
        assert s.scalars(select(Handoff)).all() == []

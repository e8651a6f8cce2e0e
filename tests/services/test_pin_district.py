"""A pin shared without words (Telegram's never have an address): the district is asked with buttons and kept.

The nearest-district ranking reads approximate points (actions/places.py says what they are); the form keeps the pin
and merges the answer into its address, so routing names the district office and the agency card shows both.
"""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.places import BMA_DISTRICTS, DISTRICT_POINTS, NEAR_KM, district_answer, distance_km, nearest_districts
from actions.requests import ActionAskRequestConfirm, ActionAskRequestLocation, ActionSubmitRequest, ValidateRequestForm
from common.wording.requests import NOT_IN_BANGKOK, request_card
from tests.services.conftest import run, tracker
from tests.services.test_service_actions import DOMAIN_DICT, form_tracker, validate

# Well-known places (public facts, rounded) and the district each lies in.
LANDMARKS = [
    ((13.7663, 100.6427), "บางกะปิ"),  # The Mall Bangkapi
    ((13.7466, 100.5347), "ปทุมวัน"),  # Siam Paragon
    ((13.7500, 100.4913), "พระนคร"),  # the Grand Palace
    ((13.7996, 100.5500), "จตุจักร"),  # Chatuchak weekend market
    ((13.9126, 100.6067), "ดอนเมือง"),  # Don Mueang airport
    ((13.7278, 100.7522), "ลาดกระบัง"),  # KMITL
    ((13.7437, 100.4888), "บางกอกใหญ่"),  # Wat Arun
    ((13.8150, 100.8750), "หนองจอก"),
]
OUTSIDE = [(16.4322, 102.8236), (18.7883, 98.9853), (13.5991, 100.5966), (14.3532, 100.5684), (12.9236, 100.8825)]
PIN = {"latitude": 13.7663, "longitude": 100.6427, "address": "", "title": ""}  # as the Telegram connector sends it
KHON_KAEN = {"latitude": 16.4322, "longitude": 102.8236, "address": "", "title": ""}


# --- the nearest districts -------------------------------------------------


def test_every_district_has_points_and_they_lie_in_bangkok() -> None:
    assert set(DISTRICT_POINTS) == set(BMA_DISTRICTS)
    for name, points in DISTRICT_POINTS.items():
        for lat, lon in points:
            assert 13.49 < lat < 13.96 and 100.32 < lon < 100.95, name


@pytest.mark.parametrize(("pin", "district"), LANDMARKS)
def test_a_pin_offers_its_own_district_among_the_first_choices(pin: tuple[float, float], district: str) -> None:
    choices = nearest_districts(*pin)
    assert 1 <= len(choices) <= 4 and district in choices[:3], choices


@pytest.mark.parametrize("pin", OUTSIDE)
def test_a_pin_far_from_bangkok_offers_no_district(pin: tuple[float, float]) -> None:
    assert nearest_districts(*pin) == []


def test_the_cut_off_and_bad_numbers() -> None:
    assert distance_km((13.7, 100.5), (13.7, 100.5)) == 0
    assert 110 < distance_km((13.0, 100.5), (14.0, 100.5)) < 112  # one degree of latitude
    centre = DISTRICT_POINTS["หนองจอก"][0]
    assert nearest_districts(centre[0], centre[1] + (NEAR_KM + 1) / 108)[:1] == []  # east of the last point, beyond the cut-off
    assert nearest_districts(float("nan"), 100.5) == [] and nearest_districts("x", None) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "district"), [
    ("เขตบางกะปิ", "บางกะปิ"), ("บางกะปิค่ะ", "บางกะปิ"), ("วัฒนา", "วัฒนา"), ("อยู่เขตสาธรครับ", "สาทร"),
    ("กรุงเทพ", None), ("ขอนแก่น", None), ("ฮ่าๆๆ", None),
])
def test_a_short_answer_names_a_district(text: str, district: str | None) -> None:
    assert district_answer(text) == district


# --- the form ----------------------------------------------------------------

FILLED = {"service": "ไฟถนนดับ", "request_details": "ไฟถนนหน้าบ้านดับสามคืนแล้ว มืดมาก"}


def _moves_on(slots: dict) -> bool:
    """The form goes on to the contact (the SDK leaves the next slot to Rasa when the required slots are the domain's)."""
    return slots.get("requested_slot", "request_contact") == "request_contact"


def _ask(slots: dict) -> list[dict]:
    messages, _ = run(ActionAskRequestLocation(), form_tracker("-", "request_location", slots))
    return messages


def _next(slots: dict, text: str = "-") -> str | None:
    t = form_tracker(text, "request_location", slots)
    event = asyncio.run(ValidateRequestForm().next_requested_slot(CollectingDispatcher(), t, DOMAIN_DICT))
    return event["value"] if event else None


def test_a_pin_without_words_in_bangkok_is_kept_and_the_district_asked_with_buttons(services_db) -> None:
    _, slots = validate(form_tracker("ตำแหน่งที่ตั้ง", "request_location", FILLED, location=PIN))
    pin = slots["request_location"]
    assert (pin["latitude"], pin["longitude"], pin["ask_place"]) == (13.7663, 100.6427, "bangkok")
    assert slots["requested_slot"] == "request_location"  # asked again (not the contact yet)
    messages = _ask({**FILLED, "request_location": pin})
    titles = [b["title"] for b in messages[0]["buttons"]]
    assert "เขต" in messages[0]["text"] and titles[0] == "เขตบางกะปิ" and NOT_IN_BANGKOK in titles and "ข้าม" in titles
    assert all(b["payload"] == b["title"] for b in messages[0]["buttons"])  # words the citizen could type

    messages, slots = validate(form_tracker("เขตบางกะปิ", "request_location", {**FILLED, "request_location": pin}))
    settled = slots["request_location"]
    assert settled == {"latitude": 13.7663, "longitude": 100.6427, "address": "เขตบางกะปิ กรุงเทพมหานคร", "title": ""}
    assert "เขตบางกะปิ" in messages[0]["text"] and _moves_on(slots)


def test_the_district_picks_the_office_and_the_card_shows_the_map_and_the_district(services_db) -> None:
    from sqlalchemy import select

    from storage.db import session_scope
    from storage.models.services import ServiceRequest

    filled = {**FILLED, "request_contact": "-",
              "request_location": {"latitude": 13.7663, "longitude": 100.6427, "address": "เขตบางกะปิ กรุงเทพมหานคร", "title": ""}}
    messages, _ = run(ActionAskRequestConfirm(), form_tracker("-", "request_confirm", filled))
    summary = dict(messages[0]["custom"]["cards"][0]["fields"])
    assert summary["หน่วยงานที่รับผิดชอบ"] == "กรุงเทพมหานคร (สำนักงานเขตบางกะปิ)" and "13.76630" in summary["สถานที่"]
    messages, _ = run(ActionSubmitRequest(), tracker("ยืนยัน", "affirm", slots={**filled, "request_confirm": True}))
    assert messages[0]["agency"] == "กรุงเทพมหานคร (สำนักงานเขตบางกะปิ)"
    with session_scope(services_db) as s:
        request = s.scalars(select(ServiceRequest)).one()
        lines = "\n".join(request_card(request, "📥")["lines"])
    assert "maps.google.com/?q=13.7663,100.6427" in lines and "เขตบางกะปิ" in lines and "พื้นที่: สำนักงานเขตบางกะปิ" in lines
    assert not {"ask_place", "place_tries", "reply"} & set(request.location)


def test_a_bare_district_name_a_typed_amphoe_and_not_in_bangkok(services_db) -> None:
    pin = {**PIN, "ask_place": "bangkok", "place_tries": 0}
    _, slots = validate(form_tracker("วัฒนาค่ะ", "request_location", {**FILLED, "request_location": pin}))
    assert slots["request_location"]["address"] == "เขตวัฒนา กรุงเทพมหานคร"

    _, slots = validate(form_tracker(NOT_IN_BANGKOK, "request_location", {**FILLED, "request_location": pin}))
    assert slots["request_location"]["ask_place"] == "elsewhere" and slots["requested_slot"] == "request_location"
    messages = _ask({**FILLED, "request_location": slots["request_location"]})
    assert "อำเภอ" in messages[0]["text"] and [b["title"] for b in messages[0]["buttons"]] == ["ข้าม"]

    far = {**KHON_KAEN, "ask_place": "elsewhere", "place_tries": 0}
    _, slots = validate(form_tracker("อยู่ อ.เมือง จ.ขอนแก่นค่ะ", "request_location", {**FILLED, "request_location": far}))
    assert slots["request_location"] == {**KHON_KAEN, "address": "อ.เมือง จ.ขอนแก่น"}


def test_a_pin_outside_bangkok_asks_the_amphoe(services_db) -> None:
    _, slots = validate(form_tracker("ตำแหน่งที่ตั้ง", "request_location", FILLED, location=KHON_KAEN))
    assert slots["request_location"]["ask_place"] == "elsewhere"
    assert "อำเภอ" in _ask({**FILLED, "request_location": slots["request_location"]})[0]["text"]


def test_a_reply_that_is_no_place_is_asked_once_more_then_the_pin_is_taken_as_it_is(services_db) -> None:
    pin = {**PIN, "ask_place": "bangkok", "place_tries": 0}
    messages, slots = validate(form_tracker("ฮ่าๆๆ 😅", "request_location", {**FILLED, "request_location": pin}))
    once = slots["request_location"]
    assert once["place_tries"] == 1 and slots["requested_slot"] == "request_location" and "ยังไม่พบ" in messages[0]["text"]
    assert "อีกครั้ง" in _ask({**FILLED, "request_location": once})[0]["text"]
    messages, slots = validate(form_tracker("อ่าาา", "request_location", {**FILLED, "request_location": once}))
    assert slots["request_location"] == PIN and _moves_on(slots)
    assert "พิกัด" in messages[0]["text"]


@pytest.mark.parametrize("text", ["ข้าม", "ไม่ทราบค่ะ", "ไม่รู้เหมือนกัน"])
def test_skip_or_dont_know_takes_the_pin_at_once(services_db, text: str) -> None:
    pin = {**PIN, "ask_place": "bangkok", "place_tries": 0}
    _, slots = validate(form_tracker(text, "request_location", {**FILLED, "request_location": pin}))
    assert slots["request_location"] == PIN and _moves_on(slots)


@pytest.mark.parametrize(("location", "details"), [
    ({"latitude": 13.75, "longitude": 100.49, "address": "ซอยร่มเย็น", "title": ""}, None),  # a LINE pin with an address
    ({"latitude": 14.35, "longitude": 100.57, "address": "ถนนอู่ทอง อยุธยา", "title": ""}, None),
    ({"latitude": 13.7663, "longitude": 100.6427, "address": "", "title": ""}, "ไฟถนนดับ อยู่เขตบางกะปิ"),  # said before
    ({"latitude": 16.43, "longitude": 102.83, "address": "", "title": ""}, "ไฟดับหน้าวัด ต.ในเมือง อ.เมือง"),
])
def test_what_the_citizen_already_said_is_not_asked_again(services_db, location: dict, details: str | None) -> None:
    _, slots = validate(form_tracker("ตำแหน่งที่ตั้ง", "request_location", {**FILLED, "request_details": details or FILLED["request_details"]},
                                     location=location))
    assert slots["request_location"] == location and _moves_on(slots)


def test_a_generic_address_still_asks_and_a_new_pin_replaces_the_open_question(services_db) -> None:
    generic = {**PIN, "address": "กรุงเทพมหานคร 10240 ประเทศไทย"}
    _, slots = validate(form_tracker("กรุงเทพมหานคร 10240 ประเทศไทย", "request_location", FILLED, location=generic))
    assert slots["request_location"]["ask_place"] == "bangkok"
    moved = {"latitude": 13.7466, "longitude": 100.5347, "address": "สยามพารากอน ถนนพระรามที่ 1", "title": ""}
    _, slots = validate(form_tracker("สยามพารากอน", "request_location", {**FILLED, "request_location": slots["request_location"]}, location=moved))
    assert slots["request_location"] == moved


def test_a_question_while_the_district_is_asked_is_answered_and_the_district_asked_again(services_db) -> None:
    pin = {**PIN, "ask_place": "bangkok", "place_tries": 0}
    messages, slots = validate(form_tracker("ต้องใช้เอกสารอะไรบ้าง", "request_location", {**FILLED, "request_location": pin}, intent="ask_service_info"))
    assert slots.get("request_location", pin) == pin and slots["requested_slot"] == "request_location"
    assert any(m.get("response") == "utter_service_info_intro" for m in messages)
    assert _next({**FILLED, "request_location": pin}) == "request_location"
    assert _next({**FILLED, "request_location": PIN}) in (None, "request_contact")


@pytest.mark.parametrize("text", ["อ.เมือง จ.ขอนแก่นค่ะ", "ต.ในเมือง อ.เมือง จ.ขอนแก่น"])
def test_a_typed_amphoe_read_as_a_service_question_still_answers_the_district(services_db, text: str) -> None:
    """The classifier may read "อ.เมือง จ.ขอนแก่นค่ะ" as ask_service_info (0.9+): it names a place, so it is the answer."""
    far = {**KHON_KAEN, "ask_place": "elsewhere", "place_tries": 0}
    messages, slots = validate(form_tracker(text, "request_location", {**FILLED, "request_location": far}, intent="ask_service_info"))
    assert not any(m.get("response") == "utter_service_info_intro" for m in messages)
    settled = slots["request_location"]
    assert "ask_place" not in settled and "เมือง" in settled["address"] and _moves_on(slots)

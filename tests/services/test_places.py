"""Place-based routing: a local problem in Bangkok goes to กรุงเทพมหานคร with its district office named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from actions.places import BMA, BMA_DISTRICTS, LOCAL, MEA, MWA, PEA, PWA, place_of, place_text, route

CATALOG = Path(__file__).resolve().parents[2] / "storage" / "seed" / "agencies.yml"


def _catalog() -> dict[str, dict]:
    data = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    return {a["name"]: a for a in data["agencies"]}


def test_every_district_has_its_office_in_the_agency_catalog_and_the_names_used_exist() -> None:
    agencies = _catalog()
    assert len(set(BMA_DISTRICTS)) == 50
    for district in BMA_DISTRICTS:
        assert agencies[f"สำนักงานเขต{district}"]["parent"] == BMA
    for name in (BMA, LOCAL, PEA, MEA, PWA, MWA):
        assert name in agencies


@pytest.mark.parametrize(("text", "label"), [
    ("ซอยลาดพร้าว 101 แขวงคลองจั่น เขตบางกะปิ กรุงเทพ", "กรุงเทพมหานคร (สำนักงานเขตบางกะปิ)"),  # not ลาดพร้าว (the road)
    ("อยู่เขตบางกะปิค่ะ", "กรุงเทพมหานคร (สำนักงานเขตบางกะปิ)"),
    ("ซอยลาดพร้าว 101 บางกะปิ กทม.", "กรุงเทพมหานคร (สำนักงานเขตบางกะปิ)"),  # the last district named is the เขต
    ("หน้าตลาด บางกะปิ", "กรุงเทพมหานคร (สำนักงานเขตบางกะปิ)"),
    ("แถวสาธร กรุงเทพฯ", "กรุงเทพมหานคร (สำนักงานเขตสาทร)"),  # the old spelling (not "ถนนสาธร": a road crosses districts)
    ("หน้าห้างแถวบ้าน กรุงเทพ", "กรุงเทพมหานคร"),  # Bangkok, district not said
    ("หน้าวัด ต.บ้านใหม่ อ.เมือง จ.เชียงใหม่", "องค์กรปกครองส่วนท้องถิ่น (เทศบาลหรือ อบต. ในพื้นที่ตำบลบ้านใหม่ อำเภอเมือง)"),
    ("หน้าโรงเรียนวัดใหม่ อยุธยา", LOCAL),
    ("อำเภอพระนครศรีอยุธยา", "องค์กรปกครองส่วนท้องถิ่น (เทศบาลหรือ อบต. ในพื้นที่อำเภอพระนครศรีอยุธยา)"),  # not เขตพระนคร
    ("สะพานสูงมาก รถวิ่งเร็ว", LOCAL),  # a district name that is also everyday Thai needs "เขต" or Bangkok named
    ("อำเภอจอมทอง เชียงใหม่", "องค์กรปกครองส่วนท้องถิ่น (เทศบาลหรือ อบต. ในพื้นที่อำเภอจอมทอง)"),
])
def test_a_local_problem_goes_to_the_administration_of_the_place(text: str, label: str) -> None:
    assert route(LOCAL, place_of(text)).label == label


def test_bangkok_requests_keep_the_bma_as_the_filed_agency() -> None:
    routing = route(LOCAL, place_of("เขตราชเทวี"))
    assert (routing.agency, routing.office) == (BMA, "สำนักงานเขตราชเทวี")


def test_electricity_and_water_follow_the_metropolitan_area() -> None:
    assert route(PEA, place_of("เขตบางกะปิ")).agency == MEA
    assert route(PWA, place_of("บางใหญ่ นนทบุรี")).agency == MWA
    assert route(PEA, place_of("หมู่ 4 ตำบลแจระแม อุบลราชธานี")).agency == PEA
    assert route("กรมการขนส่งทางบก", place_of("เขตบางกะปิ")).agency == "กรมการขนส่งทางบก"  # national services stay


def test_the_place_is_read_from_the_details_and_the_address() -> None:
    text = place_text("ไฟดับมาอาทิตย์นึง อยู่เขตบางกะปิ", {"latitude": 13.7, "longitude": 100.6, "address": "ซอยลาดพร้าว 101"})
    assert place_of(text).district == "บางกะปิ"
    assert place_text(None, None) == ""


def test_a_bangkok_street_light_is_confirmed_and_filed_with_the_district_office_named(services_db) -> None:
    from sqlalchemy import select

    from actions.requests import ActionAskRequestConfirm, ActionSubmitRequest
    from storage.db import session_scope
    from common.wording.requests import request_card
    from storage.models.services import ServiceRequest
    from tests.services.conftest import run, tracker
    from tests.services.test_service_actions import form_tracker

    filled = {"service": "ไฟถนนดับ", "request_details": "ไฟถนนในซอยดับมาอาทิตย์นึงแล้วค่ะ อยู่เขตบางกะปิ", "request_contact": "-",
              "request_location": {"address": "ซอยลาดพร้าว 101 แขวงคลองจั่น เขตบางกะปิ กรุงเทพ"}}
    messages, _ = run(ActionAskRequestConfirm(), form_tracker("-", "request_confirm", filled))
    summary = dict(messages[0]["custom"]["cards"][0]["fields"])
    assert summary["หน่วยงานที่รับผิดชอบ"] == "กรุงเทพมหานคร (สำนักงานเขตบางกะปิ)"
    messages, _ = run(ActionSubmitRequest(), tracker("ยืนยัน", "affirm", slots={**filled, "request_confirm": True}))
    assert messages[0]["response"] == "utter_request_filed" and messages[0]["agency"] == "กรุงเทพมหานคร (สำนักงานเขตบางกะปิ)"
    assert "ยังไม่มีเจ้าหน้าที่" in messages[1]["text"]  # no BMA group linked in this database: said, not hidden
    with session_scope(services_db) as s:
        request = s.scalars(select(ServiceRequest)).one()
        assert request.agency == BMA and request.location["office"] == "สำนักงานเขตบางกะปิ"
        assert "พื้นที่: สำนักงานเขตบางกะปิ" in request_card(request, "เรื่องใหม่")["lines"]  # what the officials' card shows


def test_a_staffed_local_administration_gets_no_fallback_note(services_db) -> None:
    from actions.requests import ActionSubmitRequest
    from tests.services.conftest import run, tracker

    filled = {"service": "ไฟถนนดับ", "request_details": "ไฟดับ", "request_contact": "-", "request_confirm": True,
              "request_location": {"address": "หน้าวัด ต.บ้านใหม่ อ.เมือง จ.เชียงใหม่"}}
    messages, _ = run(ActionSubmitRequest(), tracker("ยืนยัน", "affirm", slots=filled))
    assert messages[0]["agency"] == "องค์กรปกครองส่วนท้องถิ่น (เทศบาลหรือ อบต. ในพื้นที่ตำบลบ้านใหม่ อำเภอเมือง)"
    assert len(messages) == 1

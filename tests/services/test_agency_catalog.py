"""The shipped agency catalog: scope, fields, contacts with sources, and loading it (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from actions.services import card_message
from storage.agencies import GENERIC, core, get_agency, normalise
from storage.models.services import AGENCY_TYPES, Agency
from storage.services import get_service, load_catalog, seed_agencies, seed_services

# The 32 agencies of the first catalog: requests, officials and group links store these names.
FIRST_CATALOG = [n.strip() for n in """กรมการปกครอง, กรมการขนส่งทางบก, กรมการกงสุล, กรมพัฒนาธุรกิจการค้า, กรมสรรพากร,
กรุงเทพมหานคร, สำนักงานประกันสังคม, สำนักงานหลักประกันสุขภาพแห่งชาติ, การไฟฟ้านครหลวง, การไฟฟ้าส่วนภูมิภาค, การประปานครหลวง,
การประปาส่วนภูมิภาค, องค์กรปกครองส่วนท้องถิ่น, กรมส่งเสริมการปกครองท้องถิ่น, สำนักงานพัฒนารัฐบาลดิจิทัล, สำนักงานตำรวจแห่งชาติ,
กรมการจัดหางาน, กรมส่งเสริมการเกษตร, กรมบัญชีกลาง, กรมกิจการผู้สูงอายุ, กรมส่งเสริมและพัฒนาคุณภาพชีวิตคนพิการ, กรมกิจการเด็กและเยาวชน,
กรมโยธาธิการและผังเมือง, กรมควบคุมมลพิษ, กรมที่ดิน, สำนักงานคณะกรรมการคุ้มครองผู้บริโภค, สำนักงาน ป.ป.ช., สำนักงาน ก.พ.ร., กรมสรรพสามิต,
กรมอนามัย, สำนักงานคณะกรรมการกฤษฎีกา, สำนักงานปลัดสำนักนายกรัฐมนตรี""".split(",")]
MINISTRIES = """สำนักนายกรัฐมนตรี กระทรวงกลาโหม กระทรวงการคลัง กระทรวงการต่างประเทศ กระทรวงการท่องเที่ยวและกีฬา
กระทรวงการพัฒนาสังคมและความมั่นคงของมนุษย์ กระทรวงการอุดมศึกษา_วิทยาศาสตร์_วิจัยและนวัตกรรม กระทรวงเกษตรและสหกรณ์ กระทรวงคมนาคม
กระทรวงดิจิทัลเพื่อเศรษฐกิจและสังคม กระทรวงทรัพยากรธรรมชาติและสิ่งแวดล้อม กระทรวงพลังงาน กระทรวงพาณิชย์ กระทรวงมหาดไทย กระทรวงยุติธรรม
กระทรวงแรงงาน กระทรวงวัฒนธรรม กระทรวงศึกษาธิการ กระทรวงสาธารณสุข กระทรวงอุตสาหกรรม""".split()
MINISTRIES = [m.replace("_", " ") for m in MINISTRIES]


def test_the_catalog_covers_government_for_cross_agency_work() -> None:
    agencies = seed_agencies()
    names = [a["name"] for a in agencies]
    assert len(names) == len(set(names)) and len(names) >= 300
    assert set(FIRST_CATALOG) <= set(names)  # existing rows keep resolving
    kinds = Counter(a["type"] for a in agencies)
    assert set(kinds) <= set(AGENCY_TYPES)
    assert kinds["district_office"] == 50 and all(a["parent"] == "กรุงเทพมหานคร" for a in agencies if a["type"] == "district_office")
    assert kinds["provincial_administration"] == 76 + 1  # 76 provincial halls and ศูนย์ดำรงธรรม
    assert kinds["department"] >= 100 and kinds["state_enterprise"] >= 15
    by_ministry = Counter(a["ministry"] for a in agencies)
    assert all(by_ministry[m] >= 2 for m in MINISTRIES), {m: by_ministry[m] for m in MINISTRIES}
    for name in ("การไฟฟ้านครหลวง", "การไฟฟ้าส่วนภูมิภาค", "การประปานครหลวง", "การประปาส่วนภูมิภาค", "องค์การขนส่งมวลชนกรุงเทพ",
                 "การรถไฟแห่งประเทศไทย", "บริษัท ไปรษณีย์ไทย จำกัด", "ศูนย์ดำรงธรรม", "กรมทางหลวงชนบท", "สำนักงานเขตราชเทวี",
                 "ศาลากลางจังหวัดเชียงใหม่"):
        assert name in names, name
    assert all(a.get("english") for a in agencies if a["type"] in ("department", "state_enterprise"))
    services = seed_services()
    assert {s["agency"] for s in services} <= set(names)


def test_every_written_form_names_one_agency_and_none_is_generic() -> None:
    owners: dict[str, set[str]] = {}
    for agency in seed_agencies():
        for written in [agency["name"], *agency.get("abbreviations", []), *agency.get("aliases", [])]:
            key = normalise(written)
            assert key not in GENERIC and len(core(key)) >= 2, (agency["name"], written)
            owners.setdefault(key, set()).add(agency["name"])
    shared = {k: v for k, v in owners.items() if len(v) > 1}
    assert shared == {}, shared


def test_contacts_cite_a_source_and_emergency_numbers_stay_off_service_cards(session) -> None:
    for agency in seed_agencies():
        for contact in agency.get("contacts", []):
            assert contact["type"] in ("hotline", "call_centre", "emergency"), agency["name"]
            assert contact["value"].replace(" ", "").isdigit(), agency["name"]
            assert contact["source"].startswith("https://"), agency["name"]
        assert "phone" not in agency, f"{agency['name']}: a contact needs a source, not a bare phone"
    load_catalog(session)
    police = get_agency(session, "สำนักงานตำรวจแห่งชาติ")
    assert police.phone is None and police.contacts[0]["value"] == "191" and police.contacts[0]["type"] == "emergency"
    card = card_message(get_service(session, "ตรวจประวัติอาชญากรรม"), police.phone)
    assert "191" not in str(card)  # the criminal-record card no longer sends people to the emergency line
    assert get_agency(session, "กรมทางหลวงชนบท").phone == "1146"
    assert get_agency(session, "กรมสรรพากร").contacts == [{"type": "hotline", "value": "1161", "source": "https://www.rd.go.th"}]


def test_loading_fills_the_new_fields_and_updates_in_place(session) -> None:
    assert load_catalog(session)[0] == len(seed_agencies())
    session.commit()
    load_catalog(session)
    session.commit()
    assert session.scalar(select(func.count()).select_from(Agency)) == len(seed_agencies())
    district = get_agency(session, "เขตราชเทวี")
    assert (district.name, district.kind, district.parent) == ("สำนักงานเขตราชเทวี", "district_office", "กรุงเทพมหานคร")
    dpt = get_agency(session, "DPT")
    assert dpt.name == "กรมโยธาธิการและผังเมือง" and dpt.english_name.startswith("Department of Public Works")
    assert "กรมโยธาฯ" in dpt.aliases and dpt.ministry == "กระทรวงมหาดไทย"
    assert get_agency(session, "กรม") is None and get_agency(session, "กรมทางหลวงชนบธ") is None  # get_agency never guesses


def test_a_service_done_in_person_offers_no_chat_filing(session) -> None:
    load_catalog(session)
    passport = card_message(get_service(session, "หนังสือเดินทาง"), None)["cards"][0]
    titles = [b["title"] for b in passport["buttons"]]
    assert "ยื่นคำร้องผ่านแชต" not in titles and "ขั้นตอนนี้ยุ่งยาก" in titles
    assert any("ต้องไปยื่นด้วยตนเอง" in line for line in passport["lines"])
    streetlight = card_message(get_service(session, "ไฟถนนดับ"), None)["cards"][0]
    assert streetlight["buttons"][0]["title"] == "แจ้งเรื่องนี้"  # a report is still filed by chat
    house = card_message(get_service(session, "ทะเบียนบ้าน"), None)["cards"][0]
    assert house["buttons"][0]["title"] == "ยื่นคำร้องผ่านแชต"

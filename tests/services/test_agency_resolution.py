"""resolve_agency on a labelled set of targets officials type: the thresholds are measured here.

Each row: what was typed, the outcome wanted, and the agency (or agencies) meant. The
set mixes official names, abbreviations, common spellings, misspellings, partial and
generic words and unknown bodies; `test_thresholds_separate_typos_from_other_agencies`
shows why AUTO_ACCEPT and CONFIRM_AT sit where they do (docs/agencies.md).
"""

from __future__ import annotations

import pytest

from storage.agencies import AUTO_ACCEPT, CHOICE, CONFIRM, CONFIRM_AT, EXACT, NONE, _index, _similar, normalise, resolve_agency
from storage.services import load_catalog

DPT = "กรมโยธาธิการและผังเมือง"
DRR = "กรมทางหลวงชนบท"
LABELLED: list[tuple[str, str, str | tuple[str, ...] | None]] = [
    # official names, with the noise people add
    ("กรมทางหลวงชนบท", EXACT, DRR),
    ("กรมทางหลวงชนบท ครับ", EXACT, DRR),
    ("  กรม ทางหลวง ชนบท ", EXACT, DRR),
    ("สำนักงานเขตราชเทวี", EXACT, "สำนักงานเขตราชเทวี"),
    ("กรมการขนส่งทางบกค่ะ", EXACT, "กรมการขนส่งทางบก"),
    ("สำนักงาน ป.ป.ช.", EXACT, "สำนักงาน ป.ป.ช."),
    ("การประปาส่วนภูมิภาค", EXACT, "การประปาส่วนภูมิภาค"),
    ("ศาลากลางจังหวัดขอนแก่น", EXACT, "ศาลากลางจังหวัดขอนแก่น"),
    ("ให้กรมที่ดิน", EXACT, "กรมที่ดิน"),
    ("ไปกรมโยธาฯ ครับ", EXACT, DPT),
    # abbreviations and common spellings
    ("กรมโยธาฯ", EXACT, DPT),
    ("โยธา", EXACT, DPT),
    ("ยผ.", EXACT, DPT),
    ("ยผ", EXACT, DPT),
    ("DPT", EXACT, DPT),
    ("dpt", EXACT, DPT),
    ("กทม.", EXACT, "กรุงเทพมหานคร"),
    ("กทม", EXACT, "กรุงเทพมหานคร"),
    ("BMA", EXACT, "กรุงเทพมหานคร"),
    ("เขตราชเทวี", EXACT, "สำนักงานเขตราชเทวี"),
    ("เขต บางรัก", EXACT, "สำนักงานเขตบางรัก"),
    ("ทช.", EXACT, DRR),
    ("DRR", EXACT, DRR),
    ("ยธ.", EXACT, "สำนักงานปลัดกระทรวงยุติธรรม"),  # the Ministry of Justice's own abbreviation, not DPT's
    ("กระทรวงมหาดไทย", EXACT, "สำนักงานปลัดกระทรวงมหาดไทย"),
    ("กฟภ.", EXACT, "การไฟฟ้าส่วนภูมิภาค"),
    ("MEA", EXACT, "การไฟฟ้านครหลวง"),
    ("ขสมก.", EXACT, "องค์การขนส่งมวลชนกรุงเทพ"),
    ("รฟท", EXACT, "การรถไฟแห่งประเทศไทย"),
    ("ไปรษณีย์ไทย", EXACT, "บริษัท ไปรษณีย์ไทย จำกัด"),
    ("ดำรงธรรม", EXACT, "ศูนย์ดำรงธรรม"),
    ("จ.เชียงใหม่", EXACT, "ศาลากลางจังหวัดเชียงใหม่"),
    ("อบต.", EXACT, "องค์กรปกครองส่วนท้องถิ่น"),
    ("สปสช", EXACT, "สำนักงานหลักประกันสุขภาพแห่งชาติ"),
    ("กรมอุทยานฯ", EXACT, "กรมอุทยานแห่งชาติ สัตว์ป่า และพันธุ์พืช"),
    ("กรมขนส่ง", EXACT, "กรมการขนส่งทางบก"),
    ("สำนักงานโยธา", EXACT, DPT),
    ("ปภ.", EXACT, "กรมป้องกันและบรรเทาสาธารณภัย"),
    ("DSI", EXACT, "กรมสอบสวนคดีพิเศษ"),
    ("อย.", EXACT, "สำนักงานคณะกรรมการอาหารและยา"),
    # misspelled: one letter off in a long name is taken, in a short one it is asked
    ("กรมทางหลวงชนบธ", EXACT, DRR),
    ("กรมทางหลวงชบท", EXACT, DRR),
    ("กรมสรรพกร", EXACT, "กรมสรรพากร"),
    ("กรมสรรพสามต", EXACT, "กรมสรรพสามิต"),
    ("สำนักงานประกันสังค", EXACT, "สำนักงานประกันสังคม"),
    ("กรมที่ดน", EXACT, "กรมที่ดิน"),
    ("กรมส่งเสริมการเกษต", EXACT, "กรมส่งเสริมการเกษตร"),
    ("กรมอนามย", EXACT, "กรมอนามัย"),
    ("กรมป้องกันและบรรเทาสาธารณะภัย", EXACT, "กรมป้องกันและบรรเทาสาธารณภัย"),
    ("การไฟฟ้าส่วนภูมภาค", EXACT, "การไฟฟ้าส่วนภูมิภาค"),
    ("กรมชลประธาน", CONFIRM, "กรมชลประทาน"),
    ("บางรัก", CONFIRM, "สำนักงานเขตบางรัก"),
    ("กรมพัฒนาธุรกิจ", CONFIRM, "กรมพัฒนาธุรกิจการค้า"),
    # partial: the start of several names is a choice, never a guess
    ("การประปา", CHOICE, ("การประปานครหลวง", "การประปาส่วนภูมิภาค")),
    ("ประปา", CHOICE, ("การประปานครหลวง", "การประปาส่วนภูมิภาค")),
    ("การไฟฟ้า", CHOICE, ("การไฟฟ้านครหลวง", "การไฟฟ้าฝ่ายผลิตแห่งประเทศไทย", "การไฟฟ้าส่วนภูมิภาค")),
    ("กรมการค้า", CHOICE, ("กรมการค้าต่างประเทศ", "กรมการค้าภายใน", "กรมการข้าว")),  # one letter from กรมการข้าว
    ("กรมแพทย์", CHOICE, ("กรมการแพทย์", "กรมการแพทย์แผนไทยและการแพทย์ทางเลือก")),
    # generic words: never an agency
    ("กรม", NONE, None),
    ("กรม ครับ", NONE, None),
    ("กรมฯ", NONE, None),
    ("สำนักงาน", NONE, None),
    ("หน่วยงาน", NONE, None),
    ("หน่วยงานที่เกี่ยวข้อง", NONE, None),
    ("กระทรวง", NONE, None),
    ("สำนักงานเขต", NONE, None),
    ("ศาลากลางจังหวัด", NONE, None),
    ("กรมการ", NONE, None),
    ("", NONE, None),
    ("ก", NONE, None),
    # unknown: not in the catalog (or not a body at all)
    ("กรมดับเพลิง", NONE, None),
    ("ฝ่ายไอที", NONE, None),
    ("xyz", NONE, None),
    ("บริษัทเอกชน", NONE, None),
    ("#999999", NONE, None),
]


@pytest.fixture
def catalog(session):  # type: ignore[no-untyped-def]
    load_catalog(session)
    session.commit()
    return session


def test_the_labelled_set_is_big_enough_and_covers_every_outcome() -> None:
    assert len(LABELLED) >= 60
    assert {outcome for _, outcome, _ in LABELLED} == {EXACT, CONFIRM, CHOICE, NONE}


def test_labelled_targets_resolve_as_labelled(catalog) -> None:
    wrong = []
    for text, outcome, meant in LABELLED:
        found = resolve_agency(catalog, text)
        names = tuple(c.name for c in found.candidates)
        if found.outcome != outcome:
            wrong.append((text, outcome, found.outcome, names))
        elif outcome in (EXACT, CONFIRM) and names[:1] != (meant,):
            wrong.append((text, meant, names))
        elif outcome == CHOICE and set(names) != set(meant):
            wrong.append((text, meant, names))
    assert wrong == []


def test_unknown_targets_come_with_the_closest_agencies(catalog) -> None:
    found = resolve_agency(catalog, "กรมถนนชนบท")
    assert found.outcome == NONE and found.candidates[0].name == DRR
    found = resolve_agency(catalog, "กรมทางหลวงชนบทจังหวัดขอนแก่น")  # two names inside: which one?
    assert found.outcome == CHOICE and {c.name for c in found.candidates} == {DRR, "ศาลากลางจังหวัดขอนแก่น"}
    found = resolve_agency(catalog, "สำนักงานที่ดินจังหวัดสาขาบางพลี")
    assert found.outcome == CONFIRM and found.agency.name == "กรมที่ดิน"
    assert resolve_agency(catalog, "กรม").candidates == ()  # a generic word suggests nothing either
    assert resolve_agency(catalog, "กรม").how == "generic"


def test_an_agency_id_is_exact(catalog) -> None:
    drr = resolve_agency(catalog, DRR).agency
    found = resolve_agency(catalog, f"#{drr.agency_id}")
    assert found.outcome == EXACT and found.agency.name == DRR and found.how == "id"


def test_thresholds_separate_typos_from_other_agencies(catalog) -> None:
    """Every labelled misspelling scores its agency at or above CONFIRM_AT (long names at or above
    AUTO_ACCEPT), while the best score of a different agency for the same text stays below
    AUTO_ACCEPT: so nothing is forwarded on a guess to the wrong body."""
    index = _index(catalog)
    typos = [(t, o, m) for t, o, m in LABELLED if o in (EXACT, CONFIRM) and isinstance(m, str)]
    scored = 0
    for text, outcome, meant in typos:
        if resolve_agency(catalog, text).how != "fuzzy":
            continue  # a name, alias or partial: decided before scores
        ranked = _similar(index, normalise(text))
        own = max((c.score for c in ranked if c.name == meant), default=0.0)
        other = max((c.score for c in ranked if c.name != meant), default=0.0)
        scored += 1
        assert own >= (AUTO_ACCEPT if outcome == EXACT else CONFIRM_AT), (text, own)
        assert other < AUTO_ACCEPT, (text, other)
    assert scored >= 10

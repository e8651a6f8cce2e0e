"""The emergency detector: danger to life now -> a category; everyday and legal talk -> None."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usecases.emergency import DOMESTIC, FIRE, MEDICAL, SUICIDE, VIOLENCE, detect, normalise


@pytest.mark.parametrize(("text", "category"), [
    ("ไฟไหม้บ้านข้างๆ ช่วยด้วย", FIRE),
    ("ไฟใหม้ค่ะ ช่วยด้วยยยยย", FIRE),  # the common typo and a run of emphasis
    ("คอนโดชั้น๑๒ไฟไหม้", FIRE),  # Thai digits
    ("ไม่อยากมีชีวิตอยู่แล้ว อยากตาย", SUICIDE),
    ("อยากตายยยย", SUICIDE),
    ("i want to kill myself", SUICIDE),
    ("มีคนโดนรถชนหมดสติอยู่หน้าปากซอย ช่วยด้วย", MEDICAL),
    ("มอไซค์ล้ม คนขี่นอนไม่ขยับเลย", MEDICAL),  # an accident needs a sign of injury: here "ไม่ขยับ"
    ("พ่อปากเบี้ยว แขนขาอ่อนแรง", MEDICAL),  # "เบี้ยว" is not "เบี้ย" (an allowance)
    ("สามีทำร้ายร่างกายหนูทุกวัน ทำไงดีคะ", DOMESTIC),
    ("เมื่อคืนผัวซ้อมหนูอีกแล้ว", DOMESTIC),  # the past does not suppress abuse at home
    ("มีคนถือมีดไล่ฟันคนในตลาด", VIOLENCE),
    ("โจรขึ้นบ้านตอนนี้ ซ่อนอยู่ในห้องน้ำ", VIOLENCE),
])
def test_an_emergency_is_recognised_with_its_category(text: str, category: str) -> None:
    found = detect(text)
    assert found is not None and found.category == category


@pytest.mark.parametrize("text", [
    "ร้อนจะตาย", "ขำจะตาย", "ตายแล้ว ลืมรหัสผ่าน", "กฎหมายเกี่ยวกับไฟไหม้ป่ามีไหม", "พ.ร.บ.ป้องกันและระงับอัคคีภัย",
    "เบี้ยยังชีพคนแก่ตายแล้วทำไง", "ประกันชีวิตกรณีตาย",
    "โดนรถชนแล้วหนี ทำไงดี",  # no sign of injury: the hit-and-run answer (laws, where to report), not 1669
    "ไฟไหม้เมื่อเดือนที่แล้ว ขอเงินช่วยเหลือผู้ประสบภัยได้ที่ไหน",  # over, and about aid
    "โจรขึ้นบ้านเมื่อคืน แจ้งความยังไง",
    "ข่มขืนมีโทษจำคุกกี่ปี", "ฆ่าตัวตายมีความผิดตามกฎหมายไหม", "ง่วงจนอยากตาย งานเยอะ",
    "ลูกซ้อมดนตรีเสียงดัง", "แม่ค้าขายของบนทางเท้า", "มีไฟไหม ถนนมืดมาก", "ข้าวไหม้ 555",
    "บ้านเลขที่ 199 หมู่ 3", "เบอร์ผม 0811991669", "severance pay when fired", "ไฟถนนดับมา3วันแล้ว",
    "/service_info{\"service\": \"ไฟไหม้\"}",  # a button's payload is not words
])
def test_everyday_and_legal_talk_is_not_an_emergency(text: str) -> None:
    assert detect(text) is None


def test_an_urgent_call_for_help_overrides_talk_about_law() -> None:
    assert detect("กฎหมายอะไรก็ช่าง ไฟไหม้บ้านอยู่ ช่วยด้วย") is not None
    assert detect("ไฟไหม ช่วยด้วย") is not None  # the missing tone mark counts only with a call for help


def test_several_dangers_keep_every_category_main_first() -> None:
    found = detect("ไฟไหม้บ้าน มีคนหมดสติอยู่ข้างใน")
    assert found is not None and found.categories == (FIRE, MEDICAL)
    suicidal = detect("อยากตาย จะกระโดดตึก ช่วยด้วย")
    assert suicidal is not None and suicidal.category == SUICIDE


def test_normalise_removes_spaces_and_zero_width_and_collapses_emphasis() -> None:
    assert normalise("ไฟ\u200bไหม้  ช่วยด้วยยยย ๑๙๙") == "ไฟไหม้ช่วยด้วย199"


def test_the_labelled_benchmark_set_is_large_enough() -> None:
    from benchmarks.emergency import NONE, labelled, nlu_examples, scenario_texts

    rows = labelled()
    assert sum(1 for _, label in rows if label != NONE) >= 60
    assert sum(1 for _, label in rows if label == NONE) + len(nlu_examples()) + len(scenario_texts()) >= 100


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gets_an_answer_and_the_same_one_twice(text: str) -> None:
    first = detect(text)
    assert first == detect(text)
    assert first is None or first.category in first.categories

"""Emergencies (danger to life): the number first, then a few things to do, with tap-to-call buttons.

Numbers (public, nationwide, free, 24 hours): 191 police, 199 fire, 1669 medical emergencies
(ambulance), 1323 the Department of Mental Health's hotline, 1300 the social assistance centre
(domestic violence, child abuse, human trafficking). The Samaritans of Thailand listen on 02 113 6789.
"""

from __future__ import annotations

from typing import Any

from common.replies import call, card, cards

POLICE = "191"
FIRE = "199"
MEDICAL = "1669"
MENTAL_HEALTH = "1323"
SOCIAL = "1300"
SAMARITANS = "02 113 6789"

_FIRST_LINE = {
    "fire": f"🚒 โทร {FIRE} แจ้งดับเพลิงทันทีครับ แล้วรีบออกจากที่เกิดเหตุ",
    "medical": f"🚑 โทร {MEDICAL} เรียกรถพยาบาลฉุกเฉินทันทีครับ",
    "suicide": (f"📞 โทร {MENTAL_HEALTH} สายด่วนสุขภาพจิตได้ทันทีครับ ฟรี ตลอด 24 ชั่วโมง "
                "คุณไม่ได้อยู่คนเดียวนะครับ มีคนพร้อมรับฟังคุณเสมอ"),
    "domestic": (f"📞 โทร {POLICE} ทันทีครับ ถ้ากำลังถูกทำร้ายหรือตกอยู่ในอันตรายตอนนี้ "
                 f"และโทร {SOCIAL} ศูนย์ช่วยเหลือสังคม ตลอด 24 ชั่วโมง เพื่อขอความช่วยเหลือและที่พักที่ปลอดภัย"),
    "violence": f"🚓 โทร {POLICE} แจ้งตำรวจทันทีครับ และหาที่ปลอดภัยก่อน",
}

_CARDS: dict[str, dict[str, Any]] = {
    "fire": {
        "title": f"{FIRE} ดับเพลิงและกู้ภัย",
        "lines": ["ออกจากอาคารทันที อย่าใช้ลิฟต์ ก้มตัวต่ำหนีควัน",
                  "บอกที่อยู่และจุดสังเกตให้ชัดเจนเมื่อโทรแจ้ง",
                  f"ถ้ามีคนบาดเจ็บ โทร {MEDICAL}"],
        "calls": [(FIRE, "ดับเพลิง"), (MEDICAL, "รถพยาบาล")],
    },
    "medical": {
        "title": f"{MEDICAL} การแพทย์ฉุกเฉิน",
        "lines": ["บอกอาการ จำนวนผู้บาดเจ็บ และสถานที่ให้ชัดเจน",
                  "ถ้าเป็นอุบัติเหตุ อย่าเคลื่อนย้ายผู้บาดเจ็บถ้าไม่จำเป็น และระวังรถคันอื่น",
                  f"อุบัติเหตุบนถนนหรือมีคนก่อเหตุ แจ้งตำรวจ {POLICE} ด้วย"],
        "calls": [(MEDICAL, "รถพยาบาล"), (POLICE, "ตำรวจ")],
    },
    "suicide": {
        "title": f"{MENTAL_HEALTH} สายด่วนสุขภาพจิต",
        "lines": ["คุยกับผู้เชี่ยวชาญได้ฟรี ตลอด 24 ชั่วโมง ไม่ต้องบอกชื่อก็ได้ครับ",
                  f"สมาคมสะมาริตันส์แห่งประเทศไทย {SAMARITANS} ก็พร้อมรับฟังครับ",
                  f"ถ้าทำร้ายตัวเองไปแล้วหรืออยู่ในอันตรายตอนนี้ โทร {MEDICAL} ทันที",
                  "ถ้าเป็นไปได้ บอกคนที่ไว้ใจให้มาอยู่ด้วยนะครับ"],
        "calls": [(MENTAL_HEALTH, "สุขภาพจิต"), (MEDICAL, "รถพยาบาล")],
    },
    "domestic": {
        "title": f"{SOCIAL} ศูนย์ช่วยเหลือสังคม",
        "lines": ["รับเรื่องความรุนแรงในครอบครัว การทำร้ายเด็ก และการค้ามนุษย์ ตลอด 24 ชั่วโมง",
                  f"ถ้ากำลังถูกทำร้าย ไปอยู่ในที่ปลอดภัยแล้วโทร {POLICE}",
                  f"ถ้าบาดเจ็บ โทร {MEDICAL}"],
        "calls": [(POLICE, "ตำรวจ"), (SOCIAL, "ช่วยเหลือ"), (MEDICAL, "รถพยาบาล")],
    },
    "violence": {
        "title": f"{POLICE} แจ้งเหตุด่วนเหตุร้าย",
        "lines": ["หาที่ปลอดภัยก่อน อย่าเข้าไปเผชิญหน้า",
                  "บอกสถานที่ จำนวนคนร้าย และอาวุธที่เห็น",
                  f"ถ้ามีคนบาดเจ็บ โทร {MEDICAL}"],
        "calls": [(POLICE, "ตำรวจ"), (MEDICAL, "รถพยาบาล")],
    },
}


def emergency_reply(categories: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """One reply: the main category's number in the text, then one card per category matched."""
    known = [c for c in categories if c in _CARDS]
    if not known:
        raise ValueError("no known emergency category")
    items = []
    for category in known:
        spec = _CARDS[category]
        items.append(card(spec["title"], lines=spec["lines"], calls=[call(number, f"โทร {number} {label}")
                                                                     for number, label in spec["calls"]]))
    main = _CARDS[known[0]]
    return {"text": _FIRST_LINE[known[0]], "buttons": [], "custom": cards(f"โทร {main['title']}", items)}

"""Is this message about a danger to life happening now? A deterministic detector.

The gateway asks this before a citizen's message goes to Rasa (connectors/answering.py), so that
the right emergency number is the first thing the person reads, whatever the intent classifier
makes of the text and even when Rasa is slow or down.

How it decides, on the normalised text (Thai digits to Arabic, emphasis runs collapsed, no
whitespace, lower case):
- a lexicon of situations per category; where one word is ambiguous ("ชน", "ตี", "ซ้อม", "ไหม้")
  a pattern needs a second word that makes the danger clear (an accident *and* someone
  unconscious or bleeding; a family member *and* a harming verb; a house *and* burning);
- a message that talks *about* a danger (a law, a penalty, insurance, aid money, a complaint,
  something that happened last month) is not an emergency unless it also calls for help now
  ("ช่วยด้วย", "ด่วน", "SOS"); the clearest first-person suicide signals are never suppressed;
- "ตาย" alone is never a signal: "ร้อนจะตาย", "ตายแล้ว ลืมรหัสผ่าน" are everyday Thai.

Pure functions, no I/O. Emergency texts are sensitive: callers never log them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from common.thai_text import normalise_char_runs

FIRE = "fire"  # 199
MEDICAL = "medical"  # 1669: a medical emergency or a serious accident
SUICIDE = "suicide"  # 1323
VIOLENCE = "violence"  # 191: someone armed, an attack or robbery happening, an intruder
DOMESTIC = "domestic"  # 1300 (and 191): domestic violence, child abuse, trafficking

CATEGORIES = (SUICIDE, FIRE, MEDICAL, DOMESTIC, VIOLENCE)  # the order of precedence when several match


@dataclass(frozen=True)
class Emergency:
    category: str  # the main one (CATEGORIES order)
    categories: tuple[str, ...]  # every category the text matched, main first


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts))


_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_SPACE = re.compile(r"\s+")

# Calls for help now: they override the "talking about it" markers below.
_URGENT = _rx(r"ช่วยด้วย", r"ช่วยที(?!่)", r"(?<!สาย)ด่วน", r"sos", r"help", r"เร็วๆ", r"เร็วเข้า", r"ใครก็ได้ช่วย")

# Talking about a danger rather than being in one: law, penalties, money, paperwork, the past.
_ABOUT = _rx(
    r"กฎหมาย", r"พ\.?ร\.?บ", r"มาตรา", r"ประมวล", r"ระเบียบ", r"ข้อบังคับ",
    r"มีโทษ", r"โทษจำคุก", r"ระวางโทษ", r"บทลงโทษ", r"โทษ(อะไร|กี่|เท่า|ยังไง|แค่ไหน)", r"ได้รับโทษ",
    r"ผิดกฎหมาย", r"มีความผิด", r"ความผิดฐาน", r"ฟ้อง", r"คดี", r"ติดคุก", r"จำคุก",
    r"ประกัน", r"เบี้ย(?!ว)", r"เคลม", r"สินไหม", r"เงินช่วยเหลือ", r"ขอรับเงิน", r"ขอรับความช่วยเหลือ", r"เยียวยา", r"ชดเชย",
    r"ค่าเสียหาย", r"ค่าทำขวัญ", r"ค่ารักษา", r"ค่าใช้จ่าย", r"เบิก", r"สิทธิ", r"บัตรทอง",
    r"ลงทะเบียน", r"ร้องเรียน", r"แจ้งเรื่อง", r"คำร้อง", r"เอกสาร", r"ใบรับรอง", r"ใบมรณ", r"มรดก", r"ทำศพ", r"งานศพ",
    r"สถิติ", r"ข่าว", r"หนัง", r"ละคร", r"ซีรี", r"นิยาย", r"เกม", r"ความฝัน", r"ฝันว่า", r"ฝันร้าย",
    r"ซ้อมดับเพลิง", r"ซ้อมหนีไฟ", r"อบรม", r"วิธีป้องกัน", r"ป้องกัน", r"ถังดับเพลิง", r"ระงับอัคคีภัย", r"อัคคีภัย",
    r"ถ้า(เกิด|มี|บ้าน|โดน|ถูก)", r"สมมติ", r"สมมุติ",
)
# Over already: a fire, an accident or a robbery of last night is reported, not called in (abuse at home and
# suicidal thoughts go on: the past does not suppress those).
_PAST = _rx(
    r"เมื่อ(วาน|วันก่อน|คืน|อาทิตย์|สัปดาห์|เดือน|ปี)", r"ที่แล้ว", r"ที่ผ่านมา", r"(ปี|เดือน)ก่อน", r"เคยโดน", r"เคยถูก",
)

_FIRE = _rx(
    r"ไฟ[ไใ]หม้", r"ไฟกำลัง[ไใ]หม้", r"ไฟลุก", r"เพลิง[ไใ]หม้", r"ไฟไหม้ไฟ", r"ไฟลาม", r"ไฟกำลังลาม", r"ลุกเป็นไฟ",
    r"(บ้าน|ห้อง|ตึก|อาคาร|คอนโด|โรงงาน|ร้าน|รถ|หอ|ชุมชน|ป่า|หลังคา|ครัว|โกดัง|ตลาด)(กำลัง)?(ไฟ)?[ไใ]หม้(?!ๆ)",
    r"ควัน(โขมง|ท่วม|เต็ม|ดำ)", r"แก๊ส(รั่ว|ระเบิด)", r"ถังแก๊ส", r"ระเบิด(ที่|ใน|หน้า|ข้าง)", r"สายไฟ(ช็อต|ช๊อต)(จน)?(ไฟ)?ลุก",
    r"(เรียก|โทร(หา|เรียก)?|เบอร์)(รถ)?(ดับเพลิง|หน่วยดับเพลิง)",
)
_FIRE_WEAK = _rx(r"ไฟ[ไใ]หม(?!้)")  # "ไฟไหม" without the tone mark: also "is there a light?"; only with a call for help

_MEDICAL = _rx(
    r"หมดสติ", r"ไม่รู้สึกตัว", r"ไม่ได้สติ", r"(เรียก|ปลุก)ไม่ตื่น", r"ไม่ฟื้น", r"หมดลมหายใจ", r"ไม่ตอบสนอง", r"ไม่หายใจ", r"หยุดหายใจ", r"หายใจไม่ออก", r"หายใจไม่ได้",
    r"หัวใจวาย", r"หัวใจหยุดเต้น", r"เจ็บหน้าอก(มาก|รุนแรง|ร้าวไป)", r"แน่นหน้าอก(มาก|หายใจ)", r"ปากเบี้ยว", r"แขนขาอ่อนแรง",
    r"ชักเกร็ง", r"ชักกระตุก", r"ชักไม่หยุด", r"ลมชัก", r"ชัก(น้ำลาย)?ฟูมปาก", r"น้ำลายฟูมปาก",
    r"เลือด(ออก|ไหล)(ไม่หยุด|เยอะ|มาก|เต็ม|ท่วม|ทะลัก)", r"เลือดท่วม", r"เสียเลือดมาก", r"เลือดนอง",
    r"จมน้ำ", r"งู(เห่า|จงอาง|เขียว|กะปะ|ทับสมิงคลา)?กัด", r"ไฟดูด", r"ไฟช็อต(คน|ตัว)", r"โดนไฟช็อต", r"ถูกไฟช็อต",
    r"กิน(ยา)?(ยาพิษ|ยาฆ่าแมลง|ยาฆ่าหญ้า|ยาเบื่อ|น้ำยา)", r"ดื่ม(ยาพิษ|ยาฆ่าแมลง|ยาฆ่าหญ้า)", r"ตกจากที่สูง", r"ตกตึก", r"ตกนั่งร้าน",
    r"น้ำคร่ำแตก", r"น้ำเดิน", r"(จะ|กำลัง)คลอด", r"ตัวเขียว", r"ปากเขียว", r"ล้มฟุบ", r"ฟุบไป", r"ล้มหัวฟาด", r"หัวฟาดพื้น",
    r"แพ้(ยา|อาหาร|กุ้ง|ถั่ว)?.{0,12}(หายใจ|หน้าบวม|ปากบวม|ตาบวม)", r"เรียก(รถ)?(พยาบาล|กู้ชีพ|กู้ภัย)", r"รถพยาบาล", r"รถกู้ชีพ",
    r"หัวใจหยุด", r"(เบอร์|โทร(หา)?)(รถ)?(พยาบาล|กู้ชีพ|หมอฉุกเฉิน)",
)
_ACCIDENT = _rx(
    r"รถ.{0,10}ชน", r"ชนกัน", r"(โดน|ถูก)(รถ)?.{0,12}ชน", r"ชน(มอไซ|มอเตอร์ไซ|จยย|จักรยาน|คน|รถ)", r"รถคว่ำ", r"พลิกคว่ำ", r"รถล้ม", r"ล้มรถ", r"รถตก", r"ตกถนน", r"ตกข้างทาง",
    r"อุบัติเหตุ", r"(มอไซ|มอเตอร์ไซ|จยย|จักรยานยนต์|บิ๊กไบค์|จักรยาน).{0,10}(ล้ม|ชน|คว่ำ)", r"ชนท้าย", r"ประสานงา", r"เฉี่ยวชน", r"ชนแล้วหนี",
)
# An accident with an animal ("ชนหมาตาย") is not a medical emergency unless a person is named too.
_ANIMAL = _rx(r"หมา", r"แมว", r"สุนัข", r"วัว", r"ควาย", r"ไก่", r"เป็ด", r"ลิง", r"หมู", r"แพะ", r"ช้าง")
_PERSON = _rx(r"คน", r"เด็ก", r"ผู้", r"พ่อ", r"แม่", r"ลูก", r"น้อง", r"พี่", r"เพื่อน", r"ตา(?!ย)", r"ยาย", r"สามี", r"ภรรยา", r"แฟน")
_SEVERE = _rx(
    r"หมดสติ", r"ไม่ขยับ", r"ไม่ตอบสนอง", r"ไม่รู้สึกตัว", r"เลือด", r"บาดเจ็บ", r"เจ็บหนัก", r"สาหัส", r"ติดอยู่ใน", r"ติดในรถ",
    r"(ขา|แขน|คอ|กระดูก)หัก", r"หัวแตก", r"ตาย", r"นอนอยู่", r"นอนนิ่ง", r"ช่วยด้วย", r"ด่วน", r"พยาบาล", r"กู้ภัย", r"กู้ชีพ", r"ไม่หายใจ",
    r"คนเจ็บ", r"ผู้บาดเจ็บ", r"ร้องโอดโอย", r"ลุกไม่ขึ้น", r"ไฟลุก",
)

_SUICIDE_STRONG = _rx(  # never suppressed: the person speaks of ending their own life
    r"อยากตาย(?!ๆ)", r"อยาก(จะ)?ฆ่าตัว", r"(จะ|คิด|คิดจะ|เคยคิด|กำลังจะ|ขอ)ฆ่าตัว", r"ไม่อยากมีชีวิต", r"ไม่อยากอยู่(บน|ใน)?โลก",
    r"ไม่อยากอยู่ต่อ(ไป)?แล้ว", r"ไม่อยากอยู่แล้ว(ชีวิต|โลก)", r"ไม่อยากตื่น(ขึ้นมา)?อีก", r"อยากหลับไม่ตื่น", r"อยากหายไปจากโลก",
    r"อยาก(จบ|จะจบ)ชีวิต", r"(จะ|ขอ)จบชีวิต", r"อยู่ไปก็ไม่มี(ความหมาย|ประโยชน์|ค่า)", r"อยู่ไปทำไม", r"ไม่มีเหตุผลที่จะอยู่",
    r"ลาก่อนโลก", r"ลาโลกนี้", r"(จะ|ขอ)ไปดี(แล้ว|ก่อน)",
    r"(จะ|อยาก)(กระโดด|โดด)(ตึก|สะพาน|น้ำ|ลงมา|ลงไป)", r"บน(ดาดฟ้า|สะพาน|ตึก|ระเบียง).{0,15}(กระโดด|โดด)", r"(จะ|อยาก)(ผูกคอ|กรีดข้อมือ|กรีดแขน)", r"กินยา(นอนหลับ)?(เกินขนาด|ทั้งแผง|หมดขวด)(ให้ตาย)?",
    r"(กำลัง|ยืน)อยู่บน(ดาดฟ้า|สะพาน|ตึก).{0,15}(กระโดด|โดด|ตาย)",
    r"(กิน|ดื่ม)(ยา|ยาพิษ|ยาฆ่าแมลง|ยาฆ่าหญ้า|น้ำยา).{0,12}ให้ตาย", r"ทำให้ตัวเองตาย", r"(จะ|อยาก)ตายให้",
)
_SUICIDE = _rx(  # about someone else, or in words that also occur in other talk: suppressed by "about" markers
    r"ฆ่าตัวตาย", r"ผูกคอ", r"กรีดข้อมือ", r"ทำร้ายตัวเอง", r"(จะ|กำลัง)(กระโดด|โดด)(ตึก|สะพาน|น้ำ)",
)
_NOT_SUICIDE = _rx(r"(ขำ|หิว|ร้อน|ง่วง|เขิน|หนาว|เหนื่อย)(จน|จะ)?(แทบ)?อยากตาย")

# English, matched on the text with its spaces (word boundaries).
_ENGLISH = {
    SUICIDE: re.compile(r"\b(kill(ing)? my ?self|want(ed)? to die|suicid\w*|end my life)\b"),
    FIRE: re.compile(r"\b(fire|on fire|burning)\b(?! (me|him|her|them|you|us|employee|staff|worker)s?\b)(?!d)"),
    MEDICAL: re.compile(r"\b(ambulance|heart ?attack|not breathing|unconscious|stroke|overdose|drowning)\b"),
    DOMESTIC: re.compile(r"\b(domestic violence|human trafficking|child abuse)\b"),
    VIOLENCE: re.compile(r"\b(gun ?man|shooting|stabbed|robbery in progress|intruder)\b"),
}
_ENGLISH_ABOUT = re.compile(r"\b(law|act|section|penalty|insurance|claim|fired|severance|news|movie)\b")

_FAMILY = _rx(
    r"สามี", r"ผัว", r"แฟน", r"ภรรยา", r"ภริยา", r"เมีย", r"พ่อเลี้ยง", r"แม่เลี้ยง", r"พ่อ", r"แม่(?!น้ำ|ค้า|บ้าน)", r"ลูก(?!ค้า|น้อง)",
    r"พี่ชาย", r"พี่สาว", r"น้องชาย", r"ญาติ", r"ลุง", r"คนในบ้าน", r"ครอบครัว", r"นายจ้าง", r"ครูตี", r"ครู",
)
_HARM = _rx(
    r"ทำร้าย", r"ทุบตี", r"ตบตี", r"ตบหน้า", r"ตบหัว", r"ต่อย", r"กระทืบ", r"บีบคอ", r"ทารุณ", r"ข่มขืน", r"ล่วงละเมิด",
    r"ขู่(จะ)?ฆ่า", r"จะฆ่า", r"ใช้ความรุนแรง", r"ขัง(หนู|ผม|ฉัน|น้อง|ลูก|เด็ก|เมีย|แม่)", r"ไม่ให้(กินข้าว|กินอาหาร)", r"เอามีดขู่", r"ถือมีดขู่", r"เอาปืนขู่", r"ขังไว้", r"ขังหนู", r"ขังผม", r"ขังฉัน",
    r"(ซ้อม|เตะ|ตี|ตบ|ถีบ)(หนู|ผม|ฉัน|เรา|เมีย|ภรรยา|ลูก|แม่|น้อง|ท้อง|หัว|จน|ทุกวัน|บ่อย|อีกแล้ว)",
    r"(โดน|ถูก)(ซ้อม|เตะ|ตี(?!ตรา|ความ|พิมพ์|ราคา|กลับ)|ตบ|ต่อย|ถีบ|ทุบ|ทำร้าย)",
)
_DOMESTIC = _rx(
    r"ความรุนแรงในครอบครัว", r"ถูกทารุณ", r"ทารุณกรรม", r"ทารุณเด็ก", r"ทำร้ายเด็ก", r"เด็ก.{0,8}(ถูก|โดน)(ทำร้าย|ทุบตี|ทารุณ|ล่วงละเมิด|ขัง)",
    r"ค้ามนุษย์", r"ถูกกักขัง", r"กักขังหน่วงเหนี่ยว", r"ยึด(พาสปอร์ต|หนังสือเดินทาง)", r"บังคับ(ค้าประเวณี|ขายบริการ|ให้ขายตัว)",
    r"(ถูก|โดน)หลอก(ไป|มา)(ทำงาน|ขายตัว|ค้าประเวณี)", r"ขายลูก", r"ล่วงละเมิดเด็ก", r"อนาจารเด็ก", r"(ทิ้ง|ทอดทิ้ง)(เด็ก|ลูก|ทารก)",
    r"เด็ก(ถูก|โดน)ทิ้ง", r"ไม่ให้(ออกจากบ้าน|กลับบ้าน)",
)
_VIOLENCE = _rx(
    r"ยิงกัน", r"ไล่ยิง", r"ไล่ฟัน", r"ไล่แทง", r"(ถือ|เอา|ชัก|พก|ควง)(มีด|ปืน|ดาบ|ขวาน|ไม้หน้าสาม)", r"จ่อยิง",
    r"จะ(แทง|ยิง|ฟัน)(คน|กัน|แม่|พ่อ|ลูก|เมีย|ผัว|หนู|ผม|ฉัน)", r"(โดน|ถูก)(ยิง|แทง|ฟัน|จี้|ปล้น|ชิง)",
    r"จี้(ปล้น|ชิง)", r"ปล้น(ร้าน|บ้าน|ธนาคาร|ทอง)", r"ชิงทรัพย์", r"วิ่งราว", r"กระชากกระเป๋า", r"ลักพาตัว", r"จับตัว(ไป|ลูก)", r"เรียกค่าไถ่",
    r"ขู่(จะ)?ฆ่า", r"ข่มขืน", r"ล่วงละเมิดทางเพศ", r"ลวนลาม", r"สะกดรอยตาม", r"ตามมาทำร้าย", r"(ยกพวก|วัยรุ่น)?ตีกัน", r"ทะเลาะวิวาท",
    r"(โจร|ขโมย|คนร้าย|คนแปลกหน้า)(ขึ้น|อยู่ใน|บุก|งัด|ปีน(เข้า)?|เข้า)(บ้าน|ห้อง|ร้าน)", r"มีคน(งัด|ปีน|บุก)(เข้า)?(บ้าน|ห้อง)",
    r"(โดน|ถูก).{0,10}ทำร้ายร่างกาย", r"มีคนจะทำร้าย", r"รุม(ทำร้าย|ตี|กระทืบ|ซ้อม|ต่อย)", r"เสียงปืน", r"(เรียก|โทร(หา|เรียก)?|เบอร์)ตำรวจ",
)


def normalise(text: str) -> str:
    """What the lexicon is matched against: NFC, Arabic digits, emphasis runs once, no spaces, lower case."""
    text = unicodedata.normalize("NFC", text or "")
    text = _ZERO_WIDTH.sub("", text)
    text = normalise_char_runs(text)[0]
    text = text.replace("ๆๆ", "ๆ")
    return _SPACE.sub("", text).lower()


def detect(text: str) -> Emergency | None:
    """The emergency this message is about (None: none, or it is only talked about)."""
    t = normalise(text)
    if not t or t.startswith("/"):  # a button's payload, not words
        return None
    spaced = _SPACE.sub(" ", unicodedata.normalize("NFC", text)).lower()
    urgent = bool(_URGENT.search(t))
    about = bool(_ABOUT.search(t) or _ENGLISH_ABOUT.search(spaced)) and not urgent
    over = bool(_PAST.search(t)) and not urgent
    english = {c for c, rx in _ENGLISH.items() if rx.search(spaced)}
    found: list[str] = []
    if (_SUICIDE_STRONG.search(t) and not _NOT_SUICIDE.search(t)) or (not about and (_SUICIDE.search(t) or SUICIDE in english)):
        found.append(SUICIDE)
    if not about:
        if not over and (_FIRE.search(t) or (urgent and _FIRE_WEAK.search(t)) or FIRE in english):
            found.append(FIRE)
        accident = _ACCIDENT.search(t) and _SEVERE.search(t) and not (_ANIMAL.search(t) and not _PERSON.search(t))
        if not over and (_MEDICAL.search(t) or accident or MEDICAL in english):
            found.append(MEDICAL)
        if _DOMESTIC.search(t) or (_FAMILY.search(t) and _HARM.search(t)) or DOMESTIC in english:
            found.append(DOMESTIC)
        if not over and (_VIOLENCE.search(t) or VIOLENCE in english):
            found.append(VIOLENCE)
    if not found:
        return None
    ordered = tuple(c for c in CATEGORIES if c in found)
    return Emergency(ordered[0], ordered)

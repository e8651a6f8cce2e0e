"""Masking catches personal numbers in the formats people really type (issue #16)."""

from __future__ import annotations

import pytest

from storage.masking import mask_entities, mask_personal_data

NBSP = "\u00a0"
EN_DASH = "\u2013"


@pytest.mark.parametrize(
    "text, masked",
    [
        # phones
        ("โทร (02) 123 4567 ค่ะ", "โทร <เบอร์โทร> ค่ะ"),
        ("(02)123-4567", "<เบอร์โทร>"),
        ("สำนักงาน (053) 123 456", "สำนักงาน <เบอร์โทร>"),
        ("(081) 234-5678", "<เบอร์โทร>"),
        ("เบอร์ 081 - 234 - 5678 นะครับ", "เบอร์ <เบอร์โทร> นะครับ"),
        ("081/234/5678", "<เบอร์โทร>"),
        (f"081{NBSP}234{NBSP}5678", "<เบอร์โทร>"),
        (f"081{EN_DASH}234{EN_DASH}5678", "<เบอร์โทร>"),
        ("081\u2014234\u20145678", "<เบอร์โทร>"),
        ("０８１－２３４－５６７８", "<เบอร์โทร>"),
        ("０８１２３４５６７８", "<เบอร์โทร>"),
        ("โทร0812345678", "โทร<เบอร์โทร>"),
        ("+66 (0) 81 234 5678", "<เบอร์โทร>"),
        ("(+66) 81-234-5678", "<เบอร์โทร>"),
        ("+๖๖ ๘๑ ๒๓๔ ๕๖๗๘", "<เบอร์โทร>"),
        (f"02{NBSP}-{NBSP}123{NBSP}4567", "<เบอร์โทร>"),
        # national ID numbers in any grouping
        ("1-2345-67890-12-3", "<เลขบัตรประชาชน>"),
        ("1 2345 67890 12 3", "<เลขบัตรประชาชน>"),
        ("12345 67890 123", "<เลขบัตรประชาชน>"),
        ("1234-567890-123", "<เลขบัตรประชาชน>"),
        (f"1{EN_DASH}2345{EN_DASH}67890{EN_DASH}12{EN_DASH}3", "<เลขบัตรประชาชน>"),
        (f"1{NBSP}2345{NBSP}67890{NBSP}12{NBSP}3", "<เลขบัตรประชาชน>"),
        ("1 - 2345 - 67890 - 12 - 3", "<เลขบัตรประชาชน>"),
        ("１２３４５６７８９０１２３", "<เลขบัตรประชาชน>"),
        # passports: one or two letters and 7 digits
        ("พาสปอร์ต AA1234567 ค่ะ", "พาสปอร์ต <เลขหนังสือเดินทาง> ค่ะ"),
        ("หนังสือเดินทางเลขที่AB1234567", "หนังสือเดินทางเลขที่<เลขหนังสือเดินทาง>"),
        ("passport: A1234567", "passport: <เลขหนังสือเดินทาง>"),
        ("aa1234567", "<เลขหนังสือเดินทาง>"),
        ("AA 1234567", "<เลขหนังสือเดินทาง>"),
        ("AA๑๒๓๔๕๖๗", "<เลขหนังสือเดินทาง>"),
        # several in one message
        ("ชื่อสมชาย โทร (02) 123 4567 บัตร 1-2345-67890-12-3 พาสปอร์ต AA1234567",
         "ชื่อสมชาย โทร <เบอร์โทร> บัตร <เลขบัตรประชาชน> พาสปอร์ต <เลขหนังสือเดินทาง>"),
    ],
)
def test_real_world_formats_are_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text).text == masked


@pytest.mark.parametrize("text", [
    "วันที่ 25/12/2567 เวลา 09:30", "นัด 01/12/2567", "REQ-000123", "req 000123", "T-42", "ABC1234567 เป็นรหัสสินค้า",
    "ค่าธรรมเนียม 1,500 บาท (รวม 7%)", "มาตรา 14 (1)", "สายด่วน 1111", "(02) 12", "ซอย 5 บ้านเลขที่ 99/123",
    "ปี 2566-2567", "AA123456", "AA12345678",
])
def test_ordinary_text_stays(text: str) -> None:
    assert mask_personal_data(text).text == text


def test_entity_offsets_survive_unusual_separators() -> None:
    text = f"โทร 081{NBSP}-{NBSP}234{NBSP}5678 เรื่องไฟดับ"
    masked = mask_personal_data(text)
    start = text.index("ไฟดับ")
    moved = mask_entities(masked, [{"entity": "service", "start": start, "end": start + 5, "value": "ไฟดับ"}])
    assert masked.text[moved[0]["start"]:moved[0]["end"]] == "ไฟดับ"

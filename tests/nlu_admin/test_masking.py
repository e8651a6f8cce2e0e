"""Personal data never reaches the capture table: national IDs, phones, e-mails are masked; senders are pseudonyms."""

from __future__ import annotations

import pytest

from storage.nlu_capture import capture_values, mask_entities, mask_personal_data, norm_key, normalise, person_key, pseudonym

SECRET = b"test-secret"


@pytest.mark.parametrize(
    "text, masked",
    [
        ("เลขบัตร 1-2345-67890-12-3 ครับ", "เลขบัตร <เลขบัตรประชาชน> ครับ"),
        ("เลขบัตร 1 2345 67890 12 3", "เลขบัตร <เลขบัตรประชาชน>"),
        ("บัตรประชาชน 1234567890123", "บัตรประชาชน <เลขบัตรประชาชน>"),
        ("เลข ๑-๒๓๔๕-๖๗๘๙๐-๑๒-๓ ค่ะ", "เลข <เลขบัตรประชาชน> ค่ะ"),
        ("เลข๑๒๓๔๕๖๗๘๙๐๑๒๓", "เลข<เลขบัตรประชาชน>"),
        ("โทร 081-234-5678 ด่วน", "โทร <เบอร์โทร> ด่วน"),
        ("เบอร์ 0812345678", "เบอร์ <เบอร์โทร>"),
        ("ติดต่อ 02 123 4567 หรือ 02-123-4567", "ติดต่อ <เบอร์โทร> หรือ <เบอร์โทร>"),
        ("+66 81 234 5678", "<เบอร์โทร>"),
        ("+66812345678", "<เบอร์โทร>"),
        ("เบอร์ ๐๘๑-๒๓๔-๕๖๗๘ นะคะ", "เบอร์ <เบอร์โทร> นะคะ"),
        ("ส่งมาที่ somchai.k+gov@gmail.com ครับ", "ส่งมาที่ <อีเมล> ครับ"),
        ("อีเมล สมชาย@ตัวอย่าง.ไทย", "อีเมล <อีเมล>"),
        ("mail: 0812345678@example.co.th", "mail: <อีเมล>"),
        ("บัญชี 1234 5678 9012 3456", "บัญชี <ตัวเลข>"),
    ],
)
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text).text == masked


@pytest.mark.parametrize("text", [
    "คำร้อง REQ-000123 ถึงไหนแล้ว", "T-42 เสร็จแล้ว", "ปี 2567 ค่าธรรมเนียม 1,500 บาท", "วันที่ 25/12/2567 เวลา 09:30",
    "พ.ร.บ.คอมพิวเตอร์ มาตรา 14", "ให้ 5 ดาว", "โทร 1111 สายด่วนรัฐบาล", "เลขที่ 12345678",
])
def test_ordinary_numbers_stay(text: str) -> None:
    assert mask_personal_data(text).text == text


def test_entities_move_onto_the_masked_text_and_personal_ones_go() -> None:
    text = "โทร 0812345678 เรื่องไฟดับที่ กทม."
    masked = mask_personal_data(text)
    start = text.index("กทม.")
    entities = [
        {"entity": "agency", "start": start, "end": start + 4, "value": "กรุงเทพมหานคร"},
        {"entity": "request_id", "start": 4, "end": 14, "value": "0812345678"},  # inside the phone number: dropped
    ]
    moved = mask_entities(masked, entities)
    assert moved == [{"entity": "agency", "start": masked.text.index("กทม."), "end": masked.text.index("กทม.") + 4, "value": "กรุงเทพมหานคร"}]
    assert masked.text[moved[0]["start"]:moved[0]["end"]] == "กทม."


def test_capture_row_is_masked_and_pseudonymous() -> None:
    nlu = {"intent": "request_service", "confidence": 0.52, "entities": [], "ranking": [{"name": "request_service", "confidence": 0.52}]}
    metadata = {"channel": "line", "user_id": "U1234567890abcdef", "chat_id": "U1234567890abcdef", "chat_type": "private",
                "display_name": "สมศรี ใจดี"}
    row = capture_values(text="  ขอคืนเงิน เลขบัตร 3-1001-00123-45-6 โทร 089-999-8888 ", conversation="line:U1234567890abcdef",
                         metadata=metadata, nlu=nlu, secret=SECRET)
    assert row is not None
    assert row["text"] == "ขอคืนเงิน เลขบัตร <เลขบัตรประชาชน> โทร <เบอร์โทร>"
    assert row["sender"] == pseudonym("line:U1234567890abcdef", SECRET) and "U123" not in row["sender"]
    assert "สมศรี" not in str(row) and "U1234567890abcdef" not in str(row)
    assert row["channel"] == "line" and row["intent"] == "request_service" and row["confidence"] == 0.52
    assert row["via_payload"] is False and row["status"] == "new"


def test_pseudonyms_need_the_secret_and_follow_the_person_not_the_chat() -> None:
    assert pseudonym("line:U1", b"a") != pseudonym("line:U1", b"b")
    assert person_key("line-group:G1", {"channel": "line", "user_id": "U1", "chat_id": "G1"}) == "line:U1"
    assert person_key("line:U1", {}) == "line:U1"
    assert person_key("web:w1", {"channel": "line", "user_id": "U100", "chat_id": "w1", "via": "local_chat"}) == "line:U100"


def test_button_payloads_are_marked_and_empty_texts_skipped() -> None:
    nlu = {"intent": "help", "confidence": 1.0}
    assert capture_values(text="/help", conversation="web:1", metadata={}, nlu=nlu, secret=SECRET)["via_payload"] is True
    assert capture_values(text="   ", conversation="web:1", metadata={}, nlu=nlu, secret=SECRET) is None


def test_normalised_wording_groups_spelling_variants() -> None:
    assert normalise("สวัสดีครับบบบ!!") == "สวัสดี"
    assert normalise("ต่อใบขับขี่ยังไงคะ") == "ต่อใบขับขี่ยังไง"
    assert norm_key("ต่อใบขับขี่ยังไงคะ") == norm_key("ต่อใบขับขี่ ยังไง ครับ!")
    assert norm_key("โทร <เบอร์โทร> ด่วน") == norm_key("โทร <เบอร์โทร> ด่วน!")
    assert normalise("HELLO ๑๒๓") == "hello 123" and normalise("ขอ form ภาษี") == "ขอ form ภาษี"

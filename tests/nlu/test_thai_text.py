"""Thai segmentation: text -> tokens -> offsets (shared by the Rasa tokenizer)."""

from __future__ import annotations

import pytest

from common.thai_text import normalise, tokenize


@pytest.mark.parametrize(
    ("text", "expected_tokens", "expected_offsets"),
    [
        ("สวัสดีครับ", ["สวัสดี", "ครับ"], [(0, 6), (6, 10)]),
        ("ขอดูสถานะ REQ-000123 หน่อยค่ะ", ["ขอ", "ดู", "สถานะ", "req-000123", "หน่อย", "ค่ะ"],
         [(0, 2), (2, 4), (4, 9), (10, 20), (21, 26), (26, 29)]),
        ("req๐๐๐๑๒๓ถึงไหนแล้ว", ["req000123", "ถึง", "ไหน", "แล้ว"], [(0, 9), (9, 12), (12, 15), (15, 19)]),
        ("ขอบคุณมากกกกก", ["ขอบคุณ", "มาก"], [(0, 6), (6, 13)]),
        ("T-42 เสร็จแล้ว 60%", ["t-42", "เสร็จ", "แล้ว", "60%"], [(0, 4), (5, 10), (10, 14), (15, 18)]),
        ("ประชุม ๑๓.๓๐ น.", ["ประชุม", "13.30", "น"], [(0, 6), (7, 12), (13, 14)]),
        ("พ.ร.บ.คอม", ["พ.ร.บ.", "คอม"], [(0, 6), (6, 9)]),
        ("hello ครับ PDPA", ["hello", "ครับ", "pdpa"], [(0, 5), (6, 10), (11, 15)]),
        ("   ", [], []),
        ("🙏", ["🙏"], [(0, 1)]),
    ],
)
def test_tokens_and_offsets(text: str, expected_tokens: list[str], expected_offsets: list[tuple[int, int]]) -> None:
    pieces = tokenize(text)
    assert [p.text for p in pieces] == expected_tokens
    assert [(p.start, p.end) for p in pieces] == expected_offsets


@pytest.mark.parametrize(
    "text",
    ["ทํางานเสร็จแล้ว", "ไปทําบัตรประชาชนที่ไหนคะ", "ค่าาาาาา ขอบคุณงับบบบ", "แจ้ง REQ-๐๐๐๑๒๓ ด่วน!!!", "กทม.ไฟถนนดับ 😭😭"],
)
def test_offsets_always_point_into_the_original_text(text: str) -> None:
    pieces = tokenize(text)
    assert pieces, "every non-blank message yields tokens"
    previous_end = 0
    for piece in pieces:
        original = text[piece.start : piece.end]
        assert piece.start >= previous_end
        assert normalise(original).lower().startswith(piece.text.rstrip(".")) or piece.text == normalise(original).lower()
        previous_end = piece.end


def test_two_glyph_sara_am_and_thai_digits_are_normalised() -> None:
    assert normalise("ทํา") == "ทำ"
    assert normalise("๒๕๖๙") == "2569"
    assert [p.text for p in tokenize("ทํางาน")] == ["ทำงาน"]


def test_extra_words_keep_names_whole() -> None:
    assert "สำนักงานพัฒนารัฐบาลดิจิทัล" not in [p.text for p in tokenize("ติดต่อสำนักงานพัฒนารัฐบาลดิจิทัล")]
    pieces = tokenize("ติดต่อสำนักงานพัฒนารัฐบาลดิจิทัล", extra_words=["สำนักงานพัฒนารัฐบาลดิจิทัล"])
    assert [p.text for p in pieces] == ["ติดต่อ", "สำนักงานพัฒนารัฐบาลดิจิทัล"]


def test_entity_boundaries_split_tokens_and_absorb_trailing_dot() -> None:
    text = "ส่งกทม.ภายในวันศุกร์"
    pieces = tokenize(text, boundaries=[3, 7])
    spans = [(p.start, p.end) for p in pieces]
    assert (3, 7) in spans
    assert text[3:7] == "กทม."


@pytest.mark.parametrize("text,expected", [
    ("ให้ กทม. รับผิดชอบ", ["ให้", "กทม.", "รับผิดชอบ"]),
    ("มอบหมายให้ สปสช.", ["มอบหมาย", "ให้", "สปสช."]),
    ("14.00 น. ประชุม", ["14.00", "น.", "ประชุม"]),
    ("ป.แพ่ง เรื่องกู้ยืม", ["ป.", "แพ่ง", "เรื่อง", "กู้ยืม"]),
    ("ขอบคุณครับ.", ["ขอบคุณ", "ครับ"]),  # a word with vowels is not an abbreviation: the full stop goes
])
def test_abbreviations_keep_their_dot_when_asked(text: str, expected: list[str]) -> None:
    assert [p.text for p in tokenize(text, abbreviation_dots=True)] == expected
    pieces = tokenize(text, abbreviation_dots=True)
    assert all(text[p.start:p.end] == p.text for p in pieces)  # spans stay exact


def test_abbreviation_dots_are_off_by_default_and_an_annotation_still_wins() -> None:
    assert [p.text for p in tokenize("ให้ กทม. รับผิดชอบ")] == ["ให้", "กทม", "รับผิดชอบ"]
    # an annotation that ends before the dot keeps the token without it
    assert [p.text for p in tokenize("ให้ กทม. ครับ", boundaries=[4, 7], abbreviation_dots=True)][:2] == ["ให้", "กทม"]

from __future__ import annotations

import pytest

from common.ids import format_request_id, format_task_id, parse_request_id, parse_task_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [("REQ-000123", 123), ("req000123", 123), ("ขอดู req-๐๐๐๑๒๓ ครับ", 123), ("REQ 000045", 45), ("ไม่มีเลข", None), ("", None), ("T-42", None)],
)
def test_parse_request_id(text: str, expected: int | None) -> None:
    assert parse_request_id(text) == expected


@pytest.mark.parametrize(("text", "expected"), [("T-42", 42), ("t42", 42), ("งาน T-๔๒ เสร็จ", 42), ("42", 42), ("REQ-000123", None), ("test", None)])
def test_parse_task_id(text: str, expected: int | None) -> None:
    assert parse_task_id(text) == expected


def test_format_ids() -> None:
    assert format_request_id(123) == "REQ-000123"
    assert format_task_id(7) == "T-7"

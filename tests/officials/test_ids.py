from __future__ import annotations

import pytest

from common.ids import format_request_id, format_task_id, parse_request_id, parse_task_id, sender_id


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


@pytest.mark.parametrize(
    ("channel", "chat_id", "chat_type", "expected"),
    [
        ("line", "Uabc", "private", "line:Uabc"),
        ("line", "Cgroup", "group", "line-group:Cgroup"),
        ("line", "Rroom", "room", "line-group:Rroom"),
        ("telegram", "-1001", "supergroup", "telegram:-1001"),
        ("telegram", "42", "private", "telegram:42"),
        ("web", "w1", "private", "web:w1"),
    ],
)
def test_sender_id_is_todays_rule(channel: str, chat_id: str, chat_type: str, expected: str) -> None:
    assert sender_id(channel, chat_id, chat_type) == expected

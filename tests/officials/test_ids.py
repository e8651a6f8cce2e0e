from __future__ import annotations

import pytest

from common.ids import format_request_id, format_task_id, names_record, parse_request_id, parse_sender_id, parse_task_id, sender_id


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
    ("channel", "chat_id", "chat_type", "user_id", "expected"),
    [
        ("line", "Uabc", "private", "Uabc", "line:Uabc"),
        ("line", "Cgroup", "group", "U1", "line-group:Cgroup:U1"),
        ("line", "Rroom", "room", "U2", "line-group:Rroom:U2"),
        ("line", "Cgroup", "group", "", "line-group:Cgroup"),  # a LINE group event without a userId: the group's conversation
        ("line", "Cgroup", "group", None, "line-group:Cgroup"),
        ("telegram", "-1001", "supergroup", "111", "telegram:-1001:111"),
        ("telegram", "-1002", "group", "222", "telegram:-1002:222"),
        ("telegram", "42", "private", "42", "telegram:42"),
        ("web", "w1", "private", "w1", "web:w1"),
    ],
)
def test_sender_id_gives_each_group_member_a_conversation(channel: str, chat_id: str, chat_type: str, user_id: str | None,
                                                         expected: str) -> None:
    assert sender_id(channel, chat_id, chat_type, user_id) == expected


def test_two_members_of_one_group_never_share_a_conversation() -> None:
    assert sender_id("telegram", "-1001", "supergroup", "111") != sender_id("telegram", "-1001", "supergroup", "222")
    assert sender_id("line", "C1", "group", "U1") != sender_id("line", "C1", "group", "U2")
    # the same person in two groups, and in their 1:1 chat: three conversations
    assert len({sender_id("telegram", "-1", "group", "7"), sender_id("telegram", "-2", "group", "7"), sender_id("telegram", "7", "private", "7")}) == 3


@pytest.mark.parametrize(
    ("sender", "channel", "chat_id", "user_id", "group"),
    [
        ("telegram:-1001:111", "telegram", "-1001", "111", True),
        ("line-group:C1:U1", "line", "C1", "U1", True),
        ("line-group:C1", "line", "C1", "", True),  # no member known
        ("telegram:-1001", "telegram", "-1001", "", True),  # a group-wide conversation stored before per-member ids
        ("line:U1", "line", "U1", "U1", False),
        ("telegram:42", "telegram", "42", "42", False),
        ("web:w1", "web", "w1", "w1", False),
    ],
)
def test_a_sender_id_reads_back_into_its_parts(sender: str, channel: str, chat_id: str, user_id: str, group: bool) -> None:
    parsed = parse_sender_id(sender)
    assert (parsed.channel, parsed.chat_id, parsed.user_id, parsed.group) == (channel, chat_id, user_id, group)
    assert parsed.person == (f"{channel}:{user_id}" if user_id else None)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("REQ-000004 รับเรื่องแล้ว", True),
        ("req๐๐๐๑๒๓ เสร็จแล้วค่ะ", True),
        ("เรื่อง REQ 12 ใครดูอยู่", True),
        ("T-5 เสร็จแล้ว", True),
        ("t12 done", True),
        ("อัปเดต T-๑๒ ด้วยนะ", True),
        ("ใครว่าง ไปกินข้าวกัน", False),
        ("ส่งแบบ t5 ไปแล้ว", False),
        ("ประชุม 10 โมง ห้อง 3", False),
        ("", False),
    ],
)
def test_names_record_tells_which_group_messages_are_for_the_bot(text: str, named: bool) -> None:
    assert names_record(text) is named

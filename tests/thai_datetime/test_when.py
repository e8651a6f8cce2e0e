"""`bot when` and parse_when on a table of what Thai officials write."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import cli
from common.thai_datetime import format_thai, parse_when

TABLE = yaml.safe_load((Path(__file__).with_name("expressions.yml")).read_text(encoding="utf-8"))
CASES = [dict(TABLE["defaults"], **case) for case in TABLE["cases"]]


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[c["text"] for c in CASES])
def test_expression(case: dict) -> None:
    result = parse_when(case["text"], datetime.fromisoformat(case["now"]))
    if case["expected"] is None:
        assert result is None
        return
    assert result is not None, "no date/time found"
    assert result.datetime.isoformat() == case["expected"]
    assert result.has_time is case["has_time"]


def test_bare_weekday_said_on_that_day_is_ambiguous() -> None:
    result = parse_when("วันอังคาร", datetime.fromisoformat("2026-11-24T10:00:00+07:00"))
    assert result is not None and result.ambiguous and result.reason


def test_span_points_at_the_expression() -> None:
    text = "เตือนทุกคนเรื่องประชุมพรุ่งนี้ 9 โมง"
    result = parse_when(text, datetime.fromisoformat("2026-11-24T10:00:00+07:00"))
    assert result is not None and text[result.span[0] : result.span[1]] == "พรุ่งนี้ 9 โมง"


def test_format_thai_uses_buddhist_era() -> None:
    moment = datetime.fromisoformat("2026-12-15T09:00:00+07:00")
    assert format_thai(moment) == "วันอังคารที่ 15 ธันวาคม 2569 เวลา 09:00 น."
    assert format_thai(moment, short=True) == "15 ธ.ค. 69 09:00 น."
    assert format_thai(moment, with_time=False) == "วันอังคารที่ 15 ธันวาคม 2569"


def test_cli_json_contract() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["when", "ประชุมพรุ่งนี้ บ่ายสอง", "--now", "2026-11-24T10:00:00+07:00", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    # the contract's fields keep their meaning; new information only as added fields
    assert {k: data[k] for k in ("datetime", "has_time")} == {"datetime": "2026-11-25T14:00:00+07:00", "has_time": True}
    assert data["needs_confirmation"] is False and "reason" not in data


def test_cli_json_says_when_to_confirm() -> None:
    result = CliRunner().invoke(cli, ["when", "9 ธ.ค. 2510", "--now", "2026-11-24T10:00:00+07:00", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["datetime"] == "1967-12-09T00:00:00+07:00" and data["has_time"] is False
    assert data["needs_confirmation"] is True and data["reason"]


def test_cli_exit_code_when_nothing_found() -> None:
    result = CliRunner().invoke(cli, ["when", "สวัสดีครับ", "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""


def test_cli_rejects_bad_now() -> None:
    result = CliRunner().invoke(cli, ["when", "พรุ่งนี้", "--now", "yesterday-ish"])
    assert result.exit_code == 2


def test_cli_human_output_in_thai() -> None:
    result = CliRunner().invoke(cli, ["when", "15 ธ.ค. 69 13.30 น.", "--now", "2026-11-24T10:00:00+07:00"])
    assert result.exit_code == 0 and "15 ธันวาคม 2569 เวลา 13:30 น." in result.output


# --- the officials' table: how they really type, with "confirm" where the bot must ask first

OFFICIALS = yaml.safe_load((Path(__file__).with_name("officials_expressions.yml")).read_text(encoding="utf-8"))
OFFICIAL_CASES = [dict(OFFICIALS["defaults"], **case) for case in OFFICIALS["cases"]]


def test_officials_table_is_big_enough() -> None:
    assert len(OFFICIAL_CASES) >= 100
    assert sum(c["expected"] == "confirm" for c in OFFICIAL_CASES) >= 15


@pytest.mark.parametrize("case", OFFICIAL_CASES, ids=[f"{c['text']}@{c['now'][:10]}" for c in OFFICIAL_CASES])
def test_officials_expression(case: dict) -> None:
    result = parse_when(case["text"], datetime.fromisoformat(case["now"]))
    if case["expected"] is None:
        assert result is None
        return
    assert result is not None, "no date/time found"
    if case["expected"] == "confirm":
        assert result.needs_confirmation and result.reason, result
        return
    assert not result.needs_confirmation, result.reason
    assert result.datetime.isoformat() == case["expected"]
    assert result.has_time is case["has_time"]


@pytest.mark.parametrize("case", [c for c in CASES + OFFICIAL_CASES if c["expected"] not in (None, "confirm")],
                         ids=lambda c: c["text"])
def test_no_written_date_lands_outside_the_plausible_years_unconfirmed(case: dict) -> None:
    """Whatever the text, a result more than a year back or two years ahead is never silent."""
    now = datetime.fromisoformat(case["now"])
    result = parse_when(case["text"], now)
    assert result is not None
    if not now.year - 1 <= result.datetime.year <= now.year + 2:
        assert result.needs_confirmation


@pytest.mark.parametrize("year", ["10", "14", "2510", "2514", "1967", "72", "2575", "2030"])
def test_explicit_day_and_month_with_any_year_outside_the_window_asks(year: str) -> None:
    now = datetime.fromisoformat("2026-11-24T10:00:00+07:00")
    result = parse_when(f"9 ธ.ค. {year}", now)
    assert result is not None and result.datetime.month == 12 and result.datetime.day == 9
    in_window = now.year - 1 <= result.datetime.year <= now.year + 2 and result.datetime >= now
    assert in_window or result.needs_confirmation


def test_reported_deadlines() -> None:
    """Issue #19: these were confirmed as B.E. 2510/2514 or the wrong Wednesday."""
    now = datetime.fromisoformat("2026-11-24T10:00:00+07:00")
    expected = {
        "9 ธ.ค. 10 โมง": "2026-12-09T10:00:00+07:00",
        "15 ธ.ค. 10.30 น.": "2026-12-15T10:30:00+07:00",
        "3 ม.ค. 14.00": "2027-01-03T14:00:00+07:00",
        "พุธที่ 9 ธ.ค. สิบโมง": "2026-12-09T10:00:00+07:00",
    }
    for text, iso in expected.items():
        result = parse_when(text, now)
        assert result is not None and result.datetime.isoformat() == iso and not result.needs_confirmation, text
    assert parse_when("ยกเลิกงาน T-2", now) is None


def test_weekday_contradicting_the_date_says_which_day_it_is() -> None:
    result = parse_when("พฤหัสที่ 9 ธ.ค. สิบโมง", datetime.fromisoformat("2026-11-24T10:00:00+07:00"))
    assert result is not None and result.needs_confirmation and "วันพุธ" in result.reason


def test_next_friday_said_on_sunday_names_both_dates() -> None:
    result = parse_when("ศุกร์หน้า", datetime.fromisoformat("2026-11-29T10:00:00+07:00"))
    assert result is not None and result.needs_confirmation
    assert "4 ธันวาคม" in result.reason and "11 ธันวาคม" in result.reason

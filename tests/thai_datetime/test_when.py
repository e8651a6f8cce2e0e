"""`bot when` and parse_when on a table of what Thai officials write."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import cli
from bot.thai_datetime import format_thai, parse_when

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

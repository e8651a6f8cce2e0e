"""`bot stats --json` prints the documented fields."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bot.cli import cli
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from tests.opengov.fixtures import LAND, fixture


def test_bot_stats_json(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as s:
        fixture(s)
    engine.dispose()
    out = CliRunner().invoke(cli, ["stats", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["dataset"] == "real" and data["k"] == 5 and "CC BY 4.0" in data["licence"]
    assert data["totals"]["received"] == 21 and data["totals"]["median_close_hours"] == 27.0
    land = data["agencies"][0]
    assert land["agency"] == LAND and land["services"][0]["rating_avg"] == 4.2
    assert set(land) >= {"received", "open", "resolved", "resolved_pct", "median_first_response_hours", "median_close_hours",
                         "reopened", "ratings", "rating_avg", "oldest_open_days", "forwarded", "services"}
    one = json.loads(CliRunner().invoke(cli, ["stats", "--json", "--agency", LAND]).output)
    assert [a["agency"] for a in one["agencies"]] == [LAND] and one["totals"]["received"] == 11
    text = CliRunner().invoke(cli, ["stats"]).output
    assert LAND in text and "ส่งต่อให้หน่วยงานอื่น 6 เรื่อง" in text

"""`bot demo seed` files flagged synthetic requests that never mix with real ones; `bot demo remove` deletes them."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import cli
from storage import demo
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models.opengov import ObstacleReport
from storage.models.services import RequestHistory, ServiceRequest
from storage.stats import DEMO, REAL, published
from tests.clock import START
from tests.opengov.fixtures import fixture


def test_seed_is_demo_only_and_remove_leaves_real_requests(db_engine) -> None:  # type: ignore[no-untyped-def]
    with session_scope(db_engine) as s:
        fixture(s)
        real_before = s.scalar(select(func.count()).select_from(ServiceRequest)) - 7  # the fixture has 7 demo requests
        made = demo.seed(s, count=300, weeks=6, now=START)
    assert made.requests == 300 and made.obstacles == 21
    with session_scope(db_engine) as s:
        real = published(s, dataset=REAL, now=START)
        shown = published(s, dataset=DEMO, now=START)
        assert real.totals.received == 21  # unchanged by the demo set (tests/opengov/test_stats.py)
        assert shown.totals.received > 200 and len(shown.agencies) >= 4  # busy services reach 5 a week
        assert shown.totals.median_close_hours is not None and shown.totals.rating_avg is not None and shown.totals.reopened > 0
        assert any(a.forwarded for a in shown.agencies)
        assert s.scalar(select(func.count()).where(ServiceRequest.citizen_key.is_not(None), ServiceRequest.channel == "web")) == 0
        masked = [r.reason for r in s.scalars(select(ObstacleReport))]
        assert not any("0812345678" in r for r in masked)
    with session_scope(db_engine) as s:
        again = demo.seed(s, count=50, weeks=2, now=START)  # replaces, never adds up
        assert demo.counts(s).requests == 50  # the earlier set (and the fixture's 7) were replaced
        gone = demo.remove(s)
    assert gone.requests == 50 and again.requests == 50
    with session_scope(db_engine) as s:
        assert s.scalar(select(func.count()).select_from(ServiceRequest)) == real_before
        assert s.scalar(select(func.count()).select_from(ObstacleReport)) == 0
        assert s.scalar(select(func.count()).select_from(RequestHistory).where(RequestHistory.request_id.not_in(select(ServiceRequest.id)))) == 0
        assert published(s, dataset=REAL, now=START).totals.received == 21


def test_cli_seed_status_remove(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    upgrade(make_engine(url))
    runner = CliRunner()
    assert "120 requests" in runner.invoke(cli, ["demo", "seed", "--count", "120", "--weeks", "3"]).output
    assert runner.invoke(cli, ["demo", "status"]).output.startswith("120 demo requests")
    assert "removed 120 demo requests" in runner.invoke(cli, ["demo", "remove"]).output

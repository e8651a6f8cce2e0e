"""The scheduler purges captures past NLU_CAPTURE_RETENTION_DAYS hourly."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from bot.scheduler import recurring
from storage.db import dispose_all, get_engine, session_scope
from storage.migrate import upgrade
from storage.models.base import utcnow
from storage.nlu_review import counts
from tests.nlu_admin.conftest import capture


def test_the_purge_job_is_installed() -> None:
    scheduler = BackgroundScheduler()
    recurring.install(scheduler)
    job = scheduler.get_job("nlu-capture-purge")
    assert job is not None and job.func_ref == "bot.scheduler.recurring:purge_nlu_captures"
    assert job.trigger.interval == timedelta(hours=1) and job.coalesce is True
    assert scheduler.get_job("daily-digest") is not None


def test_the_purge_job_applies_the_configured_retention(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from common.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'job.db'}")
    monkeypatch.setenv("NLU_CAPTURE_RETENTION_DAYS", "7")
    get_settings.cache_clear()
    engine = get_engine()
    upgrade(engine)
    try:
        capture(engine, "เก่า", "nlu_fallback", 0.1, at=utcnow() - timedelta(days=8))
        capture(engine, "ใหม่", "nlu_fallback", 0.1, at=utcnow() - timedelta(days=6))
        recurring.purge_nlu_captures()
        with session_scope(engine) as s:
            assert counts(s) == {"new": 1}
    finally:
        dispose_all()

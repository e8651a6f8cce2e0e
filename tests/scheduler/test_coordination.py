"""Coordination between schedulers: rate-limit shares, live nodes, recurring jobs once per period, `bot run --schedulers`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
import pytest

from bot.scheduler import nodes, recurring
from bot.scheduler.rate_limits import CHANNEL_RATES, TELEGRAM_GROUP_SPACING, RateLimiter
from storage.db import session_scope
from storage.models.base import utcnow
from storage.models.scheduler import SchedulerLease


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _sustained(limiter: RateLimiter, clock: FakeClock, channel: str, seconds: float) -> int:
    """How many messages the limiter lets through within `seconds` (each waits its turn)."""
    sent = 0
    end = clock.t + seconds
    while True:
        pause = limiter.delay(channel, f"U{sent}")
        if clock.t + pause > end:
            return sent
        clock.t += pause
        sent += 1


def test_line_budget_is_shared_between_live_schedulers() -> None:
    clock = FakeClock()
    one = RateLimiter(clock=clock)
    assert _sustained(one, clock, "line", 2.0) == pytest.approx(CHANNEL_RATES["line"] * 2, rel=0.1)
    clock2 = FakeClock()
    half = RateLimiter(schedulers=2, clock=clock2)
    assert _sustained(half, clock2, "line", 2.0) == pytest.approx(CHANNEL_RATES["line"], rel=0.1)
    assert CHANNEL_RATES["line"] < 2000, "below LINE's 2,000 push requests per second"


def test_telegram_stays_under_30_per_second_and_spaces_messages_to_one_group() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    assert _sustained(limiter, clock, "telegram", 4.0) <= 30 * 4
    waits = [limiter.delay("telegram", "-100123") for _ in range(3)]
    assert waits[1] >= TELEGRAM_GROUP_SPACING - 0.01 and waits[2] >= 2 * TELEGRAM_GROUP_SPACING - 0.01
    assert limiter.delay("telegram", "42") < 1.0, "another chat is not held up by the group's spacing"
    assert limiter.delay("web", "w1") == 0.0


def test_a_message_put_back_keeps_its_slot_and_later_ones_queue_behind_it() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    waits = [limiter.slot("telegram", "-100123", key, max_wait=2.0) for key in (1, 2, 3)]
    assert waits[0] == 0.0
    assert waits[1] == pytest.approx(TELEGRAM_GROUP_SPACING) and waits[2] == pytest.approx(2 * TELEGRAM_GROUP_SPACING)
    assert limiter.slot("telegram", "-100123", 4, max_wait=2.0) == pytest.approx(3 * TELEGRAM_GROUP_SPACING), "behind the held ones"
    clock.t += TELEGRAM_GROUP_SPACING
    assert limiter.slot("telegram", "-100123", 2, max_wait=2.0) == 0.0, "back at its slot: goes at once, takes no new slot"
    clock.t += TELEGRAM_GROUP_SPACING + 5.0  # message 3 comes back late
    assert limiter.slot("telegram", "-100123", 3, max_wait=2.0) == 0.0
    assert limiter.slot("telegram", "-100123", 3, max_wait=2.0) > 0.0, "a slot is used once"


def test_live_scheduler_count(db_engine) -> None:
    ttl = timedelta(seconds=30)
    now = utcnow()
    nodes.heartbeat(db_engine, "a", ttl, now)
    nodes.heartbeat(db_engine, "b", ttl, now)
    nodes.heartbeat(db_engine, "a", ttl, now + timedelta(seconds=20))  # a renews, b does not
    assert nodes.live_count(db_engine, now + timedelta(seconds=10)) == 2
    assert nodes.live_count(db_engine, now + timedelta(seconds=40)) == 1
    nodes.leave(db_engine, "a")
    assert nodes.live_count(db_engine, now + timedelta(seconds=10)) == 1


def test_a_recurring_job_claims_its_period_once(db_engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from common.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", db_engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    recurring.set_owner("scheduler-a")
    assert recurring.claim_period("daily-digest", "2026-11-24")
    recurring.set_owner("scheduler-b")
    assert not recurring.claim_period("daily-digest", "2026-11-24"), "the second scheduler skips the same day"
    assert recurring.claim_period("daily-digest", "2026-11-25")
    assert recurring.claim_period("nlu-capture-purge", "2026-11-24")


def test_daily_digest_runs_once_per_day_however_often_it_fires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from common.settings import get_settings
    from storage.db import dispose_all, get_engine
    from storage.migrate import upgrade

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'digest.db'}")
    get_settings.cache_clear()
    upgrade(get_engine())
    calls: list[int] = []
    monkeypatch.setattr("storage.digest.queue_daily_digests", lambda session: calls.append(1) or 0)
    try:
        recurring.daily_digest()
        recurring.daily_digest()  # a second scheduler, or a hand-over, fires it again the same day
    finally:
        dispose_all()
    assert calls == [1]


def test_several_schedulers_need_postgresql(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bot.commands.run import build_services, check_schedulers
    from common.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'one.db'}")
    get_settings.cache_clear()
    settings = get_settings()
    check_schedulers(settings, 1)
    with pytest.raises(click.ClickException, match="PostgreSQL"):
        check_schedulers(settings, 2)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@127.0.0.1:5432/bot")
    get_settings.cache_clear()
    settings = get_settings()
    check_schedulers(settings, 3)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    schedulers = [s for s in build_services(settings, 5005, 3) if s.name.startswith("scheduler")]
    assert [s.name for s in schedulers] == ["scheduler-1", "scheduler-2", "scheduler-3"]
    assert all(s.command[-2:] == ["scheduler", "run"] for s in schedulers)


def test_a_dead_local_holder_of_the_lease_is_taken_over_at_once(db_engine) -> None:
    import os
    import subprocess
    import sys

    from bot.scheduler.lease import holder, instance_name, is_dead_local_owner, take_over_from_dead, try_acquire

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    host, namespace, _, _ = instance_name().rsplit(":", 3)
    dead = f"{host}:{namespace}:{gone.stdout.strip()}:abc123"
    alive = f"{host}:{namespace}:{os.getppid()}:abc123"
    assert is_dead_local_owner(dead)
    assert not is_dead_local_owner(alive)
    assert not is_dead_local_owner(f"another-machine:{namespace}:{gone.stdout.strip()}:abc123")
    assert not is_dead_local_owner(f"{host}:1:{gone.stdout.strip()}:abc123"), "another container's PID namespace"
    assert not is_dead_local_owner("old-style-name")
    ttl = timedelta(seconds=30)
    assert try_acquire(db_engine, alive, ttl)
    assert not take_over_from_dead(db_engine, "me", ttl), "a live holder keeps it"
    with session_scope(db_engine) as s:
        s.get(SchedulerLease, "followups").owner = dead
    assert not try_acquire(db_engine, "me", ttl)
    assert take_over_from_dead(db_engine, "me", ttl)
    assert holder(db_engine).owner == "me"

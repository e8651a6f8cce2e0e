"""Several scheduler processes on one PostgreSQL database; one of them SIGKILLed mid-run.

Nothing is lost, nothing arrives twice: rows are claimed per row, the survivor takes
the dead one's claims over once their lease expires (LINE rows resent with their retry
key, Telegram rows never resent), and a recurring job runs once per period while the
lease for the recurring jobs moves from the dead scheduler to the survivor.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from storage.db import session_scope
from storage.models.outbox import FAILED, SENT, Outbox
from storage.outbox import enqueue
from tests.scheduler.fake_push_api import FakePushApi

pytestmark = [pytest.mark.multiprocess, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
PROC = Path(__file__).with_name("scheduler_proc.py")
CLAIM_TTL = "2"  # seconds: the survivor takes a dead scheduler's rows over quickly


@pytest.fixture
def pg_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A fresh migrated PostgreSQL database (skipped without TEST_POSTGRES_URL, like `db_engine`)."""
    from tests.conftest import _fresh_postgres

    engine, drop = _fresh_postgres(request.getfixturevalue("_postgres_template"))
    yield engine
    drop()


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _start(engine: Engine, api: FakePushApi, *extra: str, elsewhere: bool = False) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), DATABASE_URL=_url(engine), SCHEDULER_ELSEWHERE="1" if elsewhere else "0")
    return subprocess.Popen([sys.executable, str(PROC), _url(engine), api.url, CLAIM_TTL, *extra], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(predicate, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _counts(engine: Engine) -> Counter[str]:
    with session_scope(engine) as s:
        return Counter(dict(s.execute(select(Outbox.state, func.count()).group_by(Outbox.state)).all()))


def _stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        proc.wait(timeout=30)


def _queue(engine: Engine, total: int, channel: str) -> None:
    with session_scope(engine) as s:
        for i in range(total):
            recipient = f"U{i}" if channel == "line" else f"-{i}"
            enqueue(s, kind="reminder", channel=channel, recipient=recipient, text=f"เตือน {i}", idempotency_key=f"{channel}:{i}")


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("kill_after", "elsewhere"), [(5, False), (150, False), (150, True)],
                         ids=["early", "midway", "midway-after-lease"])
def test_two_schedulers_one_sigkilled_line(pg_engine: Engine, kill_after: int, elsewhere: bool) -> None:
    total = 400
    _queue(pg_engine, total, "line")
    with FakePushApi(delay=0.01) as api:
        first, second = _start(pg_engine, api, elsewhere=elsewhere), _start(pg_engine, api)
        try:
            _wait(lambda: api.requests >= kill_after)
            first.send_signal(signal.SIGKILL)
            first.wait()
            _wait(lambda: _counts(pg_engine)[SENT] == total)
            assert second.poll() is None, "the survivor keeps running"
        finally:
            _stop(first, second)
        received = Counter(m["to"] for m in api.accepted)
    assert len(received) == total, "every follow-up arrived"
    assert max(received.values()) == 1, "no follow-up arrived twice"
    assert _counts(pg_engine) == Counter({SENT: total})


@pytest.mark.timeout(240)
def test_two_schedulers_one_sigkilled_telegram_never_twice(pg_engine: Engine) -> None:
    total = 80
    _queue(pg_engine, total, "telegram")
    with FakePushApi(delay=0.05) as api:
        first, second = _start(pg_engine, api, elsewhere=True), _start(pg_engine, api)  # taken over after the lease
        try:
            _wait(lambda: api.requests >= 10)
            first.send_signal(signal.SIGKILL)
            first.wait()
            _wait(lambda: _counts(pg_engine)[SENT] + _counts(pg_engine)[FAILED] == total)
        finally:
            _stop(first, second)
        received = Counter(m["to"] for m in api.accepted)
    counts = _counts(pg_engine)
    assert max(received.values()) == 1, "Telegram has no retry key: an in-flight message is never resent"
    assert counts[SENT] + counts[FAILED] == total, "nothing silently lost: unknown outcomes are marked failed"
    assert counts[SENT] <= len(received) <= counts[SENT] + counts[FAILED]
    with session_scope(pg_engine) as s:
        errors = list(s.scalars(select(Outbox.last_error).where(Outbox.state == FAILED)))
    assert all(e.startswith("outcome unknown") for e in errors)


@pytest.mark.timeout(240)
def test_three_schedulers_share_the_work_exactly_once(pg_engine: Engine) -> None:
    total = 600
    _queue(pg_engine, total, "line")
    with FakePushApi(delay=0.005) as api:
        procs = [_start(pg_engine, api) for _ in range(3)]
        try:
            _wait(lambda: _counts(pg_engine)[SENT] == total)
        finally:
            _stop(*procs)
        received = Counter(m["to"] for m in api.accepted)
    assert len(received) == total and max(received.values()) == 1
    assert _counts(pg_engine) == Counter({SENT: total})


@pytest.mark.timeout(240)
def test_a_recurring_job_runs_once_per_period_across_a_sigkill(pg_engine: Engine, tmp_path: Path) -> None:
    log = tmp_path / "ticks.log"

    def runs() -> list[tuple[str, str]]:
        if not log.exists():
            return []
        return [tuple(line.split(" ", 1)) for line in log.read_text().splitlines() if line]  # type: ignore[misc]

    with FakePushApi() as api:
        first = _start(pg_engine, api, str(log))
        second = None
        try:
            _wait(lambda: len(runs()) >= 2)  # the first one holds the lease and runs the jobs
            second = _start(pg_engine, api, str(log))
            _wait(lambda: len(runs()) >= 6)
            leader = {owner for _, owner in runs()}
            assert len(leader) == 1, "while both live, one scheduler runs the recurring jobs"
            first.send_signal(signal.SIGKILL)
            first.wait()
            # the survivor takes the lease over (after its TTL) and runs the jobs from then on
            _wait(lambda: sum(1 for _, owner in runs() if owner not in leader) >= 3)
        finally:
            _stop(first, *([second] if second else []))
    periods = Counter(period for period, _ in runs())
    assert max(periods.values()) == 1, "each period ran once, not once per scheduler"

"""Kill the scheduler process (SIGKILL) mid-delivery and restart it: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models.outbox import FAILED, SENT, Outbox
from storage.outbox import enqueue
from tests.scheduler.fake_push_api import FakePushApi

pytestmark = pytest.mark.multiprocess

ROOT = Path(__file__).resolve().parents[2]
PROC = Path(__file__).with_name("scheduler_proc.py")
pytestmark = [pytest.mark.kill, pytest.mark.multiprocess]


def _start(db_url: str, api: FakePushApi) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, str(PROC), db_url, api.url], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _counts(engine) -> Counter[str]:
    with session_scope(engine) as s:
        return Counter(dict(s.execute(select(Outbox.state, func.count()).group_by(Outbox.state)).all()))


@pytest.mark.timeout(180)
@pytest.mark.parametrize("kill_after", [1, 40, 110])
def test_sigkill_during_line_delivery_loses_and_duplicates_nothing(tmp_path: Path, kill_after: int) -> None:
    db_url = f"sqlite:///{tmp_path / 'kill.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    total = 150
    with session_scope(engine) as s:
        for i in range(total):
            enqueue(s, kind="reminder", channel="line", recipient=f"U{i}", text=f"เตือน {i}", idempotency_key=f"k{i}")
    with FakePushApi(delay=0.01) as api:
        first = _start(db_url, api)
        try:
            _wait(lambda: api.requests >= kill_after)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        second = _start(db_url, api)
        try:
            _wait(lambda: _counts(engine)[SENT] == total)
        finally:
            second.terminate()
            second.wait(timeout=30)
        received = Counter(m["to"] for m in api.accepted)
    assert len(received) == total, "every follow-up arrived"
    assert max(received.values()) == 1, "no follow-up arrived twice"


@pytest.mark.timeout(120)
def test_second_scheduler_is_refused(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'lease.db'}"
    upgrade(make_engine(db_url))
    with FakePushApi() as api:
        first = _start(db_url, api)
        try:
            time.sleep(3)  # first one takes the lease
            env = dict(os.environ, PYTHONPATH=str(ROOT), DATABASE_URL=db_url)
            second = subprocess.run([sys.executable, "-m", "bot.cli", "scheduler", "run", "--no-wait"], env=env, cwd=ROOT,
                                    capture_output=True, text=True, timeout=60)
        finally:
            first.terminate()
            first.wait(timeout=30)
    assert second.returncode == 3
    assert "already running" in second.stderr


@pytest.mark.timeout(120)
def test_sigkill_during_telegram_delivery_never_sends_twice(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'tg.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    total = 60
    with session_scope(engine) as s:
        for i in range(total):
            enqueue(s, kind="reminder", channel="telegram", recipient=f"-{i}", text="x", idempotency_key=f"t{i}")
    with FakePushApi(delay=0.02) as api:
        first = _start(db_url, api)
        try:
            _wait(lambda: api.requests >= 10)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        second = _start(db_url, api)
        try:
            _wait(lambda: _counts(engine)[SENT] + _counts(engine)[FAILED] == total)
        finally:
            second.terminate()
            second.wait(timeout=30)
        received = Counter(m["to"] for m in api.accepted)
    counts = _counts(engine)
    assert max(received.values()) == 1, "Telegram has no retry key: never resend an in-flight message"
    assert counts[SENT] + counts[FAILED] == total, "nothing silently lost: unknown outcomes are marked failed"
    assert counts[SENT] >= len(received) - counts[FAILED]

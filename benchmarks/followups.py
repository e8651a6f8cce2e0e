"""Follow-up delivery benchmark.

10,000 follow-ups fall due within a short window; the real scheduler process
delivers them to a fake push API on 127.0.0.1 that deduplicates by retry key like
LINE. Prints delivered/duplicates/lost, lateness p50/p95/max, deliveries per
second and the scheduler's peak memory; then the same with a SIGKILL and restart
in the middle.

Run: `.venv/bin/python -m benchmarks.followups [--count 10000] [--window 10]`
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models.base import utcnow
from storage.models.outbox import SENT, Outbox
from storage.outbox import enqueue
from tests.scheduler.fake_push_api import FakePushApi

ROOT = Path(__file__).resolve().parent.parent
PROC = ROOT / "tests" / "scheduler" / "scheduler_proc.py"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def run(count: int, window: float, kill_at: float | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="followups-bench-"))
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    start = utcnow() + timedelta(seconds=5)
    with session_scope(engine) as s:
        for i in range(count):
            due = start + timedelta(seconds=window * i / count)
            enqueue(s, kind="reminder", channel="line", recipient=f"U{i}", text=due.isoformat(), idempotency_key=f"bench:{i}", due_at=due)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with FakePushApi() as api:
        arrivals: dict[str, float] = {}
        proc = subprocess.Popen([sys.executable, str(PROC), db_url, api.url], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        memory = 0.0
        killed = False
        first_arrival = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            time.sleep(0.05)
            memory = max(memory, peak_rss_mb(proc.pid))
            for m in api.accepted[len(arrivals):]:
                arrivals.setdefault(m["to"], time.time())
            if arrivals and first_arrival is None:
                first_arrival = time.time()
            if kill_at is not None and not killed and len(api.accepted) >= count * kill_at:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                killed = True
                proc = subprocess.Popen([sys.executable, str(PROC), db_url, api.url], env=env, cwd=ROOT,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with session_scope(engine) as s:
                sent = s.scalar(select(func.count()).select_from(Outbox).where(Outbox.state == SENT))
            if sent == count:
                break
        proc.terminate()
        proc.wait(timeout=30)
        for m in api.accepted[len(arrivals):]:
            arrivals.setdefault(m["to"], time.time())
        received = Counter(m["to"] for m in api.accepted)
        lateness = []
        for m in api.accepted:
            due = datetime.fromisoformat(m["text"]).timestamp()
            lateness.append(max(0.0, arrivals[m["to"]] - due))
        duration = (max(arrivals.values()) - first_arrival) if arrivals and first_arrival else float("nan")
    label = "with SIGKILL + restart at {:.0%}".format(kill_at) if kill_at is not None else "steady"
    print(f"== {count} follow-ups due within {window:.0f} s ({label})")
    print(f"delivered {len(received)}/{count}, duplicates {sum(v - 1 for v in received.values())}, lost {count - len(received)}, "
          f"platform requests {api.requests} (retries answered 409 by the retry key)")
    print(f"lateness p50 {percentile(lateness, 50) * 1000:.0f} ms, p95 {percentile(lateness, 95) * 1000:.0f} ms, max {max(lateness) * 1000:.0f} ms")
    print(f"throughput {len(received) / duration if duration else float('nan'):.0f} deliveries/s over {duration:.1f} s; "
          f"scheduler peak RSS {memory:.0f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=10.0, help="seconds over which the follow-ups fall due")
    args = parser.parse_args()
    run(args.count, args.window, None)
    run(args.count, args.window, 0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())

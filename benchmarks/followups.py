"""Follow-up delivery benchmark.

10,000 follow-ups fall due uniformly within a 10 s window; N real scheduler processes
deliver them to a fake push API on 127.0.0.1 that deduplicates by retry key like LINE.
Prints delivered/duplicates/lost, lateness p50/p95/max (arrival at the API minus due
time), deliveries per second and the schedulers' peak memory; then the same with one
scheduler SIGKILLed when half the follow-ups have arrived (and restarted, as a
supervisor would; with N >= 2 the survivors take its claims over once their lease expires).

Several schedulers need PostgreSQL: `--database-url` (or TEST_POSTGRES_URL) names a
server where the benchmark creates and drops a database of its own. With one scheduler
and no URL it runs on a SQLite file.

Run: `.venv/bin/python -m benchmarks.followups --schedulers 2 [--count 10000] [--window 10]`
(figures include the fake API and the benchmark's own polling on the same machine).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text

from bot.scheduler.nodes import live_count
from storage.db import is_sqlite, make_engine, session_scope
from storage.migrate import upgrade
from storage.models.base import utcnow
from storage.models.outbox import PENDING, SENT, Outbox
from tests.scheduler.fake_push_api import FakePushApi

ROOT = Path(__file__).resolve().parent.parent
PROC = ROOT / "tests" / "scheduler" / "scheduler_proc.py"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


@contextmanager
def database(server_url: str | None) -> Iterator[str]:
    """A fresh database: on the PostgreSQL server given, else a SQLite file."""
    if not server_url:
        tmp = Path(tempfile.mkdtemp(prefix="followups-bench-"))
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    from sqlalchemy.engine import make_url

    from storage.db import normalise_url

    name = f"bench_followups_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(server_url)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(db_url: str, count: int, window: float, schedulers: int, kill_at: float | None) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    env = dict(os.environ, PYTHONPATH=str(ROOT), DATABASE_URL=db_url)

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, str(PROC), db_url, api_url], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=open(os.environ["BENCH_LOG"], "ab") if os.environ.get("BENCH_LOG") else subprocess.DEVNULL)

    with FakePushApi() as api:
        api_url = api.url
        procs = [spawn() for _ in range(schedulers)]
        # schedulers are long-running: the window starts once all of them are up
        while live_count(engine) < schedulers:
            time.sleep(0.1)
        cpu = -sum(cpu_seconds(p.pid) for p in procs)  # the window's work only, not start-up
        start = utcnow() + timedelta(seconds=5)  # inserting 10,000 rows must be over by then
        rows = []
        for i in range(count):
            due = start + timedelta(seconds=window * i / count)
            rows.append({"kind": "reminder", "channel": "line", "recipient": f"U{i}", "payload": {"text": due.isoformat()},
                         "due_at": due, "state": PENDING, "urgent": False, "idempotency_key": f"bench:{i}", "attempts": 0,
                         "created_at": utcnow()})
        with session_scope(engine) as s:
            s.execute(insert(Outbox), rows)
        if not is_sqlite(db_url):
            with engine.begin() as conn:  # a production outbox has statistics (autovacuum); a fresh one not yet
                conn.execute(text("ANALYZE outbox"))
        if utcnow() > start:
            print(f"warning: the rows were inserted {(utcnow() - start).total_seconds():.1f} s after the window began", flush=True)
        memory = 0.0
        killed = False
        deadline = time.monotonic() + 600
        next_count = 0.0
        while time.monotonic() < deadline:
            time.sleep(0.05)
            memory = max([memory] + [peak_rss_mb(p.pid) for p in procs])
            if kill_at is not None and not killed and len(api.accepted) >= count * kill_at:
                cpu += cpu_seconds(procs[0].pid)
                procs[0].send_signal(signal.SIGKILL)
                procs[0].wait()
                killed = True
                procs[0] = spawn()
            if len(api.accepted) >= count and time.monotonic() >= next_count:
                next_count = time.monotonic() + 0.5  # counting rows is not free: only near the end
                with session_scope(engine) as s:
                    sent = s.scalar(select(func.count()).select_from(Outbox).where(Outbox.state == SENT))
                if sent == count:
                    break
        cpu += sum(cpu_seconds(p.pid) for p in procs)
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
        accepted = list(api.accepted)
        requests = api.requests
    received = Counter(m["to"] for m in accepted)
    arrivals = {m["to"]: m["at"] for m in reversed(accepted)}  # the first arrival of each
    lateness = [max(0.0, arrivals[m["to"]] - datetime.fromisoformat(m["text"]).timestamp()) for m in accepted]
    first_arrival = min(arrivals.values()) if arrivals else None
    duration = (max(arrivals.values()) - first_arrival) if arrivals and first_arrival else float("nan")
    engine.dispose()
    backend = "SQLite" if is_sqlite(db_url) else "PostgreSQL"
    label = f"one SIGKILLed + restarted at {kill_at:.0%}" if kill_at is not None else "steady"
    print(f"== {count} follow-ups due within {window:.0f} s, {schedulers} scheduler(s) on {backend} ({label})")
    print(f"delivered {len(received)}/{count}, duplicates {sum(v - 1 for v in received.values())}, lost {count - len(received)}, "
          f"platform requests {requests} (retries answered 409 by the retry key)")
    print(f"lateness p50 {percentile(lateness, 50) * 1000:.0f} ms, p95 {percentile(lateness, 95) * 1000:.0f} ms, "
          f"max {max(lateness) * 1000:.0f} ms")
    print(f"throughput {len(received) / duration if duration else float('nan'):.0f} deliveries/s over {duration:.1f} s; "
          f"peak RSS per scheduler {memory:.0f} MB; schedulers' CPU {cpu * 1000 / max(1, len(received)):.2f} ms per delivery "
          f"(a restarted one's start-up included; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=10.0, help="seconds over which the follow-ups fall due")
    parser.add_argument("--schedulers", type=int, default=1, help="scheduler processes (more than one needs PostgreSQL)")
    parser.add_argument("--database-url", default=os.environ.get("TEST_POSTGRES_URL", ""),
                        help="PostgreSQL server URL (a database is created and dropped there); default TEST_POSTGRES_URL")
    parser.add_argument("--no-kill", action="store_true", help="only the steady run")
    args = parser.parse_args()
    if args.schedulers > 1 and not args.database_url:
        parser.error("--schedulers > 1 needs PostgreSQL: pass --database-url or set TEST_POSTGRES_URL")
    runs = [None] if args.no_kill else [None, 0.5]
    for kill_at in runs:
        with database(args.database_url or None) as url:
            run(url, args.count, args.window, args.schedulers, kill_at)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""NLU capture benchmark: what recording each message's parse costs the gateway, and how fast the review queue is.

Run: `.venv/bin/python -m benchmarks.nlu_capture [--messages 2000] [--queue 5000] [--postgres URL]`.
Prints the CPU cost of building a capture row (masking, pseudonym, normalisation),
the latency of the storage call that marks an event done with and without the
capture (SQLite file; PostgreSQL too when a URL is given or TEST_POSTGRES_URL is
set), and the time to group and rank a review queue of N candidate messages.
Everything runs on a temporary database; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, insert, text

TEXTS = [
    "ต่อใบขับขี่ที่ไหนได้บ้างครับ", "แจ้งไฟถนนดับหน้าบ้าน ซอยสุขใจ 5", "ขอเบอร์ติดต่อเจ้าหน้าที่ 081-234-5678 โทรกลับด้วยค่ะ",
    "เลขบัตร 1-2345-67890-12-3 ลงทะเบียนเบี้ยยังชีพได้ไหม", "ส่งเอกสารไปที่ somchai.k@gmail.com ได้ไหม",
    "กฎหมายเกี่ยวกับการเช่าบ้าน", "คำร้อง REQ-000123 ถึงไหนแล้ว", "หมาหายแจ้งใคร", "ขยะไม่มาเก็บสามวันแล้ว", "สวัสดีครับ",
]
INTENTS = ["ask_service_info", "request_service", "human_handoff", "nlu_fallback", "search_law", "check_request_status", "greet"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def nlu_for(text_: str) -> dict:
    return {"intent": random.choice(INTENTS), "confidence": random.random(), "entities": [],
            "ranking": [{"name": "greet", "confidence": 0.5}, {"name": "help", "confidence": 0.2}]}


def row_cost(messages: int) -> list[float]:
    from storage.nlu_capture import capture_values

    secret = b"bench-secret"
    timings = []
    for i in range(messages):
        text_ = TEXTS[i % len(TEXTS)]
        started = time.perf_counter()
        capture_values(text=text_, conversation=f"line:U{i % 50}", metadata={"channel": "line", "user_id": f"U{i % 50}"},
                       nlu=nlu_for(text_), secret=secret)
        timings.append((time.perf_counter() - started) * 1e6)
    return timings


def done_latency(engine: Engine, messages: int, with_capture: bool) -> list[float]:
    from storage.inbound import mark_done, store_event
    from storage.nlu_capture import capture_values

    secret = b"bench-secret"
    ids = [store_event(engine, channel="line", external_id=uuid.uuid4().hex, conversation=f"line:U{i % 50}", text=TEXTS[i % len(TEXTS)],
                       metadata={"channel": "line", "user_id": f"U{i % 50}"}) for i in range(messages)]
    timings = []
    for i, event_id in enumerate(ids):
        text_ = TEXTS[i % len(TEXTS)]
        started = time.perf_counter()
        capture = capture_values(text=text_, conversation=f"line:U{i % 50}", metadata={"channel": "line", "user_id": f"U{i % 50}"},
                                 nlu=nlu_for(text_), secret=secret) if with_capture else None
        mark_done(engine, event_id, None, None, capture)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def queue_time(engine: Engine, rows: int) -> tuple[float, float, int]:
    from storage.db import session_scope
    from storage.models.base import utcnow
    from storage.models.nlu_capture import NluCapture
    from storage.nlu_capture import capture_values
    from storage.nlu_review import review_queue

    secret = b"bench-secret"
    words = ["ต่อ", "ใบขับขี่", "บัตรประชาชน", "ไฟถนน", "ดับ", "ขยะ", "หมา", "หาย", "ภาษี", "ที่ดิน", "ยังไง", "ที่ไหน", "ครับ", "ค่ะ"]
    values = []
    for i in range(rows):
        text_ = "".join(random.choice(words) for _ in range(random.randint(2, 5)))
        row = capture_values(text=text_, conversation=f"line:U{i}", metadata={}, nlu={"intent": "nlu_fallback", "confidence": 0.3},
                             secret=secret, now=utcnow())
        values.append(row)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM nlu_captures"))
        conn.execute(insert(NluCapture.__table__), values)
    from common.thai_text import tokenize

    tokenize("อุ่นเครื่อง")  # the dictionary loads once per process
    started = time.perf_counter()
    with session_scope(engine) as s:
        groups = review_queue(s, limit=50, max_rows=rows)
    first = time.perf_counter() - started
    started = time.perf_counter()
    with session_scope(engine) as s:
        review_queue(s, limit=50, max_rows=rows)
    return first, time.perf_counter() - started, len(groups)


def report_backend(name: str, engine: Engine, messages: int) -> None:
    off = done_latency(engine, messages, with_capture=False)
    on = done_latency(engine, messages, with_capture=True)
    print(f"{name}: mark_done p50/p95  without capture {pct(off, 50):.2f}/{pct(off, 95):.2f} ms,"
          f"  with capture {pct(on, 50):.2f}/{pct(on, 95):.2f} ms  (+{statistics.median(on) - statistics.median(off):.2f} ms median)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--queue", type=int, default=5000)
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    random.seed(7)

    from storage.db import make_engine
    from storage.migrate import upgrade

    timings = row_cost(args.messages)
    print(f"== NLU capture ({args.messages} messages)")
    print(f"capture row (mask + pseudonym + normalise): p50 {pct(timings, 50):.0f} µs, p95 {pct(timings, 95):.0f} µs")
    with tempfile.TemporaryDirectory(prefix="nlu-capture-bench-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        report_backend("SQLite    ", engine, args.messages)
        first, again, groups = queue_time(engine, args.queue)
        print(f"review queue of {args.queue} candidates -> {groups} groups shown: {first * 1000:.0f} ms (then {again * 1000:.0f} ms)")
        engine.dispose()
    if args.postgres:
        from sqlalchemy.engine import make_url

        from storage.db import normalise_url

        base = make_url(normalise_url(args.postgres))
        name = f"bench_nlu_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            engine = make_engine(base.set(database=name).render_as_string(hide_password=False))
            upgrade(engine)
            report_backend("PostgreSQL", engine, args.messages)
            engine.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Whole conversations through the real path: pass rate per file and per category.

Runs the scenario files (`tests/scenarios/*.yml`, format in docs/testing.md) against a
live stack — the Rasa server with the trained model, the action server, the gateway and
the scheduler on 127.0.0.1, with fake LINE and Telegram platform APIs — speaking through
signed LINE webhooks and secret-token Telegram updates, and prints the pass rate per
file and per category and every failure with its transcript.

Run: `.venv/bin/python -m benchmarks.conversations [FILES...] [--only ID] [--concurrency 6]`

The stack runs on the tests' injected clock (10:00 in Bangkok on tests/clock.py's day,
outside citizens' quiet hours) unless `--real-clock`. Exit status 1 when a scenario
that is expected to pass fails (known failures are reported, not counted).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.conversations", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="scenario files (default: tests/scenarios/*.yml)")
    parser.add_argument("--only", action="append", default=[], metavar="ID", help="run only this scenario id (repeatable; a prefix ends with *)")
    parser.add_argument("--category", action="append", default=[], help="run only scenarios of this category (repeatable)")
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("SCENARIO_CONCURRENCY", "6")),
                        help="scenarios run at once against the one stack (default 6)")
    parser.add_argument("--postgres", metavar="SERVER_URL", nargs="?", const=os.environ.get("TEST_POSTGRES_URL", ""),
                        help="run the stack on a fresh PostgreSQL database on this server (default: TEST_POSTGRES_URL), dropped after")
    parser.add_argument("--redis", metavar="URL", default=os.environ.get("TEST_REDIS_URL") or None,
                        help="Redis for Rasa's lock store (default: TEST_REDIS_URL when set)")
    parser.add_argument("--real-clock", action="store_true", help="do not start the stack on the tests' injected clock")
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory (logs, databases) and print where")
    parser.add_argument("--transcripts", action="store_true", help="print every scenario's transcript, not only failures")
    args = parser.parse_args(argv)

    from common import clock
    from tests.live.scenarios import load_all, run_scenarios, summary
    from tests.live.stack import LiveStack, StackError, fresh_postgres_database

    if not args.real_clock:
        from tests.clock import START

        clock.start_at(START)
    scenarios = load_all([p.resolve() for p in args.files] or None)
    if args.only:
        scenarios = [s for s in scenarios if any(s.id == o or (o.endswith("*") and s.id.startswith(o[:-1])) for o in args.only)]
    if args.category:
        scenarios = [s for s in scenarios if s.category in args.category]
    if not scenarios:
        print("no scenario matches", file=sys.stderr)
        return 2
    os.environ.setdefault("RATE_LIMITS", "off")  # the stack's processes inherit it; scenarios from one actor come fast
    print(f"{len(scenarios)} scenarios; starting the live stack (RATE_LIMITS={os.environ['RATE_LIMITS']!r}) ...", flush=True)
    database_url, drop = None, None
    if args.postgres is not None:
        if not args.postgres:
            print("--postgres needs a server URL (or TEST_POSTGRES_URL)", file=sys.stderr)
            return 2
        database_url, drop = fresh_postgres_database(args.postgres)
    stack = LiveStack(database_url=database_url, redis_url=args.redis, keep_dir=args.keep, log=lambda m: print(m, flush=True))
    try:
        try:
            stack.start()
        except StackError as exc:
            print(f"the live stack did not start: {exc}", file=sys.stderr)
            return 2
        began = time.monotonic()

        def progress(result) -> None:  # type: ignore[no-untyped-def]
            print(f"  {result.outcome:<14} {result.scenario.id} ({result.seconds:.1f} s)", flush=True)

        results = run_scenarios(stack, scenarios, concurrency=args.concurrency, on_result=progress)
        elapsed = time.monotonic() - began
        print()
        print("\n".join(summary(results)))
        if args.transcripts:
            for r in results:
                print(f"\n--- {r.scenario.id} ({r.outcome})")
                print("\n".join(r.transcript))
        print(f"\nstack start-up {stack.started_in:.1f} s; {len(results)} scenarios in {elapsed:.1f} s "
              f"(concurrency {args.concurrency}; slowest: "
              + ", ".join(f"{r.scenario.id} {r.seconds:.0f} s" for r in sorted(results, key=lambda r: -r.seconds)[:3]) + ")")
        if args.keep:
            print(f"stack directory kept: {stack.dir}")
        return 0 if all(r.ok for r in results) else 1
    finally:
        stack.stop()
        if drop is not None:
            drop()


if __name__ == "__main__":
    sys.exit(main())

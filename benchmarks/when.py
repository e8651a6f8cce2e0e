"""`bot when` accuracy on the expression table, next to dateparser's on the same table.

Run: `.venv/bin/python -m benchmarks.when`
"""

from __future__ import annotations

import sys
import time
import warnings
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import yaml

from common.thai_datetime import parse_when

TABLE = Path(__file__).resolve().parent.parent / "tests" / "thai_datetime" / "expressions.yml"


def ours(text: str, now: datetime) -> tuple[str | None, bool | None]:
    result = parse_when(text, now)
    return (result.datetime.isoformat(), result.has_time) if result else (None, None)


def theirs(text: str, now: datetime) -> tuple[str | None, bool | None]:
    import dateparser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = dateparser.parse(
            text,
            languages=["th", "en"],
            settings={"RELATIVE_BASE": now.replace(tzinfo=None), "PREFER_DATES_FROM": "future",
                      "TIMEZONE": "Asia/Bangkok", "RETURN_AS_TIMEZONE_AWARE": True},
        )
    return (parsed.isoformat(), None) if parsed else (None, None)


def correct(case: dict, got: tuple[str | None, bool | None], strict_time: bool) -> bool:
    expected = case["expected"]
    if expected is None:
        return got[0] is None
    if got[0] is None:
        return False
    if not case.get("has_time"):
        return got[0][:10] == expected[:10]  # a date-only answer: the day must match
    return got[0][:16] == expected[:16] and (not strict_time or got[1] is True)


def main() -> int:
    table = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    cases = [dict(table["defaults"], **c) for c in table["cases"]]
    scores: dict[str, dict[str, list[int]]] = {"bot when": defaultdict(lambda: [0, 0]), "dateparser": defaultdict(lambda: [0, 0])}
    timings: dict[str, float] = {}
    for name, fn, strict in (("bot when", ours, True), ("dateparser", theirs, False)):
        started = time.perf_counter()
        for case in cases:
            now = datetime.fromisoformat(case["now"])
            ok = correct(case, fn(case["text"], now), strict)
            for key in (case["category"], "all"):
                scores[name][key][0] += int(ok)
                scores[name][key][1] += 1
        timings[name] = (time.perf_counter() - started) / len(cases) * 1000
    print(f"== date/time expressions: {len(cases)} ({TABLE.relative_to(TABLE.parents[2])})")
    print(f"{'category':<12} {'bot when':>12} {'dateparser':>12}")
    for category in sorted(scores["bot when"], key=lambda c: (c == "all", c)):
        a, n = scores["bot when"][category]
        b, _ = scores["dateparser"][category]
        print(f"{category:<12} {a / n:>11.1%} {b / n:>11.1%}   (n={n})")
    print(f"mean time per expression: bot when {timings['bot when']:.2f} ms, dateparser {timings['dateparser']:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

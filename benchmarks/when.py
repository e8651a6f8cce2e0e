"""`bot when` accuracy on the expression tables, next to dateparser's on the same tables.

Two tables: `expressions.yml` (the first, general one) and `officials_expressions.yml` (how
officials really type, where some answers are "confirm": the bot must say the date back before
storing it). On the officials' table an ISO answer counts only if `bot when` does not also ask
for confirmation; dateparser cannot ask, so it scores 0 on the "confirm" rows.

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

TABLES_DIR = Path(__file__).resolve().parent.parent / "tests" / "thai_datetime"
TABLES = [TABLES_DIR / "expressions.yml", TABLES_DIR / "officials_expressions.yml"]

Got = tuple[str | None, bool | None, bool]


def ours(text: str, now: datetime) -> Got:
    result = parse_when(text, now)
    return (result.datetime.isoformat(), result.has_time, result.needs_confirmation) if result else (None, None, False)


def theirs(text: str, now: datetime) -> Got:
    import dateparser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = dateparser.parse(
            text,
            languages=["th", "en"],
            settings={"RELATIVE_BASE": now.replace(tzinfo=None), "PREFER_DATES_FROM": "future",
                      "TIMEZONE": "Asia/Bangkok", "RETURN_AS_TIMEZONE_AWARE": True},
        )
    return (parsed.isoformat(), None, False) if parsed else (None, None, False)


def correct(case: dict, got: Got, strict_time: bool, confirm_matters: bool) -> bool:
    expected = case["expected"]
    if expected is None:
        return got[0] is None
    if expected == "confirm":
        return got[0] is not None and got[2]
    if got[0] is None or (confirm_matters and got[2]):
        return False
    if not case.get("has_time"):
        return got[0][:10] == expected[:10]  # a date-only answer: the day must match
    return got[0][:16] == expected[:16] and (not strict_time or got[1] is True)


def run_table(path: Path) -> None:
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases = [dict(table["defaults"], **c) for c in table["cases"]]
    confirm_matters = any(c["expected"] == "confirm" for c in cases)
    scores: dict[str, dict[str, list[int]]] = {"bot when": defaultdict(lambda: [0, 0]), "dateparser": defaultdict(lambda: [0, 0])}
    timings: dict[str, float] = {}
    misses: list[str] = []
    for name, fn, strict in (("bot when", ours, True), ("dateparser", theirs, False)):
        started = time.perf_counter()
        for case in cases:
            now = datetime.fromisoformat(case["now"])
            got = fn(case["text"], now)
            ok = correct(case, got, strict, confirm_matters)
            if not ok and name == "bot when":
                misses.append(f"  miss: {case['text']!r} expected {case['expected']} got {got[0]} confirm={got[2]}")
            for key in (case["category"], "all"):
                scores[name][key][0] += int(ok)
                scores[name][key][1] += 1
        timings[name] = (time.perf_counter() - started) / len(cases) * 1000
    print(f"== date/time expressions: {len(cases)} ({path.relative_to(path.parents[2])})")
    print(f"{'category':<12} {'bot when':>12} {'dateparser':>12}")
    for category in sorted(scores["bot when"], key=lambda c: (c == "all", c)):
        a, n = scores["bot when"][category]
        b, _ = scores["dateparser"][category]
        print(f"{category:<12} {a / n:>11.1%} {b / n:>11.1%}   (n={n})")
    print(f"mean time per expression: bot when {timings['bot when']:.2f} ms, dateparser {timings['dateparser']:.2f} ms")
    if misses:
        print("\n".join(misses))


def main() -> int:
    for i, path in enumerate(TABLES):
        if i:
            print()
        run_table(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

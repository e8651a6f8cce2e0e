"""Emergency detector (usecases/emergency.py): precision and recall per category.

    PYTHONPATH=$PWD .venv/bin/python -m benchmarks.emergency

Scored on benchmarks/emergency_texts.yml (labelled positives as people type in a panic, and tricky
negatives), then swept over every other citizen text the project has: the NLU training examples
(nlu_data/*.yml) and what citizens say in the live scenarios (tests/scenarios/citizens_*.yml, the
emergency scenarios left out). A sweep text that triggers counts as a false positive (none of them
is an emergency). The figures are counts, not timings; the machine load is printed anyway.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import yaml

from usecases.emergency import CATEGORIES, detect

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "benchmarks" / "emergency_texts.yml"
NONE = "none"


def _rows(data: dict) -> list[tuple[str, str]]:
    rows = [(text, category) for category, texts in data["positives"].items() for text in texts]
    return rows + [(text, NONE) for text in data["negatives"]]


def labelled(held_out: bool = False) -> list[tuple[str, str]]:
    """The development texts (the main lists and earlier held-out sets), or the current held-out set."""
    data = yaml.safe_load(LABELLED.read_text(encoding="utf-8"))
    if held_out:
        return _rows(data["held_out"])
    rows = _rows(data)
    for key in sorted(k for k in data if k.startswith("held_out_")):
        rows += _rows(data[key])
    return rows


def nlu_examples() -> list[str]:
    texts: list[str] = []
    for path in sorted((ROOT / "nlu_data").glob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []) or []:
            for line in str(item.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    texts.append(line[2:])
    return texts


def scenario_texts() -> list[str]:
    texts: list[str] = []
    for path in sorted((ROOT / "tests" / "scenarios").glob("citizens_*.yml")):
        if path.name == "citizens_emergencies.yml":
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for scenario in data.get("scenarios", []):
            if str(scenario.get("id", "")).startswith("emergency-"):
                continue
            actors = scenario.get("actors") or {}
            for step in scenario.get("steps", []):
                if not isinstance(step, dict):
                    continue
                for key, value in step.items():
                    if key in actors and isinstance(value, str) and not value.startswith("/"):
                        texts.append(value)
                if step.get("actor") in actors and isinstance(step.get("say"), str):
                    texts.append(step["say"])
    return texts


def score(rows: list[tuple[str, str]]) -> tuple[dict[str, tuple[int, int, int]], list[tuple[str, str, str]]]:
    """Per category (true positives, false positives, false negatives) on the main category; the misses."""
    counts: dict[str, Counter[str]] = {c: Counter() for c in CATEGORIES}
    wrong = []
    for text, label in rows:
        found = detect(text)
        got = found.category if found else NONE
        if got != label:
            wrong.append((label, got, text))
        for c in CATEGORIES:
            counts[c]["tp"] += got == c and label == c
            counts[c]["fp"] += got == c and label != c
            counts[c]["fn"] += got != c and label == c
    return {c: (counts[c]["tp"], counts[c]["fp"], counts[c]["fn"]) for c in CATEGORIES}, wrong


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "  -  "


def report(rows: list[tuple[str, str]], name: str) -> None:
    positives = sum(1 for _, label in rows if label != NONE)
    print(f"\n{name}: {positives} positives, {len(rows) - positives} negatives")
    per, wrong = score(rows)
    print(f"{'category':<10} {'precision':>9} {'recall':>7} {'tp':>4} {'fp':>4} {'fn':>4}")
    for c, (tp, fp, fn) in per.items():
        print(f"{c:<10} {_ratio(tp, tp + fp):>9} {_ratio(tp, tp + fn):>7} {tp:>4} {fp:>4} {fn:>4}")
    hits = sum(1 for text, label in rows if label != NONE and detect(text))
    alarms = sum(1 for text, label in rows if label == NONE and detect(text))
    print(f"any emergency: recall {_ratio(hits, positives)} ({hits}/{positives}), "
          f"false alarms on negatives {alarms}/{len(rows) - positives}")
    for label, got, text in wrong:
        print(f"  miss: labelled {label:<9} detected {got:<9} {text}")


def main() -> int:
    print(f"emergency detector (usecases/emergency.py) on {LABELLED.relative_to(ROOT)}")
    report(labelled(), "development set (the lexicon was written alongside it)")
    report(labelled(held_out=True), "held-out set (written after tuning, scored as it stands)")
    print()
    sweep = [("nlu_data examples", nlu_examples()), ("citizens' scenario texts", scenario_texts())]
    for name, texts in sweep:
        fired = [(detect(t), t) for t in texts]
        fired = [(e.category, t) for e, t in fired if e]
        print(f"sweep over {len(texts)} {name} (none an emergency): {len(fired)} false alarm(s)")
        for category, text in fired:
            print(f"  false alarm: {category:<9} {text}")
    print(f"(counts, not timings; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs, a shared machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

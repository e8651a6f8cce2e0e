"""`bot nlu compare` on fabricated `rasa test nlu` results: per-intent F1 changes, examples that got worse,
the regression gate, the report with its images; deploy and roll back around it (no model is trained)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.nlu_admin.evaluation import EvalRun, Gate, compare_runs, confusion, load_run, write_report


def _report(per_intent: dict[str, tuple[float, int]], accuracy: float) -> dict[str, Any]:
    report: dict[str, Any] = {name: {"precision": f1, "recall": f1, "f1-score": f1, "support": support, "confused_with": {}}
                              for name, (f1, support) in per_intent.items()}
    macro = sum(f1 for f1, _ in per_intent.values()) / len(per_intent)
    report["accuracy"] = accuracy
    report["macro avg"] = {"precision": macro, "recall": macro, "f1-score": macro, "support": 10}
    report["weighted avg"] = {"precision": macro, "recall": macro, "f1-score": macro, "support": 10}
    return report


def _write_run(folder: Path, report: dict[str, Any], predictions: list[tuple[str, str, str, float]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "intent_report.json").write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    rows = [{"text": t, "intent": gold, "intent_prediction": {"name": pred, "confidence": conf}} for t, gold, pred, conf in predictions]
    (folder / "intent_successes.json").write_text(json.dumps([r for r in rows if r["intent"] == r["intent_prediction"]["name"]],
                                                             ensure_ascii=False), encoding="utf-8")
    (folder / "intent_errors.json").write_text(json.dumps([r for r in rows if r["intent"] != r["intent_prediction"]["name"]],
                                                          ensure_ascii=False), encoding="utf-8")
    return folder


BASELINE = [
    ("สวัสดีครับท่าน", "greet", "greet", 0.98),
    ("บายน้า", "goodbye", "goodbye", 0.91),
    ("ขอบคุณมากค่ะ", "thank", "thank", 0.95),
    ("ขอบใจนะ", "thank", "goodbye", 0.55),
    ("ต่อพาสปอร์ตใช้อะไร", "ask_service_info", "ask_service_info", 0.90),
]
CANDIDATE = [
    ("สวัสดีครับท่าน", "greet", "greet", 0.97),
    ("บายน้า", "goodbye", "thank", 0.61),  # got worse
    ("ขอบคุณมากค่ะ", "thank", "thank", 0.96),
    ("ขอบใจนะ", "thank", "thank", 0.80),  # got better
    ("ต่อพาสปอร์ตใช้อะไร", "ask_service_info", "ask_service_info", 0.52),  # still right, much less sure
]


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    before = _write_run(tmp_path / "baseline", _report({"greet": (1.0, 10), "goodbye": (0.9, 10), "thank": (0.8, 10),
                                                        "ask_service_info": (0.95, 10)}, 0.92), BASELINE)
    after = _write_run(tmp_path / "candidate", _report({"greet": (1.0, 10), "goodbye": (0.7, 10), "thank": (0.85, 10),
                                                        "ask_service_info": (0.95, 10), "ask_parking": (0.6, 3)}, 0.90), CANDIDATE)
    return before, after


def test_per_intent_changes_and_examples_that_got_worse(runs: tuple[Path, Path]) -> None:
    comparison = compare_runs(load_run(runs[0], "current"), load_run(runs[1], "candidate"))
    assert [(c.intent, c.before, c.after, round(c.delta, 3)) for c in comparison.intents] == [
        ("goodbye", 0.9, 0.7, -0.2), ("ask_service_info", 0.95, 0.95, 0.0), ("greet", 1.0, 1.0, 0.0), ("thank", 0.8, 0.85, 0.05),
        ("ask_parking", None, 0.6, 0.6)]
    assert [(w.text, w.before, w.after) for w in comparison.worse] == [("บายน้า", "goodbye", "thank")]
    assert [b.text for b in comparison.better] == ["ขอบใจนะ"]
    assert [w.text for w in comparison.weaker] == ["ต่อพาสปอร์ตใช้อะไร"]
    assert comparison.accuracy_delta == pytest.approx(-0.02)


def test_the_gate_allows_small_changes_and_stops_regressions(runs: tuple[Path, Path]) -> None:
    comparison = compare_runs(load_run(runs[0], "current"), load_run(runs[1], "candidate"))
    problems = Gate().held_out_problems(comparison)
    assert any("accuracy fell by 0.020" in p for p in problems)
    assert any("F1 of goodbye fell by 0.200" in p for p in problems)
    assert not any("ask_parking" in p for p in problems)  # a new intent cannot regress
    lenient = Gate(tolerance=0.1, intent_tolerance=0.25)
    assert lenient.held_out_problems(comparison) == []
    assert Gate(tolerance=0.1, intent_tolerance=0.25, min_accuracy=0.95).held_out_problems(comparison) == [
        "held-out accuracy 0.900 is below 0.95"]
    same = compare_runs(load_run(runs[0], "a"), load_run(runs[0], "b"))
    assert Gate().held_out_problems(same) == [] and Gate().cv_problems(same) == []


def test_the_report_has_tables_and_images(runs: tuple[Path, Path], tmp_path: Path) -> None:
    held = compare_runs(load_run(runs[0], "current"), load_run(runs[1], "candidate"))
    cv = compare_runs(load_run(runs[0], "current data"), load_run(runs[1], "candidate data"))
    report = write_report(tmp_path / "report", held, problems=Gate().held_out_problems(held), cv=cv)
    markdown = report.read_text(encoding="utf-8")
    assert "**Regression:**" in markdown and "| goodbye | 0.900 | 0.700 | -0.200 | 10 |" in markdown
    assert "| บายน้า | goodbye | goodbye (0.91) | thank (0.61) |" in markdown
    assert "![Confusion matrix](confusion_matrix.png)" in markdown and "## Cross-validation" in markdown
    for name in ("confusion_matrix.png", "intent_f1.png", "cv_intent_f1.png"):
        with Image.open(tmp_path / "report" / name) as image:
            assert image.format == "PNG" and image.width > 200 and image.height > 100
    labels, matrix = confusion(held.candidate.predictions)
    assert labels == ["ask_service_info", "goodbye", "greet", "thank"]
    assert matrix[labels.index("goodbye")][labels.index("thank")] == 1 and sum(map(sum, matrix)) == 5


def test_runs_survive_a_json_round_trip(runs: tuple[Path, Path]) -> None:
    run = load_run(runs[1], "candidate")
    again = EvalRun.from_dict(json.loads(json.dumps(run.as_dict())))
    assert again.accuracy == run.accuracy and again.predictions == run.predictions and again.intents() == run.intents()


def test_missing_results_are_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_run(tmp_path, "nothing")

"""The trained assistant: data validation, held-out NLU quality gate, conversation tests."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT, run_rasa

MIN_INTENT_ACCURACY = 0.90


def test_training_data_validates() -> None:
    result = run_rasa("data", "validate", "--config", "config.yml", "--domain", "bot/domain", "--data", "nlu_data", "bot/data")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_intent_accuracy_on_held_out_data(trained_model: Path, tmp_path: Path) -> None:
    result = run_rasa("test", "nlu", "--nlu", "tests/nlu/test_data", "--model", str(trained_model), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads((tmp_path / "intent_report.json").read_text())
    accuracy = report["accuracy"]
    weak = {name: round(v["f1-score"], 2) for name, v in report.items() if isinstance(v, dict) and "f1-score" in v and v["f1-score"] < 0.8}
    assert accuracy >= MIN_INTENT_ACCURACY, f"intent accuracy {accuracy:.3f} < {MIN_INTENT_ACCURACY}; weak intents: {weak}"


def test_conversations(trained_model: Path, tmp_path: Path) -> None:
    stories = ROOT / "tests" / "stories"
    result = run_rasa(
        "test", "core", "--stories", str(stories), "--model", str(trained_model), "--out", str(tmp_path), "--fail-on-prediction-errors"
    )
    failed = tmp_path / "failed_test_stories.yml"
    detail = failed.read_text()[-4000:] if failed.exists() else result.stdout[-4000:]
    assert result.returncode == 0, detail

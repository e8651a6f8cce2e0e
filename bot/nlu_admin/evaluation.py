"""Compare a candidate NLU model with the current one, from `rasa test nlu` results.

Input is what `rasa test nlu --successes --out DIR` writes: `intent_report.json`
(per-intent precision/recall/F1, accuracy, averages), `intent_successes.json` and
`intent_errors.json` (one prediction per example). The comparison lists per-intent
F1 changes, the examples that got worse (right before, wrong now) or better, and
those still right but much less sure; `Gate` decides whether the change is a
regression beyond tolerance. `write_report` renders Markdown with the confusion
matrix and per-intent F1 charts as PNG images (bot.nlu_admin.charts).

Pure functions over files: nothing here runs Rasa (bot.nlu_admin.models does).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.nlu_admin.charts import confusion_png, f1_bars_png
from common import clock

AVERAGES = ("accuracy", "macro avg", "weighted avg", "micro avg")
CONFIDENCE_DROP = 0.2  # still right, but this much less sure: listed as weaker


@dataclass(frozen=True)
class Prediction:
    text: str
    gold: str
    predicted: str
    confidence: float

    @property
    def correct(self) -> bool:
        return self.gold == self.predicted


@dataclass
class EvalRun:
    """One model's results on one data set."""

    label: str
    report: dict[str, Any]
    predictions: list[Prediction] = field(default_factory=list)
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)  # extractor -> its entity report

    def entity_f1(self) -> dict[str, float]:
        """Per extractor, the F1 over all entities (micro average; weighted when sklearn gives no micro)."""
        out = {}
        for extractor, report in self.entities.items():
            row = report.get("micro avg") or report.get("weighted avg")
            if isinstance(row, dict) and "f1-score" in row:
                out[extractor] = float(row["f1-score"])
        return out

    @property
    def accuracy(self) -> float:
        value = self.report.get("accuracy")
        if isinstance(value, (int, float)):
            return float(value)
        return sum(p.correct for p in self.predictions) / len(self.predictions) if self.predictions else 0.0

    def average(self, name: str) -> float:
        row = self.report.get(name)
        return float(row.get("f1-score", 0.0)) if isinstance(row, dict) else 0.0

    @property
    def macro_f1(self) -> float:
        return self.average("macro avg")

    @property
    def weighted_f1(self) -> float:
        return self.average("weighted avg")

    def intents(self) -> dict[str, dict[str, Any]]:
        return {name: row for name, row in self.report.items() if name not in AVERAGES and isinstance(row, dict) and "f1-score" in row}

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "report": self.report, "predictions": [asdict(p) for p in self.predictions],
                "entities": self.entities}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalRun:
        return cls(str(data.get("label", "")), dict(data.get("report") or {}),
                   [Prediction(**p) for p in data.get("predictions") or []], dict(data.get("entities") or {}))


def _predictions(path: Path) -> list[Prediction]:
    if not path.exists():
        return []
    out = []
    for item in json.loads(path.read_text(encoding="utf-8")) or []:
        predicted = item.get("intent_prediction") or {}
        out.append(Prediction(str(item.get("text", "")), str(item.get("intent", "")), str(predicted.get("name") or ""),
                              float(predicted.get("confidence") or 0.0)))
    return out


def load_run(directory: Path, label: str) -> EvalRun:
    """Read `rasa test nlu` results from `directory`."""
    directory = Path(directory)
    report_path = directory / "intent_report.json"
    if not report_path.exists():
        raise FileNotFoundError(f"{report_path} is missing: did `rasa test nlu` run?")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    entities = {}
    for path in sorted(directory.glob("*_report.json")):  # one per entity extractor, e.g. DIETClassifier_report.json
        extractor = path.name[: -len("_report.json")]
        if extractor not in ("intent", "response_selection"):
            entities[extractor] = json.loads(path.read_text(encoding="utf-8"))
    return EvalRun(label, report, _predictions(directory / "intent_successes.json") + _predictions(directory / "intent_errors.json"),
                   entities)


@dataclass(frozen=True)
class IntentChange:
    intent: str
    before: float | None  # None: the intent is new
    after: float | None  # None: the intent is gone
    support: int

    @property
    def delta(self) -> float:
        return (self.after or 0.0) - (self.before or 0.0)


@dataclass(frozen=True)
class ExampleChange:
    text: str
    gold: str
    before: str
    before_confidence: float
    after: str
    after_confidence: float


@dataclass
class Comparison:
    baseline: EvalRun
    candidate: EvalRun
    intents: list[IntentChange]
    worse: list[ExampleChange]  # right with the baseline, wrong with the candidate
    better: list[ExampleChange]  # the other way round
    weaker: list[ExampleChange]  # right with both, confidence down by CONFIDENCE_DROP or more

    @property
    def accuracy_delta(self) -> float:
        return self.candidate.accuracy - self.baseline.accuracy

    @property
    def macro_f1_delta(self) -> float:
        return self.candidate.macro_f1 - self.baseline.macro_f1

    def entity_changes(self) -> list[tuple[str, float | None, float | None]]:
        """(extractor, baseline F1, candidate F1) over all entities, per extractor."""
        before, after = self.baseline.entity_f1(), self.candidate.entity_f1()
        return [(name, before.get(name), after.get(name)) for name in sorted(set(before) | set(after))]


def compare_runs(baseline: EvalRun, candidate: EvalRun) -> Comparison:
    before, after = baseline.intents(), candidate.intents()
    intents = []
    for name in sorted(set(before) | set(after)):
        b, a = before.get(name), after.get(name)
        intents.append(IntentChange(name, float(b["f1-score"]) if b else None, float(a["f1-score"]) if a else None,
                                    int((a or b or {}).get("support", 0))))
    intents.sort(key=lambda c: (c.delta, c.intent))
    earlier = {(p.text, p.gold): p for p in baseline.predictions}
    worse, better, weaker = [], [], []
    for now in candidate.predictions:
        then = earlier.get((now.text, now.gold))
        if then is None:
            continue
        change = ExampleChange(now.text, now.gold, then.predicted, then.confidence, now.predicted, now.confidence)
        if then.correct and not now.correct:
            worse.append(change)
        elif now.correct and not then.correct:
            better.append(change)
        elif then.correct and now.correct and then.confidence - now.confidence >= CONFIDENCE_DROP:
            weaker.append(change)
    worse.sort(key=lambda c: (c.gold, -c.after_confidence))
    better.sort(key=lambda c: (c.gold, c.text))
    weaker.sort(key=lambda c: c.after_confidence - c.before_confidence)
    return Comparison(baseline, candidate, intents, worse, better, weaker)


@dataclass(frozen=True)
class Gate:
    """When a candidate counts as a regression (and `bot nlu deploy` refuses it without --force)."""

    tolerance: float = 0.01  # held-out accuracy or macro-F1 may drop this much
    intent_tolerance: float = 0.10  # one intent's held-out F1 may drop this much...
    min_support: int = 5  # ...counted for intents with at least this many held-out examples
    min_accuracy: float = 0.90  # the project's held-out gate (tests/engine/test_assistant.py)
    cv_tolerance: float = 0.02  # cross-validation accuracy or macro-F1 may drop this much
    entity_tolerance: float = 0.05  # held-out entity F1 (per extractor, all entities) may drop this much

    def held_out_problems(self, comparison: Comparison) -> list[str]:
        problems = []
        if comparison.accuracy_delta < -self.tolerance:
            problems.append(f"held-out accuracy fell by {-comparison.accuracy_delta:.3f} (tolerance {self.tolerance:.3f})")
        if comparison.macro_f1_delta < -self.tolerance:
            problems.append(f"held-out macro-F1 fell by {-comparison.macro_f1_delta:.3f} (tolerance {self.tolerance:.3f})")
        if comparison.candidate.accuracy < self.min_accuracy:
            problems.append(f"held-out accuracy {comparison.candidate.accuracy:.3f} is below {self.min_accuracy:.2f}")
        for change in comparison.intents:
            if change.before is not None and change.support >= self.min_support and change.delta < -self.intent_tolerance:
                problems.append(f"F1 of {change.intent} fell by {-change.delta:.3f} (tolerance {self.intent_tolerance:.2f})")
        for extractor, before, after in comparison.entity_changes():
            if before is not None and (after or 0.0) < before - self.entity_tolerance:
                problems.append(f"entity F1 of {extractor} fell by {before - (after or 0.0):.3f} (tolerance {self.entity_tolerance:.3f})")
        return problems

    def cv_problems(self, comparison: Comparison) -> list[str]:
        problems = []
        if comparison.accuracy_delta < -self.cv_tolerance:
            problems.append(f"cross-validation accuracy fell by {-comparison.accuracy_delta:.3f} (tolerance {self.cv_tolerance:.3f})")
        if comparison.macro_f1_delta < -self.cv_tolerance:
            problems.append(f"cross-validation macro-F1 fell by {-comparison.macro_f1_delta:.3f} (tolerance {self.cv_tolerance:.3f})")
        return problems


def confusion(predictions: list[Prediction]) -> tuple[list[str], list[list[int]]]:
    """Labels (gold and predicted, sorted) and counts[gold][predicted]."""
    labels = sorted({p.gold for p in predictions} | {p.predicted for p in predictions})
    index = {name: i for i, name in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for p in predictions:
        matrix[index[p.gold]][index[p.predicted]] += 1
    return labels, matrix


# ---------------------------------------------------------------- report


def _f(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _signed(value: float) -> str:
    return f"{0.0 if abs(value) < 0.0005 else value:+.3f}"  # no "-0.000"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _examples_table(changes: list[ExampleChange], limit: int) -> list[str]:
    lines = ["| example | true intent | before | now |", "| --- | --- | --- | --- |"]
    for c in changes[:limit]:
        lines.append(f"| {_cell(c.text)} | {c.gold} | {c.before} ({c.before_confidence:.2f}) | {c.after} ({c.after_confidence:.2f}) |")
    if len(changes) > limit:
        lines.append(f"| … {len(changes) - limit} more | | | |")
    return lines


def summary_lines(comparison: Comparison, title: str) -> list[str]:
    b, c = comparison.baseline, comparison.candidate
    return [
        f"### {title}",
        "",
        f"| | {b.label} | {c.label} | change |",
        "| --- | ---: | ---: | ---: |",
        f"| accuracy | {b.accuracy:.3f} | {c.accuracy:.3f} | {_signed(comparison.accuracy_delta)} |",
        f"| macro-F1 | {b.macro_f1:.3f} | {c.macro_f1:.3f} | {_signed(comparison.macro_f1_delta)} |",
        f"| weighted-F1 | {b.weighted_f1:.3f} | {c.weighted_f1:.3f} | {_signed(c.weighted_f1 - b.weighted_f1)} |",
        *(f"| entity F1 ({name}) | {_f(before)} | {_f(after)} | {_signed((after or 0.0) - (before or 0.0))} |"
          for name, before, after in comparison.entity_changes()),
        f"| examples | {len(b.predictions) or '—'} | {len(c.predictions) or '—'} | |",
        "",
    ]


def render_markdown(
    held_out: Comparison, *, problems: list[str], images: dict[str, str], cv: Comparison | None = None, cv_only: EvalRun | None = None,
    created: datetime | None = None, limit: int = 40,
) -> str:
    created = created or clock.now()
    verdict = "**No regression beyond tolerance.**" if not problems else "**Regression:**\n\n" + "\n".join(f"- {p}" for p in problems)
    lines = [
        "# NLU model comparison",
        "",
        f"{created:%Y-%m-%d %H:%M} UTC · baseline = {held_out.baseline.label}, candidate = {held_out.candidate.label}",
        "",
        verdict,
        "",
        "## Held-out set (tests/nlu/test_data)",
        "",
        *summary_lines(held_out, "Overall"),
        "### F1 per intent (largest drop first)",
        "",
        "| intent | before | now | change | held-out examples |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for change in held_out.intents:
        lines.append(f"| {change.intent} | {_f(change.before)} | {_f(change.after)} | {_signed(change.delta)} | {change.support} |")
    lines.append("")
    if "f1" in images:
        lines += [f"![F1 per intent]({images['f1']})", ""]
    lines += [f"### Examples that got worse ({len(held_out.worse)})", ""]
    lines += _examples_table(held_out.worse, limit) if held_out.worse else ["None."]
    lines += ["", f"### Examples still right but much less sure ({len(held_out.weaker)})", ""]
    lines += _examples_table(held_out.weaker, limit) if held_out.weaker else ["None."]
    lines += ["", f"### Examples that got better ({len(held_out.better)})", ""]
    lines += _examples_table(held_out.better, limit) if held_out.better else ["None."]
    lines += ["", "### Confusion matrix of the candidate (rows: true intent, columns: predicted)", ""]
    if "confusion" in images:
        lines += [f"![Confusion matrix]({images['confusion']})", ""]
    if cv is not None or cv_only is not None:
        lines += ["## Cross-validation on the training data (nlu_data)", ""]
        if cv is not None:
            lines += summary_lines(cv, "Overall")
            lines += ["| intent | before | now | change |", "| --- | ---: | ---: | ---: |"]
            for change in cv.intents:
                lines.append(f"| {change.intent} | {_f(change.before)} | {_f(change.after)} | {_signed(change.delta)} |")
            lines += ["", f"Examples that got worse in cross-validation: {len(cv.worse)}; better: {len(cv.better)}.", ""]
            lines += _examples_table(cv.worse, limit) if cv.worse else []
            if "cv_f1" in images:
                lines += ["", f"![Cross-validation F1 per intent]({images['cv_f1']})"]
        else:
            assert cv_only is not None
            lines += [
                "No cross-validation result is stored for the current model (models/current.cv.json), so there is nothing to",
                "compare with yet; deploying this candidate stores its result as the next baseline.",
                "",
                f"Candidate: accuracy {cv_only.accuracy:.3f}, macro-F1 {cv_only.macro_f1:.3f}, weighted-F1 {cv_only.weighted_f1:.3f}.",
            ]
        lines.append("")
    return "\n".join(lines) + "\n"


def write_report(
    out_dir: Path, held_out: Comparison, *, problems: list[str], cv: Comparison | None = None, cv_only: EvalRun | None = None,
    created: datetime | None = None,
) -> Path:
    """report.md plus confusion_matrix.png and intent_f1.png (and cv_intent_f1.png) in `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images: dict[str, str] = {}
    labels, matrix = confusion(held_out.candidate.predictions)
    if labels:
        confusion_png(labels, matrix, out_dir / "confusion_matrix.png", f"Confusion matrix: {held_out.candidate.label}")
        images["confusion"] = "confusion_matrix.png"
    if held_out.intents:
        f1_bars_png(held_out.intents, out_dir / "intent_f1.png", f"Held-out F1: {held_out.baseline.label} vs {held_out.candidate.label}")
        images["f1"] = "intent_f1.png"
    if cv is not None and cv.intents:
        f1_bars_png(cv.intents, out_dir / "cv_intent_f1.png", "Cross-validation F1")
        images["cv_f1"] = "cv_intent_f1.png"
    report = out_dir / "report.md"
    report.write_text(render_markdown(held_out, problems=problems, images=images, cv=cv, cv_only=cv_only, created=created),
                      encoding="utf-8")
    return report


def comparison_details(comparison: Comparison, limit: int = 200) -> dict[str, Any]:
    """Everything the /admin page shows of one comparison (the same figures as report.md), as JSON."""
    b, c = comparison.baseline, comparison.candidate
    labels, matrix = confusion(c.predictions)

    def examples(changes: list[ExampleChange]) -> list[dict[str, Any]]:
        return [asdict(x) for x in changes[:limit]]

    return {
        "baseline": {"label": b.label, "accuracy": b.accuracy, "macro_f1": b.macro_f1, "weighted_f1": b.weighted_f1,
                     "examples": len(b.predictions), "entity_f1": b.entity_f1()},
        "candidate": {"label": c.label, "accuracy": c.accuracy, "macro_f1": c.macro_f1, "weighted_f1": c.weighted_f1,
                      "examples": len(c.predictions), "entity_f1": c.entity_f1()},
        "intents": [{"intent": i.intent, "before": i.before, "after": i.after, "delta": i.delta, "support": i.support}
                    for i in comparison.intents],
        "entities": [{"extractor": e, "before": bf, "after": af} for e, bf, af in comparison.entity_changes()],
        "worse": examples(comparison.worse), "better": examples(comparison.better), "weaker": examples(comparison.weaker),
        "counts": {"worse": len(comparison.worse), "better": len(comparison.better), "weaker": len(comparison.weaker)},
        "confusion": {"labels": labels, "matrix": matrix},
    }


def print_summary(comparison: Comparison, echo: Any, limit: int = 15) -> None:
    """Per-intent F1 changes and the examples that got worse, for the terminal."""
    echo(f"  accuracy  {comparison.baseline.accuracy:.3f} -> {comparison.candidate.accuracy:.3f} ({_signed(comparison.accuracy_delta)})")
    echo(f"  macro-F1  {comparison.baseline.macro_f1:.3f} -> {comparison.candidate.macro_f1:.3f} ({_signed(comparison.macro_f1_delta)})")
    for extractor, before, after in comparison.entity_changes():
        echo(f"  entity F1 ({extractor})  {_f(before)} -> {_f(after)}")
    changed = [c for c in comparison.intents if abs(c.delta) >= 0.0005]
    echo(f"  F1 per intent ({len(changed)} changed):")
    for c in changed:
        echo(f"    {c.intent:24s} {_f(c.before)} -> {_f(c.after)} ({_signed(c.delta)})")
    echo(f"  examples that got worse: {len(comparison.worse)}; better: {len(comparison.better)}; much less sure: {len(comparison.weaker)}")
    for c in comparison.worse[:limit]:
        echo(f"    - {c.text}  [{c.gold}: {c.before} {c.before_confidence:.2f} -> {c.after} {c.after_confidence:.2f}]")
    if len(comparison.worse) > limit:
        echo(f"    … {len(comparison.worse) - limit} more in the report")

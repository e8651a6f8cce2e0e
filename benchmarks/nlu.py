"""NLU benchmark: held-out evaluation, training time and /model/parse latency.

Run: `.venv/bin/python -m benchmarks.nlu [--retrain] [--requests 1000]`.
Prints intent accuracy, macro-F1, per-intent F1, entity F1, training time and
parse latency p50/p95 over N sequential requests; writes the confusion matrix
PNG and Rasa's reports to reports/nlu/.

`.venv/bin/python -m benchmarks.nlu --compare-stock [--seeds 1 2 3]` trains the NLU part of
two pipelines on the same `nlu_data/`, once per seed: the project's (config.yml) and the
stock one Rasa 3.6 uses when a project gives none (`rasa init`: WhitespaceTokenizer, char
n-grams, DIET; rasa/engine/recipes/config_files/default_config.yml). Both are scored on the
held-out files by `benchmarks/nlu_eval_engine.py` (final intent, merged entities, exact spans)
and the means over the seeds are printed side by side. `--dev-split K` scores on every K-th
example of each intent in `nlu_data/` (training on the rest) instead: the pipeline and its
thresholds are tuned there, never on the held-out files.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
MODEL = ROOT / "models" / "current.tar.gz"
TEST_DATA = ROOT / "tests" / "nlu" / "test_data"
REPORT_DIR = ROOT / "reports" / "nlu"


def engine_env() -> dict[str, str]:
    return dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))


def retrain(out: Path) -> tuple[Path, float]:
    started = time.monotonic()
    subprocess.run(
        [str(RASA), "train", "--config", "config.yml", "--domain", "bot/domain", "--data", "nlu_data", "bot/data",
         "--out", str(out), "--fixed-model-name", "bench", "--quiet"],
        cwd=ROOT, env=engine_env(), check=True,
    )
    return out / "bench.tar.gz", time.monotonic() - started


def evaluate(model: Path) -> dict:
    shutil.rmtree(REPORT_DIR, ignore_errors=True)
    REPORT_DIR.mkdir(parents=True)
    subprocess.run(
        [str(RASA), "test", "nlu", "--nlu", str(TEST_DATA), "--model", str(model), "--out", str(REPORT_DIR)],
        cwd=ROOT, env=engine_env(), check=True, capture_output=True,
    )
    intents = json.loads((REPORT_DIR / "intent_report.json").read_text())
    entity_reports = sorted(REPORT_DIR.glob("*Extractor_report.json")) + sorted(REPORT_DIR.glob("DIETClassifier_report.json"))
    entities = {p.stem.replace("_report", ""): json.loads(p.read_text()) for p in entity_reports}
    return {"intents": intents, "entities": entities}


def held_out_texts() -> list[str]:
    texts: list[str] = []
    for path in sorted(TEST_DATA.glob("*.yml")):
        for block in (yaml.safe_load(path.read_text()) or {}).get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    import re

                    texts.append(re.sub(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}", lambda m: m.group(1) or m.group(2), line[2:]))
    return texts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_latency(model: Path, texts: list[str], requests: int) -> list[float]:
    port = free_port()
    server = subprocess.Popen(
        [str(RASA), "run", "--enable-api", "--interface", "127.0.0.1", "--port", str(port), "--model", str(model)],
        cwd=ROOT, env=engine_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        with httpx.Client(timeout=30) as client:
            while True:
                try:
                    if client.get(f"{base}/status").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("Rasa server did not start")
                time.sleep(1)
            for text in texts[:20]:  # warm-up
                client.post(f"{base}/model/parse", json={"text": text})
            timings = []
            for i in range(requests):
                started = time.perf_counter()
                response = client.post(f"{base}/model/parse", json={"text": texts[i % len(texts)]})
                timings.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
        return timings
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


STOCK_PIPELINE = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
    {"name": "EntitySynonymMapper"},
    {"name": "ResponseSelector", "epochs": 100, "constrain_similarities": True},
    {"name": "FallbackClassifier", "threshold": 0.3, "ambiguity_threshold": 0.1},
]
SEEDED = {"DIETClassifier", "ResponseSelector"}


PROJECT_CONFIG = ROOT / "config.yml"


def pipeline_config(kind: str, seed: int, path: Path) -> Path:
    """An NLU-only config: the project's pipeline or the stock one, every trained component seeded."""
    if kind == "project":
        pipeline = yaml.safe_load(PROJECT_CONFIG.read_text())["pipeline"]
    else:
        pipeline = [dict(component) for component in STOCK_PIPELINE]
    for component in pipeline:
        if component["name"] in SEEDED:
            component["random_seed"] = seed
    # `rasa init` writes language "en": Rasa refuses WhitespaceTokenizer for "th", and the language
    # changes nothing else in these pipelines.
    language = "th" if kind == "project" else "en"
    config = {"recipe": "default.v1", "language": language, "assistant_id": f"bench-{kind}", "pipeline": pipeline, "policies": []}
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return path


def train_nlu(config: Path, out: Path, name: str, data: Path = ROOT / "nlu_data") -> tuple[Path, float]:
    started = time.monotonic()
    done = subprocess.run(
        [str(RASA), "train", "nlu", "--config", str(config), "--nlu", str(data), "--out", str(out),
         "--fixed-model-name", name, "--quiet"],
        cwd=ROOT, env=engine_env(), check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    if done.returncode:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"training {name} failed")
    return out / f"{name}.tar.gz", time.monotonic() - started


def score(model: Path, held_out: Path) -> dict:
    python = ROOT / ".venv-rasa" / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "benchmarks.nlu_eval_engine", str(model), str(held_out)],
        cwd=ROOT, env=engine_env(), check=True, capture_output=True, text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def dev_split(every: int, into: Path) -> tuple[Path, Path]:
    """Splits `nlu_data/` for tuning: every `every`-th example of each intent (from the second on)
    goes to a development set, the rest (and every lookup table, synonym and regex) to training.
    Tuning a pipeline on this split never looks at the held-out files."""
    train, dev = into / "train", into / "dev"
    train.mkdir(parents=True)
    dev.mkdir(parents=True)
    for path in sorted((ROOT / "nlu_data").glob("*.yml")):
        document = yaml.safe_load(path.read_text()) or {}
        kept, held = [], []
        for block in document.get("nlu", []):
            if "intent" not in block:
                kept.append(block)
                continue
            lines = [line for line in str(block.get("examples", "")).splitlines() if line.strip().startswith("- ")]
            rest = [line for i, line in enumerate(lines) if i % every != 1]
            taken = [line for i, line in enumerate(lines) if i % every == 1]
            kept.append({**block, "examples": "\n".join(rest) + "\n"})
            if taken:
                held.append({"intent": block["intent"], "examples": "\n".join(taken) + "\n"})
        (train / path.name).write_text(yaml.safe_dump({**document, "nlu": kept}, allow_unicode=True, sort_keys=False))
        if held:
            (dev / path.name).write_text(yaml.safe_dump({"version": document.get("version", "3.1"), "nlu": held},
                                                       allow_unicode=True, sort_keys=False))
    return train, dev


def compare_stock(seeds: list[int], held_out: Path, kinds: tuple[str, ...] = ("stock", "project"),
                  train_data: Path = ROOT / "nlu_data") -> None:
    shown = held_out.relative_to(ROOT) if held_out.is_relative_to(ROOT) else held_out
    print(f"== Project pipeline vs stock Rasa pipeline, NLU only, seeds {seeds}, scored on {shown}")
    print(f"   machine load at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)")
    figures: dict[str, list[dict]] = {"stock": [], "project": []}
    tmp = Path(tempfile.mkdtemp(prefix="nlu-compare-"))
    try:
        for seed in seeds:
            for kind in kinds:
                config = pipeline_config(kind, seed, tmp / f"{kind}-{seed}.yml")
                model, seconds = train_nlu(config, tmp, f"{kind}-{seed}", train_data)
                result = score(model, held_out)
                result["train_seconds"] = seconds
                figures[kind].append(result)
                model.unlink()
                print(f"   seed {seed} {kind:7s}: intents {result['intent_accuracy']:.3f} acc / {result['intent_macro_f1']:.3f} "
                      f"macro-F1, entities {result['entity_micro_f1']:.3f} micro-F1 / {result['entity_macro_f1']:.3f} macro-F1, "
                      f"trained in {seconds:.0f} s", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if len(kinds) < 2:
        return
    rows = [
        ("intent accuracy", "intent_accuracy"),
        ("intent accuracy, fallback off", "intent_accuracy_without_fallback"),
        ("intent macro-F1", "intent_macro_f1"),
        ("entity micro-F1", "entity_micro_f1"),
        ("entity macro-F1", "entity_macro_f1"),
        ("NLU training s", "train_seconds"),
    ]
    first = figures["project"][0]
    print(f"\n{first['examples']} held-out examples, {first['entities']} entities; mean (min–max) over {len(seeds)} seeds")
    print(f"{'':32s} {'stock':>22s} {'project':>22s} {'difference':>10s}")
    for label, key in rows:
        stock = [r[key] for r in figures["stock"]]
        project = [r[key] for r in figures["project"]]
        digits = 0 if key == "train_seconds" else 3

        def cell(values: list[float]) -> str:
            return f"{statistics.mean(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"

        print(f"{label:32s} {cell(stock):>22s} {cell(project):>22s} {statistics.mean(project) - statistics.mean(stock):>+10.{digits}f}")
    print("per entity type, F1 mean:")
    for kind in sorted({k for r in figures["project"] + figures["stock"] for k in r["per_entity_f1"]}):
        stock = statistics.mean(r["per_entity_f1"].get(kind, 0.0) for r in figures["stock"])
        project = statistics.mean(r["per_entity_f1"].get(kind, 0.0) for r in figures["project"])
        print(f"  {kind:30s} {stock:>22.3f} {project:>22.3f} {project - stock:>+10.3f}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--retrain", action="store_true", help="train a fresh model to time training")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--compare-stock", action="store_true", help="train the project's and the stock pipeline per seed and compare")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--held-out", type=Path, default=TEST_DATA, help="directory of held-out NLU files")
    parser.add_argument("--pipelines", nargs="+", choices=["stock", "project"], default=["stock", "project"])
    parser.add_argument("--project-config", type=Path, default=None, help="another config to try as the project's pipeline")
    parser.add_argument("--dev-split", type=int, default=None, metavar="K",
                        help="for tuning: score on every K-th example of nlu_data/ and train on the rest (not the held-out files)")
    args = parser.parse_args()
    if args.compare_stock:
        if args.project_config is not None:
            global PROJECT_CONFIG
            PROJECT_CONFIG = args.project_config.resolve()
        if args.dev_split:
            split = Path(tempfile.mkdtemp(prefix="nlu-dev-split-"))
            try:
                train, dev = dev_split(args.dev_split, split)
                compare_stock(args.seeds, dev, tuple(args.pipelines), train)
            finally:
                shutil.rmtree(split, ignore_errors=True)
            return 0
        compare_stock(args.seeds, args.held_out.resolve(), tuple(args.pipelines))
        return 0

    model = MODEL
    train_seconds: float | None = None
    tmp = Path(tempfile.mkdtemp(prefix="nlu-bench-"))
    try:
        if args.retrain or not MODEL.exists():
            model, train_seconds = retrain(tmp)
        else:
            fp = ROOT / "models" / "current.fingerprint.json"
            if fp.exists():
                train_seconds = json.loads(fp.read_text()).get("train_seconds")
        results = evaluate(model)
        intents = results["intents"]
        print("== NLU held-out evaluation (tests/nlu/test_data)")
        print(f"intent accuracy     {intents['accuracy']:.3f}")
        print(f"intent macro-F1     {intents['macro avg']['f1-score']:.3f}")
        print(f"intent weighted-F1  {intents['weighted avg']['f1-score']:.3f}")
        print("per-intent F1 (support):")
        for name, row in sorted(intents.items()):
            if isinstance(row, dict) and "f1-score" in row and name not in ("macro avg", "weighted avg", "micro avg"):
                print(f"  {name:24s} {row['f1-score']:.3f} ({row['support']})")
        for extractor, report in results["entities"].items():
            macro = report.get("macro avg", {}).get("f1-score")
            micro = report.get("micro avg", report.get("weighted avg", {})).get("f1-score")
            if macro is not None:
                print(f"entity F1 [{extractor}] micro {micro:.3f} macro {macro:.3f}")
                for name, row in sorted(report.items()):
                    if isinstance(row, dict) and "f1-score" in row and "avg" not in name and name != "no_entity":
                        print(f"  {name:24s} {row['f1-score']:.3f} ({row['support']})")
        print(f"confusion matrix    {REPORT_DIR / 'intent_confusion_matrix.png'}")
        print(f"training time       {train_seconds if train_seconds is not None else 'n/a'} s")
        timings = parse_latency(model, held_out_texts(), args.requests)
        print(f"/model/parse latency over {len(timings)} sequential requests: "
              f"p50 {percentile(timings, 50):.1f} ms, p95 {percentile(timings, 95):.1f} ms, mean {statistics.mean(timings):.1f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

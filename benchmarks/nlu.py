"""NLU benchmark: held-out evaluation, training time and /model/parse latency.

Run: `.venv/bin/python -m benchmarks.nlu [--retrain] [--requests 1000]`.
Prints intent accuracy, macro-F1, per-intent F1, entity F1, training time and
parse latency p50/p95 over N sequential requests; writes the confusion matrix
PNG and Rasa's reports to reports/nlu/.
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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--retrain", action="store_true", help="train a fresh model to time training")
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()

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

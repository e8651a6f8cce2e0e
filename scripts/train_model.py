"""Train the Rasa model when its inputs changed (stdlib only; runs under any Python).

The fingerprint is a SHA-256 over the content of everything that shapes the model:
config.yml, the domain, rules and stories, NLU data, the custom NLU components and
the engine's pinned requirements. `models/current.tar.gz` is retrained only when the
fingerprint differs from the one stored beside it (`--force` retrains anyway).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INPUTS = ["config.yml", "bot/domain", "bot/data", "nlu_data", "engine", "common/thai_text.py", "requirements-rasa.txt"]
MODEL_DIR = ROOT / "models"
MODEL = MODEL_DIR / "current.tar.gz"
FINGERPRINT = MODEL_DIR / "current.fingerprint.json"


def _files() -> list[Path]:
    files: list[Path] = []
    for item in INPUTS:
        path = ROOT / item
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(p for p in path.rglob("*") if p.is_file() and p.suffix in {".yml", ".yaml", ".py", ".txt"})
    return sorted(files)


def fingerprint() -> str:
    digest = hashlib.sha256()
    for path in _files():
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def stored_fingerprint() -> str | None:
    try:
        return json.loads(FINGERPRINT.read_text())["fingerprint"]
    except (OSError, ValueError, KeyError):
        return None


def engine_env() -> dict[str, str]:
    env = dict(os.environ)
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    return env


def rasa_bin() -> Path:
    return ROOT / ".venv-rasa" / "bin" / "rasa"


def train(out: Path, fixed_name: str) -> float:
    started = time.monotonic()
    command = [
        str(rasa_bin()), "train",
        "--config", "config.yml",
        "--domain", "bot/domain",
        "--data", "nlu_data", "bot/data",
        "--out", str(out),
        "--fixed-model-name", fixed_name,
        "--quiet",
    ]
    subprocess.run(command, cwd=ROOT, env=engine_env(), check=True)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="train even when nothing changed")
    parser.add_argument("--check", action="store_true", help="exit 1 if the model is out of date, train nothing")
    args = parser.parse_args()

    current = fingerprint()
    up_to_date = MODEL.exists() and stored_fingerprint() == current
    if args.check:
        print("model up to date" if up_to_date else "model out of date")
        return 0 if up_to_date else 1
    if up_to_date and not args.force:
        print(f"model up to date ({MODEL.relative_to(ROOT)})")
        return 0
    if not rasa_bin().exists():
        print("the engine runtime is missing: run `make engine` first", file=sys.stderr)
        return 1
    MODEL_DIR.mkdir(exist_ok=True)
    staging = MODEL_DIR / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    print("training the Rasa model (config, domain or training data changed) ...", flush=True)
    seconds = train(staging, "current")
    if MODEL.exists():
        shutil.copy2(MODEL, MODEL_DIR / "previous.tar.gz")
    os.replace(staging / "current.tar.gz", MODEL)
    shutil.rmtree(staging, ignore_errors=True)
    FINGERPRINT.write_text(json.dumps({"fingerprint": current, "train_seconds": round(seconds, 1)}) + "\n")
    print(f"trained {MODEL.relative_to(ROOT)} in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

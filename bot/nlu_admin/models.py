"""Train a candidate model, evaluate and compare it, deploy it without downtime, roll back.

Files in `models/`:
- `current.tar.gz` (+ `current.fingerprint.json`): what Rasa serves and `bot run` starts with;
- `previous.tar.gz` (+ fingerprint): what `bot nlu rollback` restores (rolling back
  twice returns to where you were);
- `candidate.tar.gz` (+ fingerprint): trained by `bot nlu train` from the data as it
  is now, reusing scripts/train_model.py; nothing is served until deployed;
- `candidate.compare.json`: the last comparison's verdict, tied to the exact
  candidate and current models by SHA-256: deploying needs a fresh, passing one
  (or `--force`);
- `current.cv.json` / `candidate.cv.json`: cross-validation results kept as the
  baseline for the next comparison;
- `deployments.jsonl`: one line per deploy or rollback (time, model hashes, forced).

Deploying loads the new model into the running Rasa server with `PUT /model`
(Rasa keeps answering with the old model until the new one is loaded); if Rasa
refuses it, the files are put back as they were.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from bot.nlu_admin.evaluation import EvalRun, Gate, compare_runs, comparison_details, load_run, print_summary, write_report
from bot.rasa_api import rasa_api_headers
from common.settings import PROJECT_ROOT, get_settings
from common import clock

Echo = Callable[[str], None]

MODEL_DIR = PROJECT_ROOT / "models"
HELD_OUT = PROJECT_ROOT / "tests" / "nlu" / "test_data"
REPORTS = PROJECT_ROOT / "reports" / "nlu_compare"
LOAD_TIMEOUT = 600.0  # seconds Rasa may take to load a model


class ModelError(Exception):
    """A model operation could not be done; the message says why."""


class DeployRefused(ModelError):
    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def train_script() -> ModuleType:
    """scripts/train_model.py (stdlib only), loaded as a module to reuse its fingerprint and train()."""
    path = PROJECT_ROOT / "scripts" / "train_model.py"
    spec = importlib.util.spec_from_file_location("train_model", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Store:
    """Where the models and their side files live (tests point it at a temporary folder)."""

    def __init__(self, directory: Path = MODEL_DIR) -> None:
        self.dir = Path(directory)

    def model(self, name: str) -> Path:
        return self.dir / f"{name}.tar.gz"

    def side(self, name: str, kind: str) -> Path:
        return self.dir / f"{name}.{kind}.json"

    @property
    def compare_state(self) -> Path:
        return self.side("candidate", "compare")

    @property
    def history(self) -> Path:
        return self.dir / "deployments.jsonl"

    def read_json(self, path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write_json(self, path: Path, data: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)

    def record(self, entry: dict[str, Any]) -> None:
        entry = {"at": clock.now().isoformat(timespec="seconds"), **entry}
        with open(self.history, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def describe(self, name: str) -> dict[str, Any] | None:
        path = self.model(name)
        if not path.exists():
            return None
        fingerprint = self.read_json(self.side(name, "fingerprint")) or {}
        return {"path": str(path), "sha256": sha256(path), "size": path.stat().st_size,
                "modified": datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds"),
                "fingerprint": fingerprint.get("fingerprint"), "trained_at": fingerprint.get("trained_at")}

    @contextmanager
    def lock(self, name: str = "models") -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / f".{name}.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise ModelError(f"another `bot nlu` command is working on the models ({name}); try again when it is done") from exc
            yield


# ---------------------------------------------------------------- engine (subprocesses in .venv-rasa)


def rasa_bin() -> Path:
    return PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"


def engine_env() -> dict[str, str]:
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2", SQLALCHEMY_SILENCE_UBER_WARNING="1")
    env["PYTHONPATH"] = str(PROJECT_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_rasa(args: list[str], *, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    if not rasa_bin().exists():
        raise ModelError("the engine runtime (.venv-rasa) is missing: run `make engine`")
    return subprocess.run([str(rasa_bin()), *args], cwd=PROJECT_ROOT, env=engine_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)


def other_training() -> list[int]:
    """Process ids of a `rasa train` of this installation running now (`make model`, another `bot nlu train`).

    Other checkouts on the same machine train their own models and are not counted; across
    hosts the database guard of the admin jobs (storage.admin_jobs) keeps trainings one at a time."""
    import re

    try:
        found = subprocess.run(["pgrep", "-f", "--", re.escape(str(rasa_bin())) + " train"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return []
    return [int(p) for p in found.stdout.split() if p.isdigit() and int(p) != os.getpid()]


def evaluate(model: Path, data: Path, out: Path) -> EvalRun:
    """`rasa test nlu` of `model` on `data`; the results land in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    result = run_rasa(["test", "nlu", "--nlu", str(data), "--model", str(model), "--out", str(out), "--successes", "--no-plot"])
    if result.returncode != 0:
        raise ModelError(f"rasa test nlu failed for {model.name}: {(result.stderr or result.stdout)[-1500:]}")
    return load_run(out, model.name)


def cross_validate(data: Path, folds: int, out: Path, config: Path = PROJECT_ROOT / "config.yml") -> EvalRun:
    out.mkdir(parents=True, exist_ok=True)
    result = run_rasa(["test", "nlu", "--nlu", str(data), "--config", str(config), "--cross-validation", "--folds", str(folds),
                       "--out", str(out), "--successes", "--no-plot"])
    if result.returncode != 0:
        raise ModelError(f"cross-validation failed: {(result.stderr or result.stdout)[-1500:]}")
    return load_run(out, f"{folds}-fold cross-validation")


# ---------------------------------------------------------------- train


def data_fingerprint(data: Path, config: Path) -> str:
    """The fingerprint of a training run: scripts/train_model.py's for the project's own inputs, else a hash
    over the given data folder and config plus the project's other inputs."""
    script = train_script()
    if data.resolve() == (PROJECT_ROOT / "nlu_data").resolve() and config.resolve() == (PROJECT_ROOT / "config.yml").resolve():
        return str(script.fingerprint())
    digest = hashlib.sha256(str(script.fingerprint()).encode())
    for path in [config, *sorted(p for p in data.rglob("*") if p.is_file())]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def train_model(out: Path, name: str, *, data: Path, config: Path, echo: Echo = print) -> float:
    """`rasa train` of config + domain + `data` + bot/data into out/<name>.tar.gz; seconds taken. Output lines go to `echo`."""
    import time

    started = time.monotonic()
    command = [str(rasa_bin()), "train", "--config", str(config), "--domain", str(PROJECT_ROOT / "bot" / "domain"),
               "--data", str(data), str(PROJECT_ROOT / "bot" / "data"), "--out", str(out), "--fixed-model-name", name]
    with subprocess.Popen(command, cwd=PROJECT_ROOT, env=engine_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace") as process:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip()
            if line and "Warning" not in line and "warn(" not in line:
                echo(line[:300])
        code = process.wait()
    if code != 0:
        raise subprocess.CalledProcessError(code, command)
    return time.monotonic() - started


def train_candidate(store: Store, *, force: bool = False, echo: Echo = print, data: Path | None = None,
                    config: Path | None = None) -> Path | None:
    """Train `candidate.tar.gz` from the data as it is now (None: nothing changed since the current model)."""
    data = Path(data or PROJECT_ROOT / "nlu_data")
    config = Path(config or PROJECT_ROOT / "config.yml")
    fingerprint = data_fingerprint(data, config)
    candidate = store.model("candidate")
    stored = (store.read_json(store.side("candidate", "fingerprint")) or {}).get("fingerprint")
    if not force and candidate.exists() and stored == fingerprint:
        echo(f"the candidate is up to date with the data ({candidate.relative_to(PROJECT_ROOT) if candidate.is_relative_to(PROJECT_ROOT) else candidate})")
        return candidate
    current_fp = (store.read_json(store.side("current", "fingerprint")) or {}).get("fingerprint")
    if not force and store.model("current").exists() and current_fp == fingerprint:
        echo("the current model was trained on exactly this data; nothing to train (use --force to train anyway)")
        return None
    busy = other_training()
    if busy:
        raise ModelError(f"another training is running (pid {', '.join(map(str, busy))}); this machine trains one model at a time")
    if not rasa_bin().exists():
        raise ModelError("the engine runtime (.venv-rasa) is missing: run `make engine`")
    with store.lock("train"):
        staging = store.dir / "staging-candidate"
        shutil.rmtree(staging, ignore_errors=True)
        echo("training a candidate model (a few minutes) ...")
        try:
            seconds = train_model(staging, "candidate", data=data, config=config, echo=echo)
        except subprocess.CalledProcessError as exc:
            raise ModelError(f"training failed (exit {exc.returncode}); run `bot nlu check` for data problems") from exc
        os.replace(staging / "candidate.tar.gz", candidate)
        shutil.rmtree(staging, ignore_errors=True)
        store.write_json(store.side("candidate", "fingerprint"), {
            "fingerprint": fingerprint, "train_seconds": round(seconds, 1), "trained_at": clock.now().isoformat(timespec="seconds"),
        })
        store.compare_state.unlink(missing_ok=True)  # an older verdict does not speak for this model
        store.side("candidate", "cv").unlink(missing_ok=True)
    echo(f"trained {candidate.name} in {seconds:.0f} s; next: `bot nlu compare`")
    return candidate


# ---------------------------------------------------------------- compare


def compare(
    store: Store, *, candidate: Path | None = None, baseline: Path | None = None, held_out: Path = HELD_OUT,
    data: Path = PROJECT_ROOT / "nlu_data", folds: int = 3, gate: Gate | None = None, reports: Path = REPORTS, echo: Echo = print,
    evaluator: Callable[[Path, Path, Path], EvalRun] = evaluate,
    cross_validator: Callable[[Path, int, Path], EvalRun] | None = None, config: Path | None = None,
) -> dict[str, Any]:
    """Evaluate candidate and baseline on the held-out set, cross-validate the data, write the report,
    remember the verdict for `deploy`. Returns the verdict."""
    gate = gate or Gate()
    if cross_validator is None:
        cv_config = Path(config or PROJECT_ROOT / "config.yml")
        cross_validator = lambda d, k, o: cross_validate(d, k, o, cv_config)  # noqa: E731
    candidate = Path(candidate or store.model("candidate")).resolve()
    baseline = Path(baseline or store.model("current")).resolve()
    for path, what in ((candidate, "candidate"), (baseline, "baseline")):
        if not path.exists():
            raise ModelError(f"no {what} model at {path}" + (": run `bot nlu train` first" if what == "candidate" else ""))
    created = clock.now()
    out = Path(reports) / created.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    with store.lock("compare"):
        echo(f"evaluating {baseline.name} on the held-out set ...")
        before = evaluator(baseline, held_out, out / "baseline")
        before.label = f"current ({baseline.name})" if baseline == store.model("current").resolve() else baseline.name
        echo(f"evaluating {candidate.name} on the held-out set ...")
        after = evaluator(candidate, held_out, out / "candidate")
        after.label = f"candidate ({candidate.name})" if candidate == store.model("candidate").resolve() else candidate.name
        held = compare_runs(before, after)
        problems = gate.held_out_problems(held)
        cv = cv_only = None
        if folds >= 2:
            echo(f"cross-validating the training data ({folds} folds, trains {folds} NLU models) ...")
            cv_run = cross_validator(data, folds, out / "cross_validation")
            cv_run.label = "candidate data"
            store.write_json(store.side("candidate", "cv"), {"candidate_sha256": sha256(candidate), **cv_run.as_dict()})
            stored = store.read_json(store.side("current", "cv"))
            if stored and stored.get("model_sha256") == sha256(baseline):
                base_cv = EvalRun.from_dict(stored)
                base_cv.label = "current data"
                cv = compare_runs(base_cv, cv_run)
                problems += gate.cv_problems(cv)
            else:
                cv_only = cv_run
        report = write_report(out, held, problems=problems, cv=cv, cv_only=cv_only, created=created)
        details = {"held_out": comparison_details(held), "cross_validation": comparison_details(cv) if cv is not None else None}
        verdict = {
            "ok": not problems, "problems": problems, "created_at": created.isoformat(timespec="seconds"),
            "candidate": str(candidate), "candidate_sha256": sha256(candidate),
            "baseline": str(baseline), "baseline_sha256": sha256(baseline),
            "held_out": {"baseline_accuracy": before.accuracy, "candidate_accuracy": after.accuracy,
                         "baseline_macro_f1": before.macro_f1, "candidate_macro_f1": after.macro_f1,
                         "worse": len(held.worse), "better": len(held.better)},
            "cross_validation": None if cv is None and cv_only is None else {
                "candidate_accuracy": (cv or cv_only).candidate.accuracy if cv else cv_only.accuracy,  # type: ignore[union-attr]
                "candidate_macro_f1": (cv or cv_only).candidate.macro_f1 if cv else cv_only.macro_f1,  # type: ignore[union-attr]
                "baseline_accuracy": cv.baseline.accuracy if cv else None,
                "baseline_macro_f1": cv.baseline.macro_f1 if cv else None,
                "folds": folds,
            },
            "entity_f1": {"baseline": before.entity_f1(), "candidate": after.entity_f1()},
            "gate": {"tolerance": gate.tolerance, "intent_tolerance": gate.intent_tolerance, "min_accuracy": gate.min_accuracy,
                     "cv_tolerance": gate.cv_tolerance, "entity_tolerance": gate.entity_tolerance},
            "report": str(report),
            "details": str(out / "details.json"),
        }
        store.write_json(out / "details.json", details)
        store.write_json(out / "compare.json", verdict)
        if candidate == store.model("candidate").resolve():
            store.write_json(store.compare_state, verdict)
    echo("held-out set:")
    print_summary(held, echo)
    if cv is not None:
        echo(f"cross-validation ({folds} folds):")
        print_summary(cv, echo, limit=5)
    elif cv_only is not None:
        echo(f"cross-validation ({folds} folds): accuracy {cv_only.accuracy:.3f}, macro-F1 {cv_only.macro_f1:.3f} (no stored baseline)")
    echo(f"report: {report}")
    echo("verdict: no regression beyond tolerance" if not problems else "verdict: REGRESSION\n  " + "\n  ".join(problems))
    return verdict


# ---------------------------------------------------------------- deploy and roll back


def load_into_rasa(rasa_url: str, model: Path, timeout: float = LOAD_TIMEOUT) -> str:
    """'loaded', or 'not running' when nothing answers at rasa_url; raises ModelError when Rasa refuses the model."""
    import httpx

    try:
        response = httpx.put(f"{rasa_url.rstrip('/')}/model", json={"model_file": str(model.resolve())}, timeout=timeout,
                             headers=rasa_api_headers(get_settings()), trust_env=False)
    except httpx.ConnectError:
        return "not running"
    except httpx.HTTPError as exc:
        raise ModelError(f"Rasa did not confirm loading the model ({type(exc).__name__})") from exc
    if response.status_code == 204 or response.is_success:
        return "loaded"
    if response.status_code in (401, 403):
        raise ModelError(f"Rasa at {rasa_url} refuses our key (HTTP {response.status_code}): is INTERNAL_SECRET the same for Rasa and this command?")
    if response.status_code in (404, 405):
        raise ModelError(f"Rasa at {rasa_url} refuses PUT /model (HTTP {response.status_code}); start it with --enable-api (bot run does)")
    raise ModelError(f"Rasa could not load the model (HTTP {response.status_code}): {response.text[:300]}")


MODEL_FILES = tuple(f"{name}{suffix}" for name in ("current", "previous", "candidate")
                    for suffix in (".tar.gz", ".fingerprint.json", ".cv.json"))


@contextmanager
def _restorable(store: Store) -> Iterator[None]:
    """Put every model file back as it was when the block fails (copies kept aside meanwhile)."""
    backup = store.dir / ".backup"
    shutil.rmtree(backup, ignore_errors=True)
    backup.mkdir()
    existed = {}
    for name in MODEL_FILES:
        existed[name] = (store.dir / name).exists()
        if existed[name]:
            shutil.copy2(store.dir / name, backup / name)
    try:
        yield
    except BaseException:
        for name in MODEL_FILES:
            if existed[name]:
                os.replace(backup / name, store.dir / name)
            else:
                (store.dir / name).unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(backup, ignore_errors=True)


def _move_set(store: Store, source: str, target: str, *, copy: bool = False) -> None:
    """The model `source` and its side files become `target` (side files `target` had and `source` lacks go)."""
    for suffix in (".tar.gz", ".fingerprint.json", ".cv.json"):
        src, dst = store.dir / f"{source}{suffix}", store.dir / f"{target}{suffix}"
        if not src.exists():
            dst.unlink(missing_ok=True)
        elif copy:
            shutil.copy2(src, dst)
        else:
            os.replace(src, dst)


def deploy(store: Store, rasa_url: str, *, force: bool = False, echo: Echo = print,
           loader: Callable[[str, Path], str] = load_into_rasa) -> dict[str, Any]:
    """candidate -> current -> previous, then Rasa loads it; refused without a fresh passing comparison unless forced."""
    candidate, current = store.model("candidate"), store.model("current")
    if not candidate.exists():
        raise ModelError("no candidate model: run `bot nlu train` and `bot nlu compare` first")
    with store.lock("deploy"):
        candidate_sha = sha256(candidate)
        current_sha = sha256(current) if current.exists() else None
        verdict = store.read_json(store.compare_state)
        reasons: list[str] = []
        if verdict is None:
            reasons.append("the candidate has not been compared: run `bot nlu compare`")
        elif verdict.get("candidate_sha256") != candidate_sha:
            reasons.append("the comparison is for another candidate: run `bot nlu compare` again")
        elif current_sha is not None and verdict.get("baseline_sha256") != current_sha:
            reasons.append("the current model changed since the comparison: run `bot nlu compare` again")
        elif not verdict.get("ok"):
            reasons.extend(verdict.get("problems") or ["the comparison found a regression"])
        if reasons and not force:
            raise DeployRefused(reasons)
        if reasons:
            echo("deploying anyway (--force): " + "; ".join(reasons))
        cv = store.read_json(store.side("candidate", "cv"))
        with _restorable(store):
            if current.exists():
                _move_set(store, "current", "previous")
            _move_set(store, "candidate", "current")
            if cv and cv.get("candidate_sha256") == candidate_sha:
                store.write_json(store.side("current", "cv"), {**cv, "model_sha256": candidate_sha})
            else:
                store.side("current", "cv").unlink(missing_ok=True)
            state = loader(rasa_url, current)
        store.compare_state.unlink(missing_ok=True)
        store.record({"action": "deploy", "model_sha256": candidate_sha, "replaced_sha256": current_sha, "forced": bool(reasons),
                      "reasons": reasons, "rasa": state})
    if state == "loaded":
        echo(f"deployed: Rasa at {rasa_url} now answers with the new model; the old one is models/previous.tar.gz")
    else:
        echo(f"deployed to {current}; Rasa is not running at {rasa_url} and loads it when it starts")
    return {"state": state, "model_sha256": candidate_sha, "forced": bool(reasons), "refusals": reasons, "replaced_sha256": current_sha,
            "verdict": verdict}


def rollback(store: Store, rasa_url: str, *, echo: Echo = print, loader: Callable[[str, Path], str] = load_into_rasa) -> dict[str, Any]:
    """Swap current and previous (with their side files) and load the restored model into Rasa."""
    current = store.model("current")
    if not store.model("previous").exists():
        raise ModelError("there is no previous model to roll back to")
    replaced = sha256(current) if current.exists() else None
    with store.lock("deploy"), _restorable(store):
        _move_set(store, "current", "rolled_back")
        _move_set(store, "previous", "current")
        _move_set(store, "rolled_back", "previous")
        state = loader(rasa_url, current)
        restored = sha256(current)
        store.record({"action": "rollback", "model_sha256": restored, "rasa": state})
    if state == "loaded":
        echo(f"rolled back: Rasa at {rasa_url} answers with the previous model again (run `bot nlu rollback` again to undo)")
    else:
        echo(f"rolled back {current}; Rasa is not running at {rasa_url} and loads it when it starts")
    echo("note: nlu_data/ still holds the newer examples; revert them (git) or `make run` will train them in again")
    return {"state": state, "model_sha256": restored, "replaced_sha256": replaced}


def status(store: Store) -> dict[str, Any]:
    return {
        "current": store.describe("current"),
        "previous": store.describe("previous"),
        "candidate": store.describe("candidate"),
        "comparison": store.read_json(store.compare_state),
    }

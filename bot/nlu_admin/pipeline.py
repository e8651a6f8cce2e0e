"""The admin loop's steps, shared by `bot nlu ...` and the /admin page (no logic twice).

- `run_check`: `rasa data validate` plus the project's checks (bot.nlu_admin.checks);
- `train_and_compare`: train a candidate from the workspace's data and compare it with the
  current model (held-out set, cross-validation, entity F1; the workspace's gate);
- `deploy_recorded` / `rollback_recorded`: the guarded deploy and the rollback of
  bot.nlu_admin.models, loading the model into every Rasa replica one after the other,
  and recording who did it, why and the model's figures in the database;
- `served`: what each Rasa replica serves now (GET /status).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bot.nlu_admin import checks
from bot.nlu_admin.models import ModelError, Store, compare, deploy, evaluate, load_into_rasa, rollback, run_rasa, train_candidate
from bot.nlu_admin.training_data import DOMAIN_DIR
from bot.nlu_admin.workspace import Workspace
from common.settings import PROJECT_ROOT, get_settings
from storage.admin_audit import deployments, record_deployment
from storage.db import session_scope

logger = logging.getLogger(__name__)

Echo = Callable[[str], None]


def rasa_urls() -> list[str]:
    """The Rasa replicas to load a model into: RASA_URLS when it names several, else those the running `bot run`
    started (var/rasa_replicas.json: one on `--rasa-port`, or `--rasa N` of them), else RASA_URL alone."""
    import json

    settings = get_settings()
    if len(settings.rasa_urls) > 1:
        return list(settings.rasa_urls)
    try:
        urls = json.loads((settings.var_dir / "rasa_replicas.json").read_text(encoding="utf-8")).get("rasa_urls") or []
    except (OSError, ValueError, AttributeError):
        urls = []
    return [str(u) for u in urls] if isinstance(urls, list) and urls else [settings.rasa_url]


# ---------------------------------------------------------------- check


def run_check(ws: Workspace, *, with_rasa: bool = True, with_model: bool = True, min_examples: int = 40, limit: int = 20,
              echo: Echo = print) -> tuple[bool, list[checks.Finding]]:
    """(must something be fixed, findings). Lines for a person go to `echo` (ERROR:/WARNING: prefixes)."""
    directory = ws.data
    failed = False
    if with_rasa:
        echo("rasa data validate ...")
        result = run_rasa(["data", "validate", "--config", str(ws.config), "--domain", str(DOMAIN_DIR), "--data", str(directory),
                           str(PROJECT_ROOT / "bot" / "data")], timeout=900)
        output = (result.stdout + result.stderr).splitlines()
        notes = [line for line in output if any(w in line for w in ("UserWarning", "ERROR", "Error")) and "SQLAlchemy" not in line]
        responses = [line for line in notes if "utterance" in line and "not used in any story or rule" in line]
        notes = [line.split("UserWarning: ", 1)[-1] for line in notes if line not in responses]
        if result.returncode != 0:
            failed = True
            echo("ERROR: rasa data validate failed")
            for line in (notes or output)[-limit:]:
                echo(f"  {line}")
        else:
            echo("rasa data validate: ok")
            for line in notes[:limit]:
                echo(f"WARNING:  {line}")
            if responses:
                echo(f"  ({len(responses)} warning(s) about responses that only custom actions use: not about NLU data)")
    findings = checks.data_findings(directory, DOMAIN_DIR, ws.held_out, ws.config, min_examples)
    current = ws.store().model("current")
    if with_model and current.exists():
        echo("evaluating the current model on the training data ...")
        with tempfile.TemporaryDirectory(prefix="nlu-check-") as tmp:
            try:
                run = evaluate(current, directory, Path(tmp))
                echo(f"  the current model gets {sum(p.correct for p in run.predictions)} of {len(run.predictions)} "
                     f"training examples right (accuracy {run.accuracy:.3f})")
            except Exception as exc:  # noqa: BLE001 - the other checks still count
                echo(f"WARNING: could not evaluate the current model ({exc})"[:500])
            findings += checks.misclassified(Path(tmp) / "intent_errors.json")
    elif with_model:
        echo("no current model: skipped the misclassification check")
    for finding in findings:
        echo(f"{finding.level.upper()}: {finding.message}")
        for item in finding.items[:limit]:
            echo(f"  - {item}")
        if len(finding.items) > limit:
            echo(f"  … {len(finding.items) - limit} more")
    failed = failed or any(f.level == "error" for f in findings)
    return failed, findings


# ---------------------------------------------------------------- train and compare


def train_and_compare(ws: Workspace, *, echo: Echo = print) -> dict[str, Any]:
    """Train a candidate (always: the admin asked for it) and compare it; the verdict (see models.compare)."""
    store = ws.store()
    if not store.model("current").exists():
        raise ModelError(f"no current model in {store.dir}: nothing to compare a candidate with")
    train_candidate(store, force=True, echo=echo, data=ws.data, config=ws.config)
    return compare(store, held_out=ws.held_out, data=ws.data, folds=ws.folds, gate=ws.gate, reports=ws.reports, echo=echo,
                   config=ws.config)


# ---------------------------------------------------------------- deploy, roll back, what is served


def served(urls: list[str] | None = None, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Per replica: its URL, the model file and id it reports, or why not."""
    import httpx

    from bot.rasa_api import rasa_api_headers

    out = []
    for url in urls or rasa_urls():
        try:
            response = httpx.get(f"{url.rstrip('/')}/status", headers=rasa_api_headers(get_settings()), timeout=timeout, trust_env=False)
            data = response.json() if response.is_success else {}
            out.append({"url": url, "up": response.is_success, "model_file": data.get("model_file"), "model_id": data.get("model_id"),
                        "status": response.status_code})
        except (httpx.HTTPError, ValueError) as exc:
            out.append({"url": url, "up": False, "model_file": None, "model_id": None, "status": type(exc).__name__})
    return out


PARSE_CHECK_TEXT = "สวัสดีครับ"


class _SyncRedis:
    """GET/SET/DEL for the roll-out (synchronous, through the gateways' Redis adapter and its own event loop)."""

    def __init__(self, url: str) -> None:
        import asyncio

        from connectors.rasa_client import RedisLite

        self._loop = asyncio.new_event_loop()
        self._redis = RedisLite(url, timeout=5)

    def _one(self, *command: str | int) -> Any:
        return self._loop.run_until_complete(self._redis.execute(command))[0]

    def get(self, key: str) -> Any:
        return self._one("GET", key)

    def set(self, key: str, value: str) -> None:
        self._one("SET", key, value)

    def delete(self, key: str) -> None:
        self._one("DEL", key)

    def mget(self, keys: list[str]) -> list[Any]:
        return self._one("MGET", *keys)

    def close(self) -> None:
        self._loop.run_until_complete(self._redis.close())
        self._loop.close()


def _redis() -> _SyncRedis:
    return _SyncRedis(get_settings().redis_url)


def parse_check(url: str, timeout: float = 60.0) -> str:
    """The intent the replica reads in a greeting (POST /model/parse); raises ModelError when it cannot parse."""
    import httpx

    from bot.rasa_api import rasa_api_headers

    try:
        response = httpx.post(f"{url.rstrip('/')}/model/parse", json={"text": PARSE_CHECK_TEXT}, headers=rasa_api_headers(get_settings()),
                              timeout=timeout, trust_env=False)
        intent = (response.json().get("intent") or {}).get("name") if response.is_success else None
    except (httpx.HTTPError, ValueError) as exc:
        raise ModelError(f"Rasa at {url} did not parse after loading ({type(exc).__name__})") from exc
    if not intent:
        raise ModelError(f"Rasa at {url} did not parse after loading (HTTP {response.status_code})")
    return str(intent)


def rolling_load(urls: list[str], model: Path, *, echo: Echo = print, drain_timeout: float | None = None,
                 loader: Callable[[str, Path], str] = load_into_rasa, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> list[dict[str, Any]]:
    """Move the replicas to `model` one at a time, so the others keep answering (docs/deploy.md).

    For each: mark it draining in Redis (gateways route its conversations to their next replica,
    connectors/rasa_client.py), wait until the turns in flight on it are done (at most
    `drain_timeout`, default the lock lifetime: a gateway killed mid-turn leaves its count behind),
    mark it loading, `PUT /model`, check it parses, then mark it serving again. Per replica: its
    URL, the turns still counted in flight when loading began and ended (0 unless a gateway was
    killed), the intent of the check and the seconds it was out of service.
    """
    from connectors.rasa_client import DRAINING, LOADING, inflight_key, state_key

    settings = get_settings()
    prefix = settings.redis_key_prefix
    drain_timeout = settings.lock_lifetime if drain_timeout is None else drain_timeout
    red = _redis()
    report = []
    for url in urls:
        began = monotonic()
        red.set(state_key(prefix, url), DRAINING)
        try:
            deadline = monotonic() + drain_timeout
            while int(red.get(inflight_key(prefix, url)) or 0) > 0 and monotonic() < deadline:
                sleep(0.05)
            red.set(state_key(prefix, url), LOADING)
            before = int(red.get(inflight_key(prefix, url)) or 0)
            echo(f"  {url}: drained ({before} turn(s) still counted), loading the model ...")
            state = loader(url, model)
            if state != "loaded":
                raise ModelError(f"Rasa at {url} is {state}: the other replicas keep their model")
            intent = parse_check(url)
            after = int(red.get(inflight_key(prefix, url)) or 0)
        finally:
            red.delete(state_key(prefix, url))  # serving again (also when loading failed: it keeps its old model)
        took = monotonic() - began
        echo(f"  {url}: serves the new model (a greeting reads as {intent}); out of service {took:.1f} s")
        report.append({"url": url, "inflight_at_load": before, "inflight_after_load": after, "intent": intent, "seconds": took})
    red.close()
    return report


def _load_everywhere(urls: list[str], reports: list[dict[str, Any]] | None = None, echo: Echo = print) -> Callable[[str, Path], str]:
    """A loader for models.deploy/rollback: one replica loads as before (today's behaviour, it pauses while
    loading); several are moved one at a time (`rolling_load`), the others answering meanwhile."""

    def load(_url: str, model: Path) -> str:
        if len(urls) == 1:
            return load_into_rasa(urls[0], model)
        done = rolling_load(urls, model, echo=echo)
        if reports is not None:
            reports.extend(done)
        return "loaded"

    return load


def _figures(verdict: dict[str, Any] | None) -> dict[str, Any]:
    if not verdict:
        return {}
    held = verdict.get("held_out") or {}
    cv = verdict.get("cross_validation") or {}
    return {"held_out_accuracy": held.get("candidate_accuracy"), "held_out_macro_f1": held.get("candidate_macro_f1"),
            "cv_accuracy": cv.get("candidate_accuracy"), "cv_macro_f1": cv.get("candidate_macro_f1"),
            "entity_f1": (verdict.get("entity_f1") or {}).get("candidate"), "ok": verdict.get("ok"),
            "report": verdict.get("report"), "details": verdict.get("details")}


def _model_id(urls: list[str]) -> str | None:
    ids = [r["model_id"] for r in served(urls) if r.get("model_id")]
    return ids[0] if ids else None


def deploy_recorded(engine: Engine, store: Store, *, author: str, force: bool = False, reason: str = "",
                    urls: list[str] | None = None, echo: Echo = print) -> dict[str, Any]:
    """models.deploy (same guard as the CLI) into every replica; recorded with who and why. Forcing needs a reason."""
    reason = " ".join(reason.split())
    if force and not reason:
        raise ModelError("deploying despite the comparison (--force) needs a reason")
    urls = urls or rasa_urls()
    reports: list[dict[str, Any]] = []
    result = deploy(store, urls[0], force=force, echo=echo, loader=_load_everywhere(urls, reports, echo))
    result["replicas"] = reports
    if result["forced"]:
        logger.warning("model deployed by force: %s (reason given; refusals: %s)", author, "; ".join(result["refusals"]))
    with session_scope(engine) as s:
        record_deployment(s, action="deploy", author=author, model_sha256=result["model_sha256"], replaced_sha256=result["replaced_sha256"],
                          reason=reason, forced=result["forced"], refusals=result["refusals"], model_id=_model_id(urls),
                          rasa=result["state"], figures=_figures(result.get("verdict")))
    return result


def rollback_recorded(engine: Engine, store: Store, *, author: str, reason: str = "", urls: list[str] | None = None,
                      echo: Echo = print) -> dict[str, Any]:
    urls = urls or rasa_urls()
    reports: list[dict[str, Any]] = []
    result = rollback(store, urls[0], echo=echo, loader=_load_everywhere(urls, reports, echo))
    result["replicas"] = reports
    with session_scope(engine) as s:
        # The restored model's figures: those recorded when it was deployed last.
        earlier = next((d.figures for d in deployments(s) if d.model_sha256 == result["model_sha256"] and d.action == "deploy"), {})
        record_deployment(s, action="rollback", author=author, model_sha256=result["model_sha256"],
                          replaced_sha256=result["replaced_sha256"], reason=" ".join(reason.split()), model_id=_model_id(urls),
                          rasa=result["state"], figures=dict(earlier or {}))
    return result

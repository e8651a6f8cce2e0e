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
    """The Rasa replicas to load a model into (one today: RASA_URL; a list so that scale-out adds more)."""
    return [get_settings().rasa_url]


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


def _load_everywhere(urls: list[str]) -> Callable[[str, Path], str]:
    """A loader for models.deploy/rollback that loads the model into each replica in turn (a rolling deploy)."""

    def load(_url: str, model: Path) -> str:
        states = [load_into_rasa(url, model) for url in urls]
        return "loaded" if all(s == "loaded" for s in states) else states[0] if len(set(states)) == 1 else ",".join(states)

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
    result = deploy(store, urls[0], force=force, echo=echo, loader=_load_everywhere(urls))
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
    result = rollback(store, urls[0], echo=echo, loader=_load_everywhere(urls))
    with session_scope(engine) as s:
        # The restored model's figures: those recorded when it was deployed last.
        earlier = next((d.figures for d in deployments(s) if d.model_sha256 == result["model_sha256"] and d.action == "deploy"), {})
        record_deployment(s, action="rollback", author=author, model_sha256=result["model_sha256"],
                          replaced_sha256=result["replaced_sha256"], reason=" ".join(reason.split()), model_id=_model_id(urls),
                          rasa=result["state"], figures=dict(earlier or {}))
    return result

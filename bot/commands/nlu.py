"""`bot nlu ...`: admins tune intents through training data.

review -> annotate (or discard) -> check -> train -> compare -> deploy (-> rollback).
Annotations are written into `nlu_data/` as ordinary Rasa YAML; see docs/admin_guide.md.
"""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import json
import sys
from pathlib import Path
from typing import Any

import click

from common.settings import PROJECT_ROOT

DATA_DIR_OPTION = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                               help="Training data folder (default: nlu_data/).")


def _data_dir(value: Path | None) -> Path:
    from bot.nlu_admin.training_data import NLU_DATA

    return Path(value) if value else NLU_DATA


def _engine():  # type: ignore[no-untyped-def]
    from storage.db import get_engine
    from storage.migrate import upgrade

    engine = get_engine()
    upgrade(engine)
    return engine


def _store():  # type: ignore[no-untyped-def]
    from bot.nlu_admin.models import Store

    return Store()


def _model_errors(fn: Any) -> Any:
    """ModelError and DataError become a clean `Error: ...` and exit 1."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from bot.nlu_admin.models import ModelError
        from bot.nlu_admin.training_data import DataError

        try:
            return fn(*args, **kwargs)
        except (ModelError, DataError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


@click.group(name="nlu")
def cli() -> None:
    """Review captured messages, annotate them into nlu_data/, check, train, compare, deploy, roll back."""


# ---------------------------------------------------------------- review and annotate

def _queue(below: float, limit: int) -> list[Any]:
    from common.settings import get_settings
    from storage.db import session_scope
    from storage.nlu_capture import purge_expired
    from storage.nlu_review import review_queue

    with session_scope(_engine()) as s:
        purge_expired(s, get_settings().nlu_capture_retention_days)
        return review_queue(s, low_confidence=below, limit=limit)


def _show(group: Any, position: str) -> None:
    from bot.nlu_admin.review import REASONS_TH, suggested_example

    reasons = ", ".join(f"{REASONS_TH.get(r, r)} ×{n}" for r, n in group.reasons.items())
    intents = ", ".join(f"{name} ×{n}" for name, n in group.intents.items())
    click.echo("")
    click.secho(f"{position} {group.text}", bold=True)
    click.echo(f"    พบ {group.occurrences} ครั้ง (รอตรวจ {group.count}) · {reasons}")
    click.echo(f"    ผู้ช่วยเข้าใจว่า: {intents} · ความมั่นใจเฉลี่ย {group.confidence:.0%} · รหัส {group.id}")
    for variant in group.variants:
        click.echo(f"    ข้อความใกล้เคียง: {variant}")
    click.echo(f"    ตัวอย่างที่แนะนำ: {suggested_example(group)}")


def _annotate_interactively(group: Any, data_dir: Path, intents: dict[str, Path]) -> bool:
    """Ask for the intent and the example, write it. False when the admin backed out."""
    from bot.nlu_admin.review import annotate, suggested_example
    from bot.nlu_admin.training_data import NEW_INTENT_GROUP, DataError, ExampleConflict
    from storage.db import session_scope

    default_intent = next((i for i in group.intents if i != "nlu_fallback"), "")
    while True:
        intent = click.prompt("    เจตนาที่ถูกต้อง (พิมพ์ ? เพื่อดูรายการ, เว้นว่างเพื่อยกเลิก)", default=default_intent, show_default=bool(default_intent)).strip()
        if intent == "?":
            click.echo("    " + ", ".join(sorted(intents)))
            continue
        break
    if not intent:
        return False
    group_file = None
    if intent not in intents:
        click.echo(f"    {intent} เป็นเจตนาใหม่ อย่าลืมประกาศในโดเมน (bot/domain/) และเพิ่มตัวอย่างให้ครบ 40 ตัวอย่างขึ้นไป")
        group_file = click.prompt("    บันทึกในไฟล์ nlu_data/<ชื่อ>.yml ชื่อ", default=NEW_INTENT_GROUP).strip()
    example = click.prompt("    ตัวอย่างที่จะบันทึก", default=suggested_example(group)).strip()
    move = False
    while True:
        try:
            with session_scope(_engine()) as s:
                written, marked = annotate(s, group.ids, intent, example, data_dir=data_dir, group=group_file, move=move)
        except ExampleConflict as exc:
            if click.confirm(f"    ข้อความนี้เป็นตัวอย่างของ {', '.join(exc.intents)} อยู่แล้ว ต้องการย้ายมาเป็น {intent} หรือไม่", default=False):
                move = True
                continue
            return False
        except DataError as exc:
            click.secho(f"    บันทึกไม่ได้: {exc}", fg="red")
            return False
        break
    note = "บันทึกแล้ว" if written.added else "มีตัวอย่างนี้อยู่แล้ว จึงไม่ได้เพิ่มซ้ำ"
    click.secho(f"    {note}: nlu_data/{written.path.name} ({marked} ข้อความในคิวปิดแล้ว)", fg="green")
    return True


@cli.command()
@click.option("--limit", default=50, show_default=True, help="Groups to show.")
@click.option("--below", default=0.6, show_default=True, help="Confidence under which a message counts as low.")
@click.option("--list", "list_only", is_flag=True, help="Print the queue and exit (no questions).")
@click.option("--json", "as_json", is_flag=True, help="Print the queue as JSON and exit.")
@click.option("--interactive", is_flag=True, help="Ask even when the input is not a terminal (scripts feeding answers).")
@DATA_DIR_OPTION
def review(limit: int, below: float, list_only: bool, as_json: bool, interactive: bool, data_dir: Path | None) -> None:
    """Go through the review queue: assign an intent (or a new one), mark entities, or discard.

    The queue holds messages that hit the fallback, had low confidence, were
    contradicted at once (deny or restart next) or were flagged; near-duplicates
    are grouped and the most frequent come first.
    """
    from bot.nlu_admin.review import discard, group_view
    from bot.nlu_admin.training_data import intent_files
    from storage.db import session_scope

    groups = _queue(below, limit)
    if as_json:
        click.echo(json.dumps([group_view(g) for g in groups], ensure_ascii=False, indent=1))
        return
    if not groups:
        click.echo("ไม่มีข้อความที่ต้องตรวจในขณะนี้")
        return
    if list_only or not (interactive or sys.stdin.isatty()):
        for n, group in enumerate(groups, 1):
            _show(group, f"[{n}/{len(groups)}]")
        return
    directory = _data_dir(data_dir)
    done = 0
    for n, group in enumerate(groups, 1):
        _show(group, f"[{n}/{len(groups)}]")
        choice = click.prompt("    [i] กำหนดเจตนา  [d] ทิ้ง  [s] ข้าม  [q] ออก", type=click.Choice(["i", "d", "s", "q"]), default="s",
                              show_choices=False)
        if choice == "q":
            break
        if choice == "d":
            with session_scope(_engine()) as s:
                marked = discard(s, group.ids)
            click.echo(f"    ทิ้งแล้ว {marked} ข้อความ")
            done += 1
        elif choice == "i" and _annotate_interactively(group, directory, intent_files(directory)):
            done += 1
    click.echo("")
    click.echo(f"ตรวจแล้ว {done} กลุ่ม ขั้นต่อไป: bot nlu check, bot nlu train, bot nlu compare, bot nlu deploy")


def _group_ids(capture_id: int, only: bool) -> list[int]:
    from storage.db import session_scope
    from storage.nlu_review import find_group

    if only:
        return [capture_id]
    with session_scope(_engine()) as s:
        group = find_group(s, capture_id)
    return group.ids if group else [capture_id]


@cli.command()
@click.argument("capture_id", type=int)
@click.option("--intent", required=True, help="The right intent (an existing one, or a new name).")
@click.option("--example", help="The example as Rasa markup, e.g. 'ต่อ [ใบขับขี่](service)' (default: the captured text with NLU's entities).")
@click.option("--group", "group_file", help="For a new intent: the file nlu_data/<GROUP>.yml (default new_intents).")
@click.option("--move", is_flag=True, help="Take the example away from the intent that has it now.")
@click.option("--only", is_flag=True, help="Resolve only this message, not its near-duplicates.")
@DATA_DIR_OPTION
@_model_errors
def annotate(capture_id: int, intent: str, example: str | None, group_file: str | None, move: bool, only: bool, data_dir: Path | None) -> None:
    """Add a captured message (CAPTURE_ID from `review --list`) to the training data as an example of INTENT."""
    from bot.nlu_admin.review import annotate as write
    from bot.nlu_admin.training_data import build_example
    from storage.db import session_scope
    from storage.models.nlu_capture import NluCapture

    with session_scope(_engine()) as s:
        capture = s.get(NluCapture, capture_id)
        if capture is None:
            raise click.ClickException(f"no captured message {capture_id}")
        text = example or build_example(capture.text, capture.entities or [])
    ids = _group_ids(capture_id, only)
    with session_scope(_engine()) as s:
        written, marked = write(s, ids, intent, text, data_dir=_data_dir(data_dir), group=group_file, move=move)
    state = "added to" if written.added else "already in"
    click.echo(f"{state} {intent} ({written.path.name}); {marked} captured message(s) resolved")


@cli.command()
@click.argument("capture_id", type=int)
@click.option("--only", is_flag=True, help="Discard only this message, not its near-duplicates.")
def discard(capture_id: int, only: bool) -> None:
    """Mark a captured message (and its near-duplicates) as not useful for training."""
    from bot.nlu_admin.review import discard as drop
    from storage.db import session_scope

    ids = _group_ids(capture_id, only)
    with session_scope(_engine()) as s:
        click.echo(f"{drop(s, ids)} captured message(s) discarded")


@cli.command()
@click.argument("capture_id", type=int)
def flag(capture_id: int) -> None:
    """Put a captured message into the review queue (e.g. an official says the bot misunderstood it)."""
    from storage.db import session_scope
    from storage.nlu_review import flag as mark

    with session_scope(_engine()) as s:
        if not mark(s, capture_id):
            raise click.ClickException(f"no waiting captured message {capture_id}")
    click.echo(f"message {capture_id} flagged for review")


@cli.command()
@click.argument("canonical")
@click.argument("variants", nargs=-1, required=True)
@click.option("--group", "group_file", default="synonyms", show_default=True, help="File nlu_data/<GROUP>.yml for a new synonym.")
@DATA_DIR_OPTION
@_model_errors
def synonym(canonical: str, variants: tuple[str, ...], group_file: str, data_dir: Path | None) -> None:
    """Map what people type (VARIANTS) to a CANONICAL entity value, e.g. `bot nlu synonym กรุงเทพมหานคร บางกอก`."""
    from bot.nlu_admin.training_data import add_synonym

    written = add_synonym(_data_dir(data_dir), canonical, list(variants), group=group_file)
    click.echo(f"{'added to' if written.added else 'already in'} synonym {canonical} ({written.path.name})")


@cli.command()
def purge() -> None:
    """Delete captured messages older than NLU_CAPTURE_RETENTION_DAYS now (the scheduler does this hourly)."""
    from common.settings import get_settings
    from storage.db import session_scope
    from storage.nlu_capture import purge_expired

    days = get_settings().nlu_capture_retention_days
    with session_scope(_engine()) as s:
        click.echo(f"purged {purge_expired(s, days)} captured message(s) older than {days} days")


# ---------------------------------------------------------------- check, train, compare, deploy


def _print_findings(findings: list[Any], limit: int) -> None:
    for finding in findings:
        color = "red" if finding.level == "error" else "yellow"
        click.secho(f"{finding.level.upper()}: {finding.message}", fg=color)
        for item in finding.items[:limit]:
            click.echo(f"  - {item}")
        if len(finding.items) > limit:
            click.echo(f"  … {len(finding.items) - limit} more")


@cli.command()
@DATA_DIR_OPTION
@click.option("--rasa/--no-rasa", "with_rasa", default=True, show_default=True, help="Run `rasa data validate`.")
@click.option("--model/--no-model", "with_model", default=True, show_default=True,
              help="Evaluate the current model on the training data to find misclassified examples.")
@click.option("--min-examples", default=40, show_default=True, help="Warn about intents with fewer different examples.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option("--limit", default=20, show_default=True, help="Items listed per finding.")
def check(data_dir: Path | None, with_rasa: bool, with_model: bool, min_examples: int, strict: bool, limit: int) -> None:
    """Rasa data validation plus the project's checks; exit 1 when something must be fixed."""
    import tempfile

    from bot.nlu_admin import checks
    from bot.nlu_admin.models import Store, evaluate, run_rasa
    from bot.nlu_admin.training_data import DOMAIN_DIR, HELD_OUT

    directory = _data_dir(data_dir)
    failed = False
    if with_rasa:
        click.echo("rasa data validate ...")
        result = run_rasa(["data", "validate", "--config", "config.yml", "--domain", str(DOMAIN_DIR), "--data", str(directory),
                           str(PROJECT_ROOT / "bot" / "data")], timeout=900)
        output = (result.stdout + result.stderr).splitlines()
        notes = [line for line in output if any(w in line for w in ("UserWarning", "ERROR", "Error")) and "SQLAlchemy" not in line]
        responses = [line for line in notes if "utterance" in line and "not used in any story or rule" in line]
        notes = [line.split("UserWarning: ", 1)[-1] for line in notes if line not in responses]
        if result.returncode != 0:
            failed = True
            click.secho("ERROR: rasa data validate failed", fg="red")
            for line in (notes or output)[-limit:]:
                click.echo(f"  {line}")
        else:
            click.secho("rasa data validate: ok", fg="green")
            for line in notes[:limit]:
                click.secho(f"  warning: {line}", fg="yellow")
            if responses:
                click.echo(f"  ({len(responses)} warning(s) about responses that only custom actions use: not about NLU data)")
    findings = checks.data_findings(directory, DOMAIN_DIR, HELD_OUT, PROJECT_ROOT / "config.yml", min_examples)
    current = Store().model("current")
    if with_model and current.exists():
        click.echo("evaluating the current model on the training data ...")
        with tempfile.TemporaryDirectory(prefix="nlu-check-") as tmp:
            try:
                run = evaluate(current, directory, Path(tmp))
                click.echo(f"  the current model gets {sum(p.correct for p in run.predictions)} of {len(run.predictions)} "
                           f"training examples right (accuracy {run.accuracy:.3f})")
            except Exception as exc:  # noqa: BLE001 - the other checks still count
                click.secho(f"WARNING: could not evaluate the current model ({exc})"[:500], fg="yellow")
            findings += checks.misclassified(Path(tmp) / "intent_errors.json")
    elif with_model:
        click.echo("no current model: skipped the misclassification check")
    _print_findings(findings, limit)
    failed = failed or any(f.level == "error" for f in findings) or (strict and bool(findings))
    if not findings and not failed:
        click.secho("the training data looks fine", fg="green")
    if failed:
        sys.exit(1)


@cli.command()
@click.option("--force", is_flag=True, help="Train even when the data did not change.")
@_model_errors
def train(force: bool) -> None:
    """Train a candidate model (models/candidate.tar.gz) from the data as it is now; nothing is served yet."""
    from bot.nlu_admin.models import train_candidate

    train_candidate(_store(), force=force, echo=click.echo)


@cli.command()
@click.option("--candidate", type=click.Path(dir_okay=False, exists=True, path_type=Path), help="Default: models/candidate.tar.gz.")
@click.option("--baseline", type=click.Path(dir_okay=False, exists=True, path_type=Path), help="Default: models/current.tar.gz.")
@click.option("--folds", default=3, show_default=True, help="Cross-validation folds (0: skip; each fold trains an NLU model).")
@click.option("--tolerance", default=0.01, show_default=True, help="Allowed drop of held-out accuracy and macro-F1.")
@click.option("--intent-tolerance", default=0.10, show_default=True, help="Allowed drop of one intent's held-out F1.")
@click.option("--cv-tolerance", default=0.02, show_default=True, help="Allowed drop of cross-validation accuracy and macro-F1.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Report folder (default: reports/nlu_compare/).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON at the end.")
@_model_errors
def compare(candidate: Path | None, baseline: Path | None, folds: int, tolerance: float, intent_tolerance: float, cv_tolerance: float,
            out: Path | None, as_json: bool) -> None:
    """Evaluate the candidate against the current model (held-out set and cross-validation); write the report.

    Prints per-intent F1 changes and the examples that got worse; exit 1 on a regression.
    """
    from bot.nlu_admin.evaluation import Gate
    from bot.nlu_admin.models import REPORTS
    from bot.nlu_admin.models import compare as run_compare

    gate = Gate(tolerance=tolerance, intent_tolerance=intent_tolerance, cv_tolerance=cv_tolerance)
    verdict = run_compare(_store(), candidate=candidate, baseline=baseline, folds=folds, gate=gate, reports=out or REPORTS, echo=click.echo)
    if as_json:
        click.echo(json.dumps(verdict, ensure_ascii=False, indent=1))
    if not verdict["ok"]:
        sys.exit(1)


@cli.command()
@click.option("--force", is_flag=True, help="Deploy even without a fresh comparison or with a regression.")
@click.option("--rasa-url", default=None, help="The Rasa server (default: RASA_URL).")
@_model_errors
def deploy(force: bool, rasa_url: str | None) -> None:
    """Make the compared candidate the current model and load it into the running Rasa server (no restart)."""
    from bot.nlu_admin.models import DeployRefused
    from bot.nlu_admin.models import deploy as run_deploy
    from common.settings import get_settings

    try:
        run_deploy(_store(), rasa_url or get_settings().rasa_url, force=force, echo=click.echo)
    except DeployRefused as exc:
        click.secho("not deployed:", fg="red", err=True)
        for reason in exc.reasons:
            click.echo(f"  - {reason}", err=True)
        click.echo("fix the data and train again, or deploy anyway with --force", err=True)
        sys.exit(1)


@cli.command()
@click.option("--rasa-url", default=None, help="The Rasa server (default: RASA_URL).")
@_model_errors
def rollback(rasa_url: str | None) -> None:
    """Restore the previous model (models/previous.tar.gz) and load it into Rasa; run again to undo."""
    from bot.nlu_admin.models import rollback as run_rollback
    from common.settings import get_settings

    run_rollback(_store(), rasa_url or get_settings().rasa_url, echo=click.echo)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """The current, previous and candidate models, the last comparison and the review queue's size."""
    from bot.nlu_admin.models import status as model_status
    from storage.db import session_scope
    from storage.nlu_review import counts

    info = model_status(_store())
    with session_scope(_engine()) as s:
        info["captures"] = counts(s)
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=1))
        return
    for name in ("current", "previous", "candidate"):
        model = info[name]
        click.echo(f"{name:10s} " + (f"{model['sha256'][:12]} trained {model['trained_at'] or model['modified']}" if model else "-"))
    comparison = info["comparison"]
    if comparison:
        click.echo(f"comparison {comparison['created_at']}: {'ok' if comparison['ok'] else 'REGRESSION'} ({comparison['report']})")
    captures = info["captures"]
    click.echo(f"captured   waiting {captures.get('new', 0)}, annotated {captures.get('annotated', 0)}, discarded {captures.get('discarded', 0)}")

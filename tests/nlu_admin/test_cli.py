"""`bot nlu` in the terminal: review (list, JSON, interactive), annotate, discard, flag, synonym, check, purge, status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import cli
from storage.db import dispose_all, get_engine, session_scope
from storage.migrate import upgrade
from storage.models.nlu_capture import NluCapture
from tests.nlu_admin.conftest import capture


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from common.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    engine = get_engine()
    upgrade(engine)
    data = tmp_path / "nlu_data"
    data.mkdir()
    (data / "general.yml").write_text('version: "3.1"\n\nnlu:\n  - intent: greet\n    examples: |\n      - สวัสดี\n', encoding="utf-8")
    yield engine, data
    dispose_all()


def _run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["nlu", *args], input=input, catch_exceptions=False)
    return result


def test_list_json_annotate_discard_and_flag(env) -> None:  # type: ignore[no-untyped-def]
    engine, data = env
    hello = [capture(engine, "หวัดดีจ้าาา", "nlu_fallback", 0.3, user=f"U{i}") for i in range(3)]
    noise = capture(engine, "ฮ่าๆๆ", "nlu_fallback", 0.2, user="U9")
    fine = capture(engine, "สวัสดีครับ", "greet", 0.99, user="U8")

    listed = _run("review", "--list")
    assert listed.exit_code == 0 and "หวัดดีจ้าาา" in listed.output and "พบ 3 ครั้ง" in listed.output
    groups = json.loads(_run("review", "--json").output)
    assert [g["count"] for g in groups] == [3, 1] and groups[0]["example"] == "หวัดดีจ้าาา"

    annotated = _run("annotate", str(hello[1]), "--intent", "greet", "--data-dir", str(data))
    assert annotated.exit_code == 0 and "3 captured message(s) resolved" in annotated.output
    examples = yaml.safe_load((data / "general.yml").read_text(encoding="utf-8"))["nlu"][0]["examples"].splitlines()
    assert examples == ["- สวัสดี", "- หวัดดีจ้าาา"]

    assert "1 captured message(s) discarded" in _run("discard", str(noise)).output
    assert "ไม่มีข้อความที่ต้องตรวจ" in _run("review", "--list").output
    assert _run("flag", str(fine)).exit_code == 0
    assert _run("flag", "99999").exit_code == 1
    assert "สวัสดีครับ" in _run("review", "--list").output

    bad = _run("annotate", str(fine), "--intent", "Greet Me", "--data-dir", str(data))
    assert bad.exit_code == 1 and "not a usable intent name" in bad.output
    status = json.loads(_run("status", "--json").output)
    assert status["captures"] == {"annotated": 3, "discarded": 1, "new": 1}


def test_interactive_review_assigns_a_new_intent_with_entities(env) -> None:  # type: ignore[no-untyped-def]
    engine, data = env
    capture(engine, "จอดรถที่ กทม. ได้ไหม", "nlu_fallback", 0.25)
    capture(engine, "ขยะไม่มาเก็บ", "nlu_fallback", 0.25)
    answers = "\n".join(["i", "ask_parking", "parking", "จอดรถที่ [กทม.](agency:กรุงเทพมหานคร) ได้ไหม", "d"]) + "\n"
    result = _run("review", "--interactive", "--data-dir", str(data), input=answers)
    assert result.exit_code == 0, result.output
    assert "เป็นเจตนาใหม่" in result.output and "บันทึกแล้ว: nlu_data/parking.yml" in result.output and "ทิ้งแล้ว 1" in result.output
    stored = yaml.safe_load((data / "parking.yml").read_text(encoding="utf-8"))["nlu"][0]
    assert stored == {"intent": "ask_parking", "examples": "- จอดรถที่ [กทม.](agency:กรุงเทพมหานคร) ได้ไหม\n"}
    with session_scope(engine) as s:
        assert sorted(c.status for c in s.query(NluCapture)) == ["annotated", "discarded"]


def test_interactive_conflict_asks_before_moving(env) -> None:  # type: ignore[no-untyped-def]
    engine, data = env
    capture(engine, "สวัสดี", "nlu_fallback", 0.3)
    alone = _run("review", "--interactive", "--data-dir", str(data), input="i\nthank\n\nสวัสดี\ny\n")
    assert "ต้องการย้ายมาเป็น thank" in alone.output and "บันทึกไม่ได้" in alone.output  # greet would be left empty
    (data / "general.yml").write_text('version: "3.1"\n\nnlu:\n  - intent: greet\n    examples: |\n      - สวัสดี\n      - หวัดดี\n',
                                      encoding="utf-8")
    result = _run("review", "--interactive", "--data-dir", str(data), input="i\nthank\n\nสวัสดี\ny\n")
    assert result.exit_code == 0, result.output
    blocks = {b["intent"]: b["examples"] for f in ("general.yml", "new_intents.yml")
              for b in yaml.safe_load((data / f).read_text(encoding="utf-8"))["nlu"]}
    assert blocks == {"greet": "- หวัดดี\n", "thank": "- สวัสดี\n"}  # thank is new here: it went to new_intents.yml


def test_synonym_check_and_purge(env) -> None:  # type: ignore[no-untyped-def]
    _, data = env
    assert "added to synonym กรุงเทพมหานคร" in _run("synonym", "กรุงเทพมหานคร", "บางกอก", "--data-dir", str(data)).output
    checked = _run("check", "--no-rasa", "--no-model", "--min-examples", "1", "--data-dir", str(data))
    assert checked.exit_code == 0, checked.output
    (data / "general.yml").write_text('version: "3.1"\n\nnlu:\n  - intent: greet\n    examples: |\n      - บาย\n'
                                      '  - intent: goodbye\n    examples: |\n      - บาย\n', encoding="utf-8")
    conflicted = _run("check", "--no-rasa", "--no-model", "--data-dir", str(data))
    assert conflicted.exit_code == 1 and "ERROR: 1 example(s) belong to more than one intent" in conflicted.output
    assert "purged 0 captured message(s) older than 90 days" in _run("purge").output


def test_bot_admin_add_list_revoke_and_the_terminal_author(env) -> None:  # type: ignore[no-untyped-def]
    from storage.admin_accounts import authenticate
    from storage.admin_audit import changes

    engine, data = env
    added = CliRunner().invoke(cli, ["admin", "add", "somchai"], catch_exceptions=False)
    assert added.exit_code == 0, added.output
    token = added.output.strip().splitlines()[-1]
    with session_scope(engine) as s:
        assert authenticate(s, token).name == "somchai"  # type: ignore[union-attr]
    again = CliRunner().invoke(cli, ["admin", "add", "somchai"])
    assert again.exit_code == 1 and "already exists" in again.output
    assert "somchai" in CliRunner().invoke(cli, ["admin", "list"]).output
    assert CliRunner().invoke(cli, ["admin", "revoke", "somchai"]).exit_code == 0
    with session_scope(engine) as s:
        assert authenticate(s, token) is None
    assert "revoked" in CliRunner().invoke(cli, ["admin", "list"]).output
    assert CliRunner().invoke(cli, ["admin", "revoke", "somchai"]).exit_code == 1
    _run("synonym", "กรุงเทพมหานคร", "บางกอก", "--data-dir", str(data))  # a terminal change is recorded too, as shell:<user>
    with session_scope(engine) as s:
        [change] = changes(s)
        assert change.author.startswith("shell:") and change.file == "synonyms.yml" and "+  - synonym: กรุงเทพมหานคร" in change.diff


def test_a_forced_deploy_needs_a_reason(env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    models = tmp_path / "models"
    models.mkdir()
    (models / "candidate.tar.gz").write_bytes(b"candidate")
    monkeypatch.setenv("NLU_ADMIN_MODELS_DIR", str(models))
    result = _run("deploy", "--force", "--rasa-url", "http://127.0.0.1:9")
    assert result.exit_code == 1 and "needs a reason" in result.output
    assert (models / "candidate.tar.gz").exists() and not (models / "current.tar.gz").exists()

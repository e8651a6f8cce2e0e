"""Issue #25 without a browser: per-admin tokens, the job guard across hosts, the nlu_data change log
as a patch git applies, the page's job/deploy/history routes, entity F1 in the gate, the SVG charts."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from bot.nlu_admin import charts, page
from bot.nlu_admin.audit import patch_text
from bot.nlu_admin.evaluation import EvalRun, Gate, compare_runs
from bot.nlu_admin.workspace import parse_gate
from connectors.app import create_app
from storage import admin_jobs
from storage.admin_accounts import AccountError, add_admin, authenticate, revoke_admin
from storage.admin_audit import changes, record_deployment
from storage.db import session_scope
from storage.models.base import utcnow
from tests.channels.conftest import make_settings
from tests.nlu_admin.conftest import capture

pytestmark = pytest.mark.timeout(60)


def _client(app) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=30)


def _app(tmp_path: Path, engine: Engine, data: Path | None = None, admin_token: str = ""):  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9", admin_token=admin_token)
    app = create_app(settings, engine=engine, channels={}, extra_routes=page.routes())
    if data is not None:
        app.state.nlu_data_dir = data
    return app


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "nlu_data"
    folder.mkdir()
    (folder / "services.yml").write_text('version: "3.1"\n\nnlu:\n  - intent: ask_service_info\n    examples: |\n'
                                         '      - ทำบัตรประชาชนใช้อะไรบ้าง\n', encoding="utf-8")
    return folder


# ---------------------------------------------------------------- accounts


def test_tokens_are_per_admin_stored_as_digests_and_revocable(db_engine: Engine) -> None:
    with session_scope(db_engine) as s:
        somchai = add_admin(s, "somchai")
        malee = add_admin(s, "malee")
    assert somchai != malee and somchai.startswith("adm_")
    with session_scope(db_engine) as s:
        from storage.models.admin import AdminAccount

        stored = {a.token_sha256 for a in s.query(AdminAccount)}
        assert somchai not in stored and all(len(d) == 64 for d in stored)
        assert authenticate(s, somchai).name == "somchai"  # type: ignore[union-attr]
        assert authenticate(s, malee).name == "malee"  # type: ignore[union-attr]
        assert authenticate(s, somchai + "x") is None
        with pytest.raises(AccountError):
            add_admin(s, "somchai")
        with pytest.raises(AccountError):
            add_admin(s, "Bad Name!")
        assert revoke_admin(s, "somchai")
        assert authenticate(s, somchai) is None
        assert not revoke_admin(s, "somchai")
        renewed = add_admin(s, "somchai")  # a revoked admin gets a new token, the old one stays dead
        assert authenticate(s, renewed).name == "somchai" and authenticate(s, somchai) is None  # type: ignore[union-attr]


async def test_the_page_opens_for_per_admin_tokens_and_records_who_annotated(tmp_path: Path, sqlite_engine: Engine, data: Path) -> None:
    app = _app(tmp_path, sqlite_engine, data)
    async with _client(app) as client:
        assert (await client.get("/admin")).status_code == 404  # no admin yet and no ADMIN_TOKEN: the page is off
        with session_scope(sqlite_engine) as s:
            token = add_admin(s, "somchai")
        assert (await client.get("/admin")).status_code == 200
        assert (await client.get("/admin/api/whoami")).status_code == 401
        assert (await client.get("/admin/api/whoami", headers={"Authorization": "Bearer adm_wrong"})).status_code == 403
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/admin/api/whoami", headers=headers)).json() == {"name": "somchai"}
        cid = capture(sqlite_engine, "ต่อใบขับขี่ต้องใช้อะไร", "nlu_fallback", 0.3)
        response = await client.post("/admin/api/annotate", headers=headers,
                                     json={"ids": [cid], "intent": "ask_service_info", "example": "ต่อ[ใบขับขี่](service)ต้องใช้อะไร"})
        assert response.status_code == 200, response.text
        listed = (await client.get("/admin/api/changes", headers=headers)).json()["changes"]
        assert [(c["author"], c["file"]) for c in listed] == [("somchai", "services.yml")]
        assert "+      - ต่อ[ใบขับขี่](service)ต้องใช้อะไร" in listed[0]["diff"]
        with session_scope(sqlite_engine) as s:
            other = add_admin(s, "malee")
            revoke_admin(s, "somchai")
        assert (await client.get("/admin/api/whoami", headers=headers)).status_code == 403
        assert (await client.get("/admin/api/whoami", headers={"Authorization": f"Bearer {other}"})).status_code == 200
        with session_scope(sqlite_engine) as s:
            revoke_admin(s, "malee")
        assert (await client.get("/admin")).status_code == 404  # nobody left: the page is off again


# ---------------------------------------------------------------- the patch


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo), "GIT_COMMITTER_NAME": "engineer", "GIT_COMMITTER_EMAIL": "e@example.invalid",
           "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


async def test_the_patch_applies_with_git_am_one_commit_per_change_authored_by_the_admin(tmp_path: Path, sqlite_engine: Engine) -> None:
    repo = tmp_path / "repo"
    (repo / "nlu_data").mkdir(parents=True)
    original = 'version: "3.1"\n\nnlu:\n  - intent: ask_service_info\n    examples: |\n      - ทำบัตรประชาชนใช้อะไรบ้าง\n'
    (repo / "nlu_data" / "services.yml").write_text(original, encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=engineer", "-c", "user.email=e@example.invalid", "commit", "-qm", "base")
    host_data = tmp_path / "host" / "nlu_data"  # the production host's copy
    host_data.mkdir(parents=True)
    (host_data / "services.yml").write_text(original, encoding="utf-8")
    app = _app(tmp_path, sqlite_engine, host_data)
    with session_scope(sqlite_engine) as s:
        tokens = {name: add_admin(s, name) for name in ("somchai", "malee")}
    async with _client(app) as client:
        for name, text, example, intent, group in (
            ("somchai", "ต่อใบขับขี่ต้องใช้อะไร", "ต่อ[ใบขับขี่](service)ต้องใช้อะไร", "ask_service_info", None),
            ("malee", "ขอเบอร์โทรเทศบาล", "ขอเบอร์โทรเทศบาล", "ask_contact_number", "contacts"),
        ):
            cid = capture(sqlite_engine, text, "nlu_fallback", 0.2, user=name)
            response = await client.post("/admin/api/annotate", headers={"Authorization": f"Bearer {tokens[name]}"},
                                         json={"ids": [cid], "intent": intent, "example": example, "group": group})
            assert response.status_code == 200, response.text
        response = await client.get("/admin/api/changes.patch", headers={"Authorization": f"Bearer {tokens['malee']}"})
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    (tmp_path / "changes.patch").write_text(response.text, encoding="utf-8")
    _git(repo, "am", "-q", str(tmp_path / "changes.patch"))
    log = _git(repo, "log", "--format=%an|%s", "-n", "2").splitlines()
    assert log == ["malee|nlu_data: malee adds an example to ask_contact_number", "somchai|nlu_data: somchai adds an example to ask_service_info"]
    for name in ("services.yml", "contacts.yml"):  # the repository now holds exactly what the host holds
        assert (repo / "nlu_data" / name).read_text(encoding="utf-8") == (host_data / name).read_text(encoding="utf-8")


def test_patch_text_is_empty_without_changes(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as s:
        assert patch_text(changes(s)) == ""


# ---------------------------------------------------------------- the job guard


def test_one_running_job_across_hosts_and_a_dead_one_is_closed_after_its_lease(db_engine: Engine) -> None:
    now = utcnow()
    first = admin_jobs.start(db_engine, "train", "somchai", host="host-a", now=now)
    with pytest.raises(admin_jobs.Busy) as refused:
        admin_jobs.start(db_engine, "check", "malee", host="host-b", now=now + timedelta(seconds=30))
    assert (refused.value.job_id, refused.value.started_by, refused.value.host) == (first, "somchai", "host-a")
    with session_scope(db_engine) as s:  # still beating: a start within the lease is refused
        admin_jobs.report(s, first, progress=40, step="กำลังฝึก", append="Epochs: 40%\n", now=now + timedelta(minutes=2))
    with pytest.raises(admin_jobs.Busy):
        admin_jobs.start(db_engine, "check", "malee", host="host-b", now=now + timedelta(minutes=4))
    # silent for longer than the lease: its host died
    second = admin_jobs.start(db_engine, "check", "malee", host="host-b", now=now + timedelta(minutes=5, seconds=1))
    with session_scope(db_engine) as s:
        from storage.models.admin import AdminJob

        dead = s.get(AdminJob, first)
        assert (dead.state, dead.running_guard, dead.progress) == ("failed", None, 40)
        assert dead.error
        admin_jobs.finish(s, second, ok=True, result={"failed": False})
    third = admin_jobs.start(db_engine, "train", "malee", host="host-b", now=now + timedelta(minutes=6))  # finished: the next may start
    with session_scope(db_engine) as s:
        assert admin_jobs.running(s).id == third  # type: ignore[union-attr]


async def test_a_second_start_from_the_page_is_refused_with_the_reason(tmp_path: Path, sqlite_engine: Engine, data: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.nlu_admin import jobs

    launched: list[int] = []
    monkeypatch.setattr(jobs, "launch_worker", launched.append)
    with session_scope(sqlite_engine) as s:
        tokens = {name: add_admin(s, name) for name in ("somchai", "malee")}
    async with _client(_app(tmp_path, sqlite_engine, data)) as client:
        first = await client.post("/admin/api/jobs", headers={"Authorization": f"Bearer {tokens['somchai']}"}, json={"kind": "train"})
        assert first.status_code == 202 and launched == [first.json()["id"]]
        second = await client.post("/admin/api/jobs", headers={"Authorization": f"Bearer {tokens['malee']}"}, json={"kind": "check"})
        assert second.status_code == 409
        assert "somchai" in second.json()["error"] and "ทีละงาน" in second.json()["error"]
        listed = (await client.get("/admin/api/jobs", headers={"Authorization": f"Bearer {tokens['malee']}"})).json()
        assert listed["running"]["started_by"] == "somchai" and listed["running"]["kind"] == "train"
        bad = await client.post("/admin/api/jobs", headers={"Authorization": f"Bearer {tokens['malee']}"}, json={"kind": "rm -rf"})
        assert bad.status_code == 400


async def test_a_forced_deploy_without_a_reason_is_refused_and_history_lists_deploys(tmp_path: Path, sqlite_engine: Engine,
                                                                                     data: Path) -> None:
    with session_scope(sqlite_engine) as s:
        token = add_admin(s, "somchai")
        record_deployment(s, action="deploy", author="somchai", model_sha256="a" * 64, reason="better parking answers",
                          figures={"held_out_accuracy": 0.93, "held_out_macro_f1": 0.91})
        record_deployment(s, action="rollback", author="malee", model_sha256="b" * 64, reason="complaints")
    headers = {"Authorization": f"Bearer {token}"}
    async with _client(_app(tmp_path, sqlite_engine, data)) as client:
        response = await client.post("/admin/api/deploy", headers=headers, json={"force": True, "reason": "  "})
        assert response.status_code == 400 and response.json()["code"] == "reason"
        history = (await client.get("/admin/api/history", headers=headers)).json()["deployments"]
        assert [(d["action"], d["author"], d["reason"]) for d in history] == [("rollback", "malee", "complaints"),
                                                                              ("deploy", "somchai", "better parking answers")]
        svg = await client.get("/admin/api/chart/history.svg", headers=headers)
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert svg.text.count('class="accuracy"') == 1  # the rollback has no figures of its own here
        assert (await client.get("/admin/api/chart/f1.svg", headers=headers)).status_code == 404  # no comparison yet


# ---------------------------------------------------------------- the gate and the charts


def _run(label: str, accuracy: float, entity_f1: float) -> EvalRun:
    report = {"accuracy": accuracy, "macro avg": {"f1-score": accuracy}, "greet": {"f1-score": accuracy, "support": 10}}
    return EvalRun(label, report, [], {"DIETClassifier": {"micro avg": {"f1-score": entity_f1}}})


def test_entity_f1_is_part_of_the_regression_check() -> None:
    gate = Gate(min_accuracy=0.0)
    assert gate.held_out_problems(compare_runs(_run("a", 0.95, 0.90), _run("b", 0.95, 0.88))) == []
    problems = gate.held_out_problems(compare_runs(_run("a", 0.95, 0.90), _run("b", 0.95, 0.80)))
    assert problems == ["entity F1 of DIETClassifier fell by 0.100 (tolerance 0.050)"]
    assert parse_gate("entity_tolerance=0.2,min_accuracy=0").held_out_problems(
        compare_runs(_run("a", 0.95, 0.90), _run("b", 0.95, 0.80))) == []
    with pytest.raises(ValueError):
        parse_gate("nonsense=1")


def test_svg_charts_escape_names_and_draw_one_bar_pair_per_intent() -> None:
    svg = charts.f1_bars_svg([{"intent": "a<b", "before": 0.5, "after": 0.75, "delta": 0.25},
                              {"intent": "greet", "before": 0.9, "after": 0.8, "delta": -0.1}])
    assert "a&lt;b" in svg and "a<b" not in svg and svg.count('class="intent"') == 2
    assert "-0.100" in svg and "+0.250" in svg
    matrix = charts.confusion_svg(["greet", "bye"], [[3, 1], [0, 2]])
    assert matrix.count("<rect") == 1 + 4  # background + cells


def test_the_job_reporter_turns_the_pipeline_output_into_progress_steps_and_a_log_tail(sqlite_engine: Engine) -> None:
    from bot.nlu_admin.jobs import Reporter, view
    from storage.models.admin import AdminJob

    job_id = admin_jobs.start(sqlite_engine, "train", "somchai", host="host-a")
    seen = []
    with Reporter(sqlite_engine, job_id) as reporter:
        for line in ("training a candidate model (a few minutes) ...", "Epochs:  40%|████ | 2/5 [00:01<00:01, 1.2it/s]",
                     "Epochs: 100%|██████████| 5/5 [00:03<00:00, 1.5it/s]", "Epochs:   0%|  | 0/5 [00:00<?, ?it/s]",
                     "Processed trackers:  47%|████▋ | 14/30 [00:00<00:00, 130.15it/s]",
                     "evaluating current.tar.gz on the held-out set ...", "evaluating candidate.tar.gz on the held-out set ...",
                     "cross-validating the training data (2 folds, trains 2 NLU models) ..."):
            reporter.echo(line)
            seen.append((reporter.progress, reporter.step))
    assert [p for p, _ in seen] == [10, 20, 35, 35, 35, 62, 72, 80]  # NLU bar 10-35 %, the dialogue bar from 35 %, then the steps
    assert [s for _, s in seen][-3:] == ["กำลังทดสอบโมเดลปัจจุบันกับชุดทดสอบแยก", "กำลังทดสอบโมเดลใหม่กับชุดทดสอบแยก",
                                         "กำลังตรวจไขว้ (cross-validation)"]
    with session_scope(sqlite_engine) as s:
        shown = view(s.get(AdminJob, job_id))
    assert "Epochs: 100%" in shown["log_tail"] and "40%" not in shown["log_tail"] and "Processed trackers" not in shown["log_tail"]
    assert shown["progress"] == 80 and shown["state"] == "running"

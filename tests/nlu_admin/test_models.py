"""compare -> deploy -> rollback with a temporary model folder, fabricated evaluations and a fake Rasa (no training)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.nlu_admin.evaluation import EvalRun, Gate, Prediction
from bot.nlu_admin.models import DeployRefused, ModelError, Store, compare, deploy, load_into_rasa, rollback, sha256, status
from tests.channels.fakes import ServerThread, free_port

pytestmark = pytest.mark.timeout(60)

HELD_OUT = [("สวัสดีครับท่าน", "greet"), ("บายน้า", "goodbye"), ("ขอบคุณค่ะ", "thank"), ("ขอบใจนะ", "thank")]


def _run(label: str, wrong: set[str]) -> EvalRun:
    predictions = [Prediction(t, gold, "help" if t in wrong else gold, 0.9) for t, gold in HELD_OUT]
    intents = {}
    for name in ("greet", "goodbye", "thank"):
        rows = [p for p in predictions if p.gold == name]
        f1 = sum(p.correct for p in rows) / len(rows)
        intents[name] = {"precision": f1, "recall": f1, "f1-score": f1, "support": 8}
    accuracy = sum(p.correct for p in predictions) / len(predictions)
    macro = sum(r["f1-score"] for r in intents.values()) / len(intents)
    return EvalRun(label, {**intents, "accuracy": accuracy, "macro avg": {"f1-score": macro}, "weighted avg": {"f1-score": macro}},
                   predictions)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "current.tar.gz").write_bytes(b"model one")
    (folder / "current.fingerprint.json").write_text(json.dumps({"fingerprint": "one"}))
    (folder / "candidate.tar.gz").write_bytes(b"model two")
    (folder / "candidate.fingerprint.json").write_text(json.dumps({"fingerprint": "two"}))
    return Store(folder)


def _compare(store: Store, tmp_path: Path, candidate_wrong: set[str], folds: int = 0) -> dict:
    def evaluator(model: Path, data: Path, out: Path) -> EvalRun:
        return _run(model.name, candidate_wrong if model.name == "candidate.tar.gz" else set())

    def cross_validator(data: Path, folds: int, out: Path) -> EvalRun:
        return _run("cv", set())

    return compare(store, held_out=tmp_path, data=tmp_path, folds=folds, gate=Gate(min_accuracy=0.5), reports=tmp_path / "reports",
                   echo=lambda _: None, evaluator=evaluator, cross_validator=cross_validator)


def _loaded(calls: list[Path]):  # type: ignore[no-untyped-def]
    def loader(url: str, model: Path) -> str:
        calls.append(model.read_bytes())
        return "loaded"

    return loader


def test_deploy_needs_a_passing_comparison_of_exactly_these_models(store: Store, tmp_path: Path) -> None:
    with pytest.raises(DeployRefused) as refused:
        deploy(store, "http://rasa", loader=_loaded([]), echo=lambda _: None)
    assert "has not been compared" in str(refused.value)

    verdict = _compare(store, tmp_path, candidate_wrong={"บายน้า"})
    assert verdict["ok"] is False and any("goodbye" in p for p in verdict["problems"])
    assert Path(verdict["report"]).exists()
    with pytest.raises(DeployRefused):
        deploy(store, "http://rasa", loader=_loaded([]), echo=lambda _: None)
    assert (store.dir / "current.tar.gz").read_bytes() == b"model one"  # nothing moved

    assert _compare(store, tmp_path, candidate_wrong=set())["ok"] is True
    (store.dir / "candidate.tar.gz").write_bytes(b"model two, retrained")  # a different candidate than the compared one
    with pytest.raises(DeployRefused) as stale:
        deploy(store, "http://rasa", loader=_loaded([]), echo=lambda _: None)
    assert "another candidate" in str(stale.value)


def test_deploy_then_rollback_then_roll_forward(store: Store, tmp_path: Path) -> None:
    _compare(store, tmp_path, candidate_wrong=set(), folds=3)
    loads: list[bytes] = []
    result = deploy(store, "http://rasa", loader=_loaded(loads), echo=lambda _: None)
    assert result["state"] == "loaded" and loads == [b"model two"]
    assert (store.dir / "current.tar.gz").read_bytes() == b"model two"
    assert (store.dir / "previous.tar.gz").read_bytes() == b"model one"
    assert json.loads((store.dir / "current.fingerprint.json").read_text())["fingerprint"] == "two"
    assert json.loads((store.dir / "previous.fingerprint.json").read_text())["fingerprint"] == "one"
    assert not (store.dir / "candidate.tar.gz").exists() and not store.compare_state.exists()
    assert json.loads((store.dir / "current.cv.json").read_text())["model_sha256"] == sha256(store.dir / "current.tar.gz")

    rollback(store, "http://rasa", loader=_loaded(loads), echo=lambda _: None)
    assert (store.dir / "current.tar.gz").read_bytes() == b"model one" and loads[-1] == b"model one"
    assert (store.dir / "previous.tar.gz").read_bytes() == b"model two"
    assert json.loads((store.dir / "current.fingerprint.json").read_text())["fingerprint"] == "one"
    rollback(store, "http://rasa", loader=_loaded(loads), echo=lambda _: None)
    assert (store.dir / "current.tar.gz").read_bytes() == b"model two"
    history = [json.loads(line)["action"] for line in store.history.read_text().splitlines()]
    assert history == ["deploy", "rollback", "rollback"]
    assert status(store)["current"]["fingerprint"] == "two"


def test_force_deploys_a_regression_and_a_refused_load_puts_everything_back(store: Store, tmp_path: Path) -> None:
    _compare(store, tmp_path, candidate_wrong={"บายน้า"})
    before = {p.name: p.read_bytes() for p in store.dir.iterdir() if p.is_file() and not p.name.startswith(".")}

    def refusing(url: str, model: Path) -> str:
        raise ModelError("Rasa could not load the model (HTTP 400)")

    with pytest.raises(ModelError):
        deploy(store, "http://rasa", force=True, loader=refusing, echo=lambda _: None)
    after = {p.name: p.read_bytes() for p in store.dir.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert after == before
    forced = deploy(store, "http://rasa", force=True, loader=_loaded([]), echo=lambda _: None)
    assert forced["forced"] is True and (store.dir / "current.tar.gz").read_bytes() == b"model two"


def test_rollback_without_a_previous_model(store: Store) -> None:
    with pytest.raises(ModelError, match="no previous model"):
        rollback(store, "http://rasa", loader=_loaded([]), echo=lambda _: None)


class FakeRasaApi:
    def __init__(self, status: int) -> None:
        self.status = status
        self.bodies: list[dict] = []
        self.app = Starlette(routes=[Route("/model", self.put, methods=["PUT"])])

    async def put(self, request: Request) -> Response:
        self.bodies.append(await request.json())
        return Response(status_code=self.status) if self.status == 204 else JSONResponse({"message": "bad model"}, status_code=self.status)


def test_loading_goes_through_put_model(tmp_path: Path) -> None:
    model = tmp_path / "current.tar.gz"
    model.write_bytes(b"x")
    ok = FakeRasaApi(204)
    with ServerThread(ok.app) as server:
        assert load_into_rasa(server.url, model) == "loaded"
    assert ok.bodies == [{"model_file": str(model.resolve())}]
    broken = FakeRasaApi(400)
    with ServerThread(broken.app) as server, pytest.raises(ModelError, match="HTTP 400"):
        load_into_rasa(server.url, model)
    closed = FakeRasaApi(404)
    with ServerThread(closed.app) as server, pytest.raises(ModelError, match="enable-api"):
        load_into_rasa(server.url, model)
    assert load_into_rasa(f"http://127.0.0.1:{free_port()}", model) == "not running"

"""The intent vote: a logistic regression over the sentence features, averaged with DIET's ranking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from engine.intent_vote import IntentVote

# Three "n-gram" columns: column 0 means greet, column 1 search_law, column 2 goodbye.
VOCABULARY = 3


def _message(text: str, columns: list[int], intent: str | None = None) -> Message:
    message = Message(data={TEXT: text, **({INTENT: intent} if intent else {})})
    row = np.zeros((1, VOCABULARY))
    row[0, columns] = 1.0
    message.add_features(Features(scipy.sparse.coo_matrix(row), "sentence", TEXT, "counts"))
    return message


def _training_data() -> TrainingData:
    return TrainingData(
        [_message("สวัสดี", [0], "greet"), _message("หวัดดีครับ", [0], "greet"),
         _message("กฎหมายจราจร", [1], "search_law"), _message("พรบ.คอม", [1], "search_law"),
         _message("บาย", [2], "goodbye"), _message("ลาก่อน", [2], "goodbye")]
    )


def _context() -> ExecutionContext:
    return ExecutionContext(None, "test")  # type: ignore[arg-type]


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def _trained(storage: LocalModelStorage, **config: object) -> tuple[IntentVote, Resource]:
    vote = IntentVote.create({**IntentVote.get_default_config(), **config}, storage, Resource("vote"), _context())
    return vote, vote.train(_training_data())


def _with_diet_ranking(message: Message, ranking: dict[str, float]) -> Message:
    ordered = sorted(ranking.items(), key=lambda item: item[1], reverse=True)
    message.set(INTENT, {"name": ordered[0][0], "confidence": ordered[0][1]})
    message.set("intent_ranking", [{"name": n, "confidence": c} for n, c in ordered])
    return message


def test_the_linear_model_outvotes_an_unsure_diet(storage: LocalModelStorage) -> None:
    vote, _ = _trained(storage)
    message = _with_diet_ranking(_message("กฎหมายอะไรคะ", [1]), {"greet": 0.4, "search_law": 0.35, "goodbye": 0.25})
    vote.process([message])
    assert message.get(INTENT)["name"] == "search_law"
    ranking = message.get("intent_ranking")
    assert [r["name"] for r in ranking][0] == "search_law"
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0, abs=1e-6)
    assert ranking[0]["confidence"] == message.get(INTENT)["confidence"]


def test_a_sure_diet_keeps_its_intent(storage: LocalModelStorage) -> None:
    vote, _ = _trained(storage)
    message = _with_diet_ranking(_message("ลาก่อนนะ", [1]), {"goodbye": 0.99, "greet": 0.005, "search_law": 0.005})
    vote.process([message])
    assert message.get(INTENT)["name"] == "goodbye"


def test_diet_weight_one_leaves_diets_ranking(storage: LocalModelStorage) -> None:
    vote, _ = _trained(storage, diet_weight=1.0)
    message = _with_diet_ranking(_message("กฎหมาย", [1]), {"greet": 0.6, "search_law": 0.3, "goodbye": 0.1})
    vote.process([message])
    assert message.get(INTENT) == {"name": "greet", "confidence": pytest.approx(0.6)}


def test_stored_as_arrays_and_loaded(storage: LocalModelStorage) -> None:
    vote, resource = _trained(storage)
    loaded = IntentVote.load(IntentVote.get_default_config(), storage, resource, _context())
    first = _with_diet_ranking(_message("จราจร", [1]), {"greet": 0.5, "search_law": 0.3, "goodbye": 0.2})
    second = _with_diet_ranking(_message("จราจร", [1]), {"greet": 0.5, "search_law": 0.3, "goodbye": 0.2})
    vote.process([first])
    loaded.process([second])
    assert first.get("intent_ranking") == second.get("intent_ranking")
    with storage.read_from(resource) as directory:
        assert sorted(p.name for p in directory.iterdir()) == ["classes.json", "weights.npz"]


def test_untrained_or_featureless_messages_are_left_alone(storage: LocalModelStorage) -> None:
    untrained = IntentVote.load(IntentVote.get_default_config(), storage, Resource("missing"), _context())
    message = _with_diet_ranking(_message("สวัสดี", [0]), {"goodbye": 0.7, "greet": 0.3})
    untrained.process([message])
    assert message.get(INTENT)["name"] == "goodbye"

    vote, _ = _trained(storage)
    bare = _with_diet_ranking(Message(data={TEXT: "สวัสดี"}), {"goodbye": 0.7, "greet": 0.3})
    vote.process([bare])
    assert bare.get(INTENT)["name"] == "goodbye"


def test_sentence_features_are_rasas_combination_of_the_sentence_features() -> None:
    from engine.intent_vote import _sentence_features

    message = Message(data={TEXT: "ขอดูกฎหมายจราจร"})
    rng = np.random.default_rng(7)
    for origin, width in (("regex", 4), ("words", 6), ("chars", 9)):
        message.add_features(Features(scipy.sparse.coo_matrix(rng.integers(0, 2, (3, width))), "sequence", TEXT, origin))
        message.add_features(Features(scipy.sparse.coo_matrix(rng.integers(0, 3, (1, width))), "sentence", TEXT, origin))
    expected = message.get_sparse_features(TEXT)[1].features.toarray()
    assert np.array_equal(_sentence_features(message, None).toarray(), expected)
    only = message.get_sparse_features(TEXT, ["words", "chars"])[1].features.toarray()
    assert np.array_equal(_sentence_features(message, ["words", "chars"]).toarray(), only)

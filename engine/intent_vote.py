"""A second opinion on the intent: a linear model over the sentence features, averaged with DIET
(engine runtime only).

DIET reads a message through a transformer over its Thai words; a multinomial logistic
regression over the same pipeline's sentence-level sparse features (word and character n-gram
counts of the whole message, regex matches) sees it as a bag of n-grams, the way stock Rasa's
pipeline effectively does for Thai without spaces. The two err on different messages, so their
average is steadier than either, and steadier from one training seed to the next.

Placed after DIETClassifier and before FallbackClassifier: the message's intent becomes the
weighted mean of DIET's ranking and the linear model's probabilities (`diet_weight`); entities
are untouched. The model is stored as plain arrays (no pickle).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.linear_model import LogisticRegression

logger = logging.getLogger(__name__)

_WEIGHTS_FILE = "weights.npz"
_CLASSES_FILE = "classes.json"
INTENT_RANKING = "intent_ranking"


def _sentence_features(message: Message, featurizers: list[str] | None) -> scipy.sparse.spmatrix | None:
    """The message's sparse sentence features side by side, in the order the featurizers added them
    (only these: combining the per-token sequence features too, as `get_sparse_features` does, costs
    more than the whole vote)."""
    parts = [
        f.features for f in message.features
        if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE and f.is_sparse()
        and (featurizers is None or f.origin in featurizers)
    ]
    if not parts:
        return None
    return (parts[0] if len(parts) == 1 else scipy.sparse.hstack(parts)).tocsr()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class IntentVote(GraphComponent, IntentClassifier):
    """Averages DIET's intent ranking with a logistic regression over sentence features."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "diet_weight": 0.5,  # share of DIET in the mean; the rest is the linear model's
            "C": 10.0,  # inverse regularisation strength of the logistic regression
            "featurizers": [],  # names of the featurizers to read; empty: all of them
            "ranking_length": 10,
            "random_seed": 42,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        classes: list[str] | None = None,
        coef: np.ndarray | None = None,
        intercept: np.ndarray | None = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._classes = classes or []
        self._coef = coef
        self._intercept = intercept
        # features (1 × n-grams, sparse) @ weights (n-grams × intents): contiguous once, not per message
        self._weights = np.ascontiguousarray(coef.T) if coef is not None else None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> IntentVote:
        return cls(config, model_storage, resource)

    def _featurizers(self) -> list[str] | None:
        return list(self._config["featurizers"]) or None

    def train(self, training_data: TrainingData) -> Resource:
        rows, labels = [], []
        for message in training_data.intent_examples:
            features = _sentence_features(message, self._featurizers())
            if features is not None:
                rows.append(features)
                labels.append(message.get(INTENT))
        if len(set(labels)) < 2:
            logger.debug("Fewer than two intents with features: the vote keeps DIET's ranking.")
            return self._resource
        # newton-cg reaches the same optimum as the default lbfgs in ~21 Newton steps instead of
        # ~510 quasi-Newton ones on these unscaled n-gram counts: 9 s instead of 20 s of training.
        model = LogisticRegression(
            C=self._config["C"], solver="newton-cg", max_iter=2000, random_state=self._config["random_seed"]
        )
        model.fit(scipy.sparse.vstack(rows).tocsr(), labels)
        self._classes = [str(c) for c in model.classes_]
        self._coef, self._intercept = model.coef_.astype(np.float32), model.intercept_.astype(np.float32)
        self._weights = np.ascontiguousarray(self._coef.T)
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / _WEIGHTS_FILE, coef=self._coef, intercept=self._intercept)
            (directory / _CLASSES_FILE).write_text(json.dumps(self._classes, ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> IntentVote:
        try:
            with model_storage.read_from(resource) as directory:
                weights = np.load(directory / _WEIGHTS_FILE, allow_pickle=False)
                classes = json.loads((directory / _CLASSES_FILE).read_text(encoding="utf-8"))
                return cls(config, model_storage, resource, classes, weights["coef"], weights["intercept"])
        except (ValueError, FileNotFoundError, OSError):
            logger.debug("No stored intent vote: DIET's ranking is kept as it is.")
            return cls(config, model_storage, resource)

    def _probabilities(self, features: scipy.sparse.spmatrix) -> np.ndarray:
        assert self._weights is not None and self._intercept is not None
        if features.shape[1] != self._weights.shape[0]:
            return np.full(len(self._classes), 1.0 / len(self._classes))
        scores = np.asarray(features @ self._weights).ravel() + self._intercept
        if len(self._classes) == 2:  # binary LogisticRegression keeps one row of weights
            p = 1.0 / (1.0 + np.exp(-scores[0]))
            return np.array([1.0 - p, p])
        scores = np.exp(scores - scores.max())
        return scores / scores.sum()

    def process(self, messages: list[Message]) -> list[Message]:
        if self._coef is None:
            return messages
        weight = float(self._config["diet_weight"])
        for message in messages:
            features = _sentence_features(message, self._featurizers())
            if features is None or not message.get(TEXT):
                continue
            votes = dict.fromkeys(self._classes, 0.0)
            for name, p in zip(self._classes, self._probabilities(features)):
                votes[name] = (1.0 - weight) * float(p)
            for entry in message.get(INTENT_RANKING) or []:
                name = entry.get(INTENT_NAME_KEY)
                if name is not None:
                    votes[name] = votes.get(name, 0.0) + weight * float(entry.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
            ranking = sorted(votes.items(), key=lambda item: item[1], reverse=True)[: self._config["ranking_length"]]
            if not ranking:
                continue
            best, confidence = ranking[0]
            message.set(INTENT, {INTENT_NAME_KEY: best, PREDICTED_CONFIDENCE_KEY: confidence}, add_to_output=True)
            message.set(
                INTENT_RANKING,
                [{INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: value} for name, value in ranking],
                add_to_output=True,
            )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

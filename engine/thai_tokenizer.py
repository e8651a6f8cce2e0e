"""Rasa tokenizer for Thai built on PyThaiNLP's newmm (engine runtime only).

- Every token's `start`/`end` point into the original message, so entity spans
  stay right even though the token text is normalised (Thai digits, ำ, repeated
  characters, lower-cased Latin; see `common.thai_text`).
- Whitespace is dropped; IDs such as REQ-000123 and T-42, Latin words, numbers,
  times (13.30) and dotted abbreviations (พ.ร.บ.) stay whole.
- Training teaches the segmenter the project's vocabulary: lookup-table elements,
  synonyms and the values annotated for the entities named in `dictionary_entities`
  are added to newmm's dictionary and stored with the model. Training examples are
  also cut at their entity boundaries so every annotation aligns with tokens.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from common.thai_text import tokenize as thai_tokenize

logger = logging.getLogger(__name__)

_WORDS_FILE = "words.txt"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class ThaiTokenizer(Tokenizer):
    """Splits Thai (and mixed Thai–English) text into words with exact offsets."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Entities whose annotated values become dictionary words (multi-word
            # names such as agencies stay one token); free-text entities stay out.
            "dictionary_entities": ["agency", "service", "law_topic"],
            # Longest annotated value (in characters) added to the dictionary.
            "max_dictionary_word_length": 40,
            # "กทม.", "น.", "ป." keep their dot (common/thai_text.py: tokenize).
            "abbreviation_dots": False,
            # Flag to check whether to split intents (Rasa's tokenizer option).
            "intent_tokenization_flag": False,
            # Symbol on which intent should be split.
            "intent_split_symbol": "_",
            # Regular expression to detect tokens (Rasa's tokenizer option).
            "token_pattern": None,
            # Symbol on which prefix should be split (Rasa's tokenizer option).
            "prefix_separator_symbol": None,
        }

    @staticmethod
    def supported_languages() -> list[str] | None:
        return ["th"]

    @staticmethod
    def required_packages() -> list[str]:
        return ["pythainlp"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        words: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(config)
        self._model_storage = model_storage
        self._resource = resource
        self._words = words

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ThaiTokenizer:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ThaiTokenizer:
        words: frozenset[str] = frozenset()
        try:
            with model_storage.read_from(resource) as directory:
                path = directory / _WORDS_FILE
                if path.exists():
                    words = frozenset(w for w in path.read_text(encoding="utf-8").splitlines() if w.strip())
        except ValueError:
            logger.debug("No stored vocabulary for %s; using newmm's dictionary only.", cls.__name__)
        return cls(config, model_storage, resource, words)

    def train(self, training_data: TrainingData) -> Resource:
        """Collect the project's vocabulary from the training data and store it."""
        self._words = frozenset(self._vocabulary(training_data))
        with self._model_storage.write_to(self._resource) as directory:
            (directory / _WORDS_FILE).write_text("\n".join(sorted(self._words)), encoding="utf-8")
        return self._resource

    def _vocabulary(self, training_data: TrainingData) -> set[str]:
        limit = self._config["max_dictionary_word_length"]
        wanted = set(self._config["dictionary_entities"])
        words: set[str] = set()
        for table in training_data.lookup_tables:
            elements = table.get("elements")
            if isinstance(elements, list):
                words.update(str(e) for e in elements)
        for synonym, value in training_data.entity_synonyms.items():
            words.update((str(synonym), str(value)))
        for example in training_data.entity_examples:
            for entity in example.get(ENTITIES) or []:
                if entity.get("entity") in wanted:
                    words.add(example.get(TEXT)[entity["start"] : entity["end"]])
        return {w.strip() for w in words if w.strip() and len(w.strip()) <= limit and " " not in w.strip()}

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute) or ""
        boundaries: list[int] = []
        if attribute == TEXT:
            for entity in message.get(ENTITIES) or []:
                boundaries.extend((entity["start"], entity["end"]))
        pieces = thai_tokenize(text, self._words, boundaries, abbreviation_dots=self._config["abbreviation_dots"])
        tokens = [Token(p.text, p.start, end=p.end) for p in pieces]
        return self._apply_token_pattern(tokens)

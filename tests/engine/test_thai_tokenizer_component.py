"""The Rasa tokenizer component, shaped like Rasa's own tokenizer tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from engine.thai_tokenizer import ThaiTokenizer


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def _create(storage: LocalModelStorage) -> ThaiTokenizer:
    return ThaiTokenizer.create(
        ThaiTokenizer.get_default_config(), storage, Resource("thai_tokenizer"), ExecutionContext(None, "test")  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("text", "expected_tokens", "expected_indices"),
    [
        ("สวัสดีครับ", ["สวัสดี", "ครับ"], [(0, 6), (6, 10)]),
        ("ติดตาม REQ-000123 ค่ะ", ["ติดตาม", "req-000123", "ค่ะ"], [(0, 6), (7, 17), (18, 21)]),
        ("งาน T-๔๒ เสร็จแล้ว", ["งาน", "t-42", "เสร็จ", "แล้ว"], [(0, 3), (4, 8), (9, 14), (14, 18)]),
        ("ขอบคุณมากกกก", ["ขอบคุณ", "มาก"], [(0, 6), (6, 12)]),
    ],
)
def test_thai_tokenizer(storage: LocalModelStorage, text: str, expected_tokens: list[str], expected_indices: list[tuple[int, int]]) -> None:
    tokens = _create(storage).tokenize(Message(data={TEXT: text}), attribute=TEXT)
    assert [t.text for t in tokens] == expected_tokens
    assert [(t.start, t.end) for t in tokens] == expected_indices


def test_vocabulary_is_learned_stored_and_loaded(storage: LocalModelStorage) -> None:
    example = Message(
        data={TEXT: "ติดต่อสำนักงานพัฒนารัฐบาลดิจิทัล", "intent": "ask_service_info",
              "entities": [{"start": 6, "end": 32, "value": "สำนักงานพัฒนารัฐบาลดิจิทัล", "entity": "agency"}]}
    )
    data = TrainingData([example], lookup_tables=[{"name": "service", "elements": ["ใบอนุญาตก่อสร้าง"]}])
    tokenizer = _create(storage)
    resource = tokenizer.train(data)
    loaded = ThaiTokenizer.load(ThaiTokenizer.get_default_config(), storage, resource, ExecutionContext(None, "test"))  # type: ignore[arg-type]
    tokens = loaded.tokenize(Message(data={TEXT: "ขอใบอนุญาตก่อสร้างจากสำนักงานพัฒนารัฐบาลดิจิทัล"}), attribute=TEXT)
    assert [t.text for t in tokens] == ["ขอ", "ใบอนุญาตก่อสร้าง", "จาก", "สำนักงานพัฒนารัฐบาลดิจิทัล"]


def test_training_examples_are_cut_at_entity_boundaries(storage: LocalModelStorage) -> None:
    text = "แจ้งกทม.ว่าไฟดับ"
    message = Message(data={TEXT: text, "entities": [{"start": 4, "end": 8, "value": "กทม.", "entity": "agency"}]})
    tokens = _create(storage).tokenize(message, attribute=TEXT)
    assert (4, 8) in [(t.start, t.end) for t in tokens]

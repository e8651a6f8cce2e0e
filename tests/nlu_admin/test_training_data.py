"""Annotations become ordinary, tidy Rasa YAML in nlu_data/: one file per intent group, no duplicates, sorted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.nlu_admin.training_data import (
    NLU_DATA, DataError, ExampleConflict, add_example, add_synonym, build_example, data_files, example_key, intent_files, parse_example,
    thai_sort_key,
)

GENERAL = '''version: "3.1"

# Small talk.
nlu:
  - intent: greet
    examples: |
      - สวัสดี
      - hello
      - หวัดดีครับ

  # Thanks come after greetings.
  - intent: thank
    examples: |
      - ขอบคุณครับ
      - ขอบใจ
'''

SERVICES = '''version: "3.1"

nlu:
  - intent: ask_service_info
    examples: |
      - ทำ [บัตรประชาชน](service:บัตรประจำตัวประชาชน) ใช้อะไรบ้าง
      - ต่อ [ใบขับขี่](service) ต้องใช้อะไร

  - regex: request_id
    examples: |
      - (?i)\\breq\\s?-?\\s?[0-9๐-๙]{6}(?![0-9๐-๙])
'''


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "nlu_data"
    folder.mkdir()
    (folder / "general.yml").write_text(GENERAL, encoding="utf-8")
    (folder / "services.yml").write_text(SERVICES, encoding="utf-8")
    return folder


def _examples(path: Path, kind: str, name: str) -> list[str]:
    for item in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
        if item.get(kind) == name:
            return [line[2:] for line in item["examples"].splitlines()]
    raise AssertionError(f"no {kind} {name}")


def test_an_example_goes_to_the_file_of_its_intent_sorted_and_the_rest_stays(data: Path) -> None:
    written = add_example(data, "greet", "สวัสดีตอนเช้า")
    assert written.path == data / "general.yml" and written.added
    assert _examples(data / "general.yml", "intent", "greet") == ["hello", "สวัสดี", "สวัสดีตอนเช้า", "หวัดดีครับ"]
    text = (data / "general.yml").read_text(encoding="utf-8")
    assert text.startswith('version: "3.1"\n\n# Small talk.\nnlu:\n')  # comments stay
    assert text.endswith('''
  # Thanks come after greetings.
  - intent: thank
    examples: |
      - ขอบคุณครับ
      - ขอบใจ
''')  # an untouched block stays exactly as written, unsorted
    assert (data / "services.yml").read_text(encoding="utf-8") == SERVICES


def test_no_duplicates_and_an_annotated_form_replaces_a_bare_one(data: Path) -> None:
    assert add_example(data, "greet", "  สวัสดี ").added is False
    assert add_example(data, "greet", "Hello").added is False  # the featurizers lower-case: same example
    assert add_example(data, "ask_service_info", "ต่อ  ใบขับขี่ ต้องใช้อะไร").added is False  # there, annotated
    richer = add_example(data, "ask_service_info", "ต่อ ใบขับขี่ ที่ [กทม.](agency:กรุงเทพมหานคร)")
    assert richer.added
    upgraded = add_example(data, "ask_service_info", "ต่อ [ใบขับขี่](service) ที่ [กทม.](agency:กรุงเทพมหานคร)")
    assert upgraded.added and upgraded.replaced == "ต่อ ใบขับขี่ ที่ [กทม.](agency:กรุงเทพมหานคร)"
    examples = _examples(data / "services.yml", "intent", "ask_service_info")
    assert len(examples) == len({example_key(e) for e in examples})
    assert examples == sorted(examples, key=thai_sort_key)
    assert "ต่อ [ใบขับขี่](service) ที่ [กทม.](agency:กรุงเทพมหานคร)" in examples


def test_entity_annotations_round_trip_through_yaml(data: Path) -> None:
    example = "ขอ [หนังสือเดินทาง](service) ที่ [กทม.](agency:กรุงเทพมหานคร) ภายใน [พรุ่งนี้]{\"entity\": \"time\"}"
    add_example(data, "ask_service_info", example)
    stored = _examples(data / "services.yml", "intent", "ask_service_info")
    assert example in stored
    plain, entities = parse_example(example)
    assert plain == "ขอ หนังสือเดินทาง ที่ กทม. ภายใน พรุ่งนี้"
    assert [(e.entity, e.value, plain[e.start:e.end]) for e in entities] == [
        ("service", None, "หนังสือเดินทาง"), ("agency", "กรุงเทพมหานคร", "กทม."), ("time", None, "พรุ่งนี้")]
    regex = _examples(data / "services.yml", "regex", "request_id")
    assert regex == ["(?i)\\breq\\s?-?\\s?[0-9๐-๙]{6}(?![0-9๐-๙])"]  # untouched, still valid


def test_a_new_intent_gets_its_group_file(data: Path) -> None:
    written = add_example(data, "ask_parking", "จอดรถที่ศาลากลางได้ไหม", group="parking")
    assert written.path == data / "parking.yml"
    assert (data / "parking.yml").read_text(encoding="utf-8") == '''version: "3.1"

nlu:
  - intent: ask_parking
    examples: |
      - จอดรถที่ศาลากลางได้ไหม
'''
    add_example(data, "ask_parking", "มีที่จอดรถไหมคะ")  # now it has a home: the group is not needed
    assert _examples(data / "parking.yml", "intent", "ask_parking") == ["จอดรถที่ศาลากลางได้ไหม", "มีที่จอดรถไหมคะ"]
    add_example(data, "report_noise", "ข้างบ้านเสียงดัง")
    assert intent_files(data)["report_noise"] == data / "new_intents.yml"
    add_example(data, "thank_officials", "ขอบคุณเจ้าหน้าที่มาก", group="general")  # a new block at the end of an existing file
    assert _examples(data / "general.yml", "intent", "thank_officials") == ["ขอบคุณเจ้าหน้าที่มาก"]
    assert "\n\n  - intent: thank_officials\n" in (data / "general.yml").read_text(encoding="utf-8")


def test_the_same_text_under_another_intent_is_a_conflict_unless_moved(data: Path) -> None:
    with pytest.raises(ExampleConflict) as conflict:
        add_example(data, "thank", "สวัสดี")
    assert conflict.value.intents == ["greet"] and conflict.value.code == "conflict"
    moved = add_example(data, "thank", "สวัสดี", move=True)
    assert moved.moved_from == ("greet",)
    assert "สวัสดี" not in _examples(data / "general.yml", "intent", "greet")
    assert "สวัสดี" in _examples(data / "general.yml", "intent", "thank")


@pytest.mark.parametrize("intent, example, code", [
    ("Greet!", "สวัสดี", "intent_name"),
    ("nlu_fallback", "อะไรนะ", "intent_name"),
    ("greet", "   ", "empty"),
    ("greet", "บรรทัดแรก\nบรรทัดสอง", "multiline"),
    ("greet", "ไป [กทม.](Agency) ครับ", "entity_name"),
])
def test_bad_input_is_refused_and_nothing_is_written(data: Path, intent: str, example: str, code: str) -> None:
    before = {p.name: p.read_text(encoding="utf-8") for p in data.iterdir()}
    with pytest.raises(DataError) as error:
        add_example(data, intent, example)
    assert error.value.code == code
    assert {p.name: p.read_text(encoding="utf-8") for p in data.iterdir()} == before


def test_synonyms_are_added_to_their_block(data: Path) -> None:
    written = add_synonym(data, "กรุงเทพมหานคร", ["กทม", "บางกอก"])
    assert written.path == data / "synonyms.yml" and written.added
    assert add_synonym(data, "กรุงเทพมหานคร", ["บางกอก"]).added is False
    add_synonym(data, "กรุงเทพมหานคร", ["BMA", "bma"])
    assert _examples(data / "synonyms.yml", "synonym", "กรุงเทพมหานคร") == ["BMA", "bma", "กทม", "บางกอก"]
    with pytest.raises(DataError):
        add_synonym(data, "กรมการขนส่งทางบก", ["กทม"])  # already means Bangkok


def test_build_example_marks_predicted_entities_on_the_masked_text() -> None:
    text = "โทร <เบอร์โทร> ต่อ ใบขับขี่ ที่ กทม."
    entities = [{"entity": "service", "start": text.index("ใบขับขี่"), "end": text.index("ใบขับขี่") + 8, "value": "ใบขับขี่"},
                {"entity": "agency", "start": text.index("กทม."), "end": len(text), "value": "กรุงเทพมหานคร"},
                {"entity": "service", "start": 0, "end": 200}]  # out of range: ignored
    assert build_example(text, entities) == "โทร <เบอร์โทร> ต่อ [ใบขับขี่](service) ที่ [กทม.](agency:กรุงเทพมหานคร)"


def test_the_real_training_data_is_readable_and_a_copy_takes_an_annotation(tmp_path: Path) -> None:
    copy = tmp_path / "nlu_data"
    shutil.copytree(NLU_DATA, copy)
    files = data_files(copy)
    homes = intent_files(copy)
    assert homes["greet"].name == "general.yml" and homes["search_law"].name == "laws.yml"
    assert sum(len(b.examples) for f in files for b in f.blocks if b.kind == "intent") > 500
    untouched = {p.name: p.read_bytes() for p in copy.glob("*.yml") if p.name != "laws.yml"}
    add_example(copy, "search_law", "กฎหมาย [จอดรถขวางหน้าบ้าน](law_topic) มีโทษไหม")
    assert {p.name: p.read_bytes() for p in copy.glob("*.yml") if p.name != "laws.yml"} == untouched
    laws = yaml.safe_load((copy / "laws.yml").read_text(encoding="utf-8"))
    examples = laws["nlu"][0]["examples"].splitlines()
    assert "- กฎหมาย [จอดรถขวางหน้าบ้าน](law_topic) มีโทษไหม" in examples
    original = yaml.safe_load((NLU_DATA / "laws.yml").read_text(encoding="utf-8"))["nlu"][0]["examples"].splitlines()
    assert sorted(set(examples) - set(original)) == ["- กฎหมาย [จอดรถขวางหน้าบ้าน](law_topic) มีโทษไหม"]

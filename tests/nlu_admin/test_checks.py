"""The project's own data checks (no Rasa needed)."""

from __future__ import annotations

import json
from pathlib import Path

from bot.nlu_admin.checks import (
    conflicts_and_duplicates, data_findings, held_out_overlap, misclassified, placeholders_left, too_few_examples, undeclared_intents,
    unannotated_entities,
)

DATA = '''version: "3.1"

nlu:
  - intent: greet
    examples: |
      - สวัสดี
      - สวัสดี
      - หวัดดี
      - Hello
  - intent: goodbye
    examples: |
      - hello
      - บาย
      - โทรหา <เบอร์โทร> ด้วย
  - intent: ask_service_info
    examples: |
      - ต่อ [ใบขับขี่](service) ใช้อะไร
  - regex: request_id
    examples: |
      - (?i)req-?[0-9]{6}
'''
DOMAIN = '''version: "3.1"
intents:
  - greet
  - goodbye
entities:
  - service
  - agency
  - request_id
'''
CONFIG = '''pipeline:
  - name: RegexEntityExtractor
    use_lookup_tables: false
    use_regexes: true
'''


def _setup(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    data, domain, held = tmp_path / "nlu_data", tmp_path / "domain", tmp_path / "held_out"
    for folder in (data, domain, held):
        folder.mkdir()
    (data / "all.yml").write_text(DATA, encoding="utf-8")
    (domain / "core.yml").write_text(DOMAIN, encoding="utf-8")
    (held / "held.yml").write_text('version: "3.1"\nnlu:\n  - intent: greet\n    examples: |\n      - หวัดดี\n      - ดีจ้า\n', encoding="utf-8")
    config = tmp_path / "config.yml"
    config.write_text(CONFIG, encoding="utf-8")
    return data, domain, held, config


def test_each_check(tmp_path: Path) -> None:
    data, domain, held, config = _setup(tmp_path)
    conflict, duplicate = conflicts_and_duplicates(data)
    assert conflict.level == "error" and conflict.items == ["'Hello': greet (all.yml), goodbye (all.yml)"]
    assert duplicate.level == "warning" and duplicate.items == ["'สวัสดี': 2× in greet (all.yml)"]
    (few,) = too_few_examples(data, minimum=3)
    assert few.items == ["ask_service_info: 1"]
    (entities,) = unannotated_entities(data, domain, config)
    assert entities.items == ["agency"]  # service is annotated, request_id comes from the regex
    (undeclared,) = undeclared_intents(data, domain)
    assert undeclared.items == ["ask_service_info"]
    (leak,) = held_out_overlap(data, held)
    assert leak.items == ["หวัดดี"]
    (placeholder,) = placeholders_left(data)
    assert placeholder.items == ["โทรหา <เบอร์โทร> ด้วย"]
    assert {f.code for f in data_findings(data, domain, held, config, minimum=3)} == {
        "conflict", "duplicate", "few_examples", "entity_never_annotated", "intent_not_in_domain", "held_out_leak", "masked_placeholder"}


def test_misclassified_examples_come_from_rasa_errors(tmp_path: Path) -> None:
    errors = tmp_path / "intent_errors.json"
    errors.write_text(json.dumps([{"text": "บาย", "intent": "goodbye", "intent_prediction": {"name": "greet", "confidence": 0.61}}],
                                 ensure_ascii=False), encoding="utf-8")
    (finding,) = misclassified(errors)
    assert finding.items == ["'บาย': goodbye → greet (0.61)"]
    assert misclassified(tmp_path / "missing.json") == []


def test_the_real_training_data_can_be_checked() -> None:
    from bot.nlu_admin.training_data import DOMAIN_DIR, HELD_OUT, NLU_DATA
    from common.settings import PROJECT_ROOT

    findings = data_findings(NLU_DATA, DOMAIN_DIR, HELD_OUT, PROJECT_ROOT / "config.yml")
    assert all(f.level in ("error", "warning") and f.items for f in findings)

"""The project's own checks of the NLU training data, besides `rasa data validate`.

- conflicting examples: the same text (annotations, spacing and letter case aside)
  under two intents: an error, the model cannot learn both;
- duplicate examples inside one intent: a warning (untidy, harmless);
- intents with too few examples (README: 40+ for an intent);
- entities declared in the domain that no example annotates (and no regex extracts);
- intents in the data that the domain does not declare;
- held-out examples (tests/nlu/test_data) that are also training examples: the
  evaluation would flatter the model;
- masked placeholders (<เบอร์โทร> ...) left in examples;
- training examples the current model misclassifies (from `rasa test nlu` errors).

Pure functions over files; `bot nlu check` runs Rasa and prints the findings.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.nlu_admin.training_data import data_files, domain_names, example_key, intent_examples, parse_example

MIN_EXAMPLES = 40
PLACEHOLDERS = ("<เลขบัตรประชาชน>", "<เบอร์โทร>", "<อีเมล>", "<ตัวเลข>")


@dataclass
class Finding:
    level: str  # "error" or "warning"
    code: str
    message: str
    items: list[str] = field(default_factory=list)


def conflicts_and_duplicates(data_dir: Path) -> list[Finding]:
    seen: dict[str, list[tuple[str, str, str]]] = defaultdict(list)  # key -> [(intent, example, file)]
    for intent, examples in intent_examples(data_dir).items():
        for example, path in examples:
            seen[example_key(example)].append((intent, example, path.name))
    conflicts, duplicates = [], []
    for entries in seen.values():
        intents = sorted({intent for intent, _, _ in entries})
        if len(intents) > 1:
            conflicts.append(f"{entries[0][1]!r}: " + ", ".join(f"{i} ({f})" for i, _, f in entries))
        elif len(entries) > 1:
            duplicates.append(f"{entries[0][1]!r}: {len(entries)}× in {intents[0]} ({', '.join(sorted({f for _, _, f in entries}))})")
    findings = []
    if conflicts:
        findings.append(Finding("error", "conflict", f"{len(conflicts)} example(s) belong to more than one intent", sorted(conflicts)))
    if duplicates:
        findings.append(Finding("warning", "duplicate", f"{len(duplicates)} example(s) appear more than once in an intent", sorted(duplicates)))
    return findings


def too_few_examples(data_dir: Path, minimum: int = MIN_EXAMPLES) -> list[Finding]:
    few = sorted((len({example_key(e) for e, _ in examples}), intent) for intent, examples in intent_examples(data_dir).items())
    items = [f"{intent}: {count}" for count, intent in few if count < minimum]
    return [Finding("warning", "few_examples", f"{len(items)} intent(s) have fewer than {minimum} different examples", items)] if items else []


def _extracting_names(data_dir: Path, config_path: Path) -> set[str]:
    """Names of regexes and lookup tables that RegexEntityExtractor turns into entities."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
    extractor = next((c for c in (config or {}).get("pipeline") or [] if isinstance(c, dict) and c.get("name") == "RegexEntityExtractor"), None)
    if extractor is None:
        return set()
    kinds = set()
    if extractor.get("use_regexes", True):
        kinds.add("regex")
    if extractor.get("use_lookup_tables", True):
        kinds.add("lookup")
    return {b.name for f in data_files(data_dir) for b in f.blocks if b.kind in kinds}


def unannotated_entities(data_dir: Path, domain_dir: Path, config_path: Path) -> list[Finding]:
    _, declared = domain_names(domain_dir)
    annotated = {a.entity for examples in intent_examples(data_dir).values() for example, _ in examples for a in parse_example(example)[1]}
    missing = sorted(declared - annotated - _extracting_names(data_dir, config_path))
    if not missing:
        return []
    return [Finding("warning", "entity_never_annotated", f"{len(missing)} entit(y/ies) of the domain are never annotated in an example",
                    missing)]


def undeclared_intents(data_dir: Path, domain_dir: Path) -> list[Finding]:
    declared, _ = domain_names(domain_dir)
    missing = sorted(set(intent_examples(data_dir)) - declared)
    if not missing:
        return []
    return [Finding("warning", "intent_not_in_domain", f"{len(missing)} intent(s) are not declared in bot/domain (the bot will not use them)",
                    missing)]


def held_out_overlap(data_dir: Path, held_out_dir: Path) -> list[Finding]:
    if not Path(held_out_dir).is_dir():
        return []
    training = {example_key(e) for examples in intent_examples(data_dir).values() for e, _ in examples}
    leaked = sorted({e for examples in intent_examples(held_out_dir).values() for e, _ in examples if example_key(e) in training})
    if not leaked:
        return []
    return [Finding("warning", "held_out_leak", f"{len(leaked)} held-out example(s) are also training examples (the evaluation flatters)",
                    leaked)]


def placeholders_left(data_dir: Path) -> list[Finding]:
    found = sorted({e for examples in intent_examples(data_dir).values() for e, _ in examples if any(p in e for p in PLACEHOLDERS)})
    if not found:
        return []
    return [Finding("warning", "masked_placeholder", f"{len(found)} example(s) still contain a masking placeholder; "
                    "write a made-up value instead", found)]


def misclassified(errors_json: Path) -> list[Finding]:
    """Training examples the current model gets wrong (`rasa test nlu --nlu nlu_data` → intent_errors.json)."""
    if not Path(errors_json).exists():
        return []
    errors = json.loads(Path(errors_json).read_text(encoding="utf-8")) or []
    items = []
    for item in errors:
        predicted = item.get("intent_prediction") or {}
        items.append(f"{item.get('text', '')!r}: {item.get('intent')} → {predicted.get('name')} ({float(predicted.get('confidence') or 0):.2f})")
    if not items:
        return []
    return [Finding("warning", "misclassified", f"the current model misclassifies {len(items)} training example(s)", sorted(items))]


def data_findings(data_dir: Path, domain_dir: Path, held_out_dir: Path, config_path: Path, minimum: int = MIN_EXAMPLES) -> list[Finding]:
    """Every check that needs no model."""
    return (conflicts_and_duplicates(data_dir) + too_few_examples(data_dir, minimum) + unannotated_entities(data_dir, domain_dir, config_path)
            + undeclared_intents(data_dir, domain_dir) + held_out_overlap(data_dir, held_out_dir) + placeholders_left(data_dir))

"""Scores one trained NLU model on held-out files, the same way for every pipeline.

Runs in the engine runtime (`.venv-rasa`), started by `benchmarks.nlu --compare-stock`:
`python -m benchmarks.nlu_eval_engine MODEL HELD_OUT_DIR` (as a module: a script run by path would import benchmarks/engine.py as `engine`) prints one JSON object.

What is scored is what the assistant acts on: the final intent of each held-out example (a
message the FallbackClassifier turns into `nlu_fallback` counts as wrong) and the entities the
whole pipeline returns (every extractor, merged). An entity counts as found when its type and
its character span match the annotation exactly; micro-F1 over all entities and macro-F1 over
entity types are reported. Rasa's own `rasa test nlu` scores each extractor separately, which
cannot compare a pipeline with a regex extractor against one without.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path


def _f1(tp: int, fp: int, fn: int) -> float:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


async def _score(model: str, held_out: Path) -> dict:
    from rasa.core.agent import Agent
    from rasa.shared.nlu.training_data.loading import load_data

    agent = Agent.load(model)
    examples = []
    for path in sorted(held_out.glob("*.yml")):
        examples.extend(e for e in load_data(str(path)).intent_examples)

    intent_tp: Counter[str] = Counter()
    intent_fp: Counter[str] = Counter()
    intent_fn: Counter[str] = Counter()
    entity_tp: Counter[str] = Counter()
    entity_fp: Counter[str] = Counter()
    entity_fn: Counter[str] = Counter()
    correct = correct_ranked = 0
    misses: list[list[str]] = []
    for example in examples:
        text, gold = example.get("text"), example.get("intent")
        parsed = await agent.parse_message(text)
        predicted = (parsed.get("intent") or {}).get("name")
        ranking = [r.get("name") for r in parsed.get("intent_ranking") or [] if r.get("name") != "nlu_fallback"]
        correct += predicted == gold
        correct_ranked += bool(ranking) and ranking[0] == gold
        if predicted == gold:
            intent_tp[gold] += 1
        else:
            intent_fn[gold] += 1
            intent_fp[str(predicted)] += 1
            misses.append([text, gold, str(predicted)])

        wanted = {(e["entity"], e["start"], e["end"]) for e in example.get("entities") or []}
        found = {(e["entity"], e["start"], e["end"]) for e in parsed.get("entities") or []}
        for kind, _, _ in wanted & found:
            entity_tp[kind] += 1
        for kind, _, _ in found - wanted:
            entity_fp[kind] += 1
        for kind, _, _ in wanted - found:
            entity_fn[kind] += 1

    intents = sorted({e.get("intent") for e in examples})
    entity_types = sorted(set(entity_tp) | set(entity_fn))  # macro-F1 over the types the held-out set annotates
    per_entity = {k: _f1(entity_tp[k], entity_fp[k], entity_fn[k]) for k in entity_types}
    return {
        "examples": len(examples),
        "intent_accuracy": correct / len(examples),
        "intent_accuracy_without_fallback": correct_ranked / len(examples),
        "intent_macro_f1": sum(_f1(intent_tp[i], intent_fp[i], intent_fn[i]) for i in intents) / len(intents),
        "entities": sum(entity_tp.values()) + sum(entity_fn.values()),
        "entity_micro_f1": _f1(sum(entity_tp.values()), sum(entity_fp.values()), sum(entity_fn.values())),
        "entity_macro_f1": sum(per_entity.values()) / len(per_entity) if per_entity else 0.0,
        "per_entity_f1": per_entity,
        "intent_misses": misses,
    }


def main() -> int:
    model, held_out = sys.argv[1], Path(sys.argv[2])
    print(json.dumps(asyncio.run(_score(model, held_out))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

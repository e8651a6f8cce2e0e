"""Every response the officials' actions name exists in the domain, with the slots they fill, and
none of them carries a template placeholder inside a button payload (Rasa leaves those unfilled:
the literal `{request_id}` of issue #19)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MODULES = ["actions/officials.py", "actions/request_handling.py"]


def _domain_responses() -> dict[str, list[dict]]:
    responses: dict[str, list[dict]] = {}
    for path in (ROOT / "bot" / "domain").glob("*.yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        responses.update(data.get("responses") or {})
    return responses


def _calls() -> list[tuple[str, str, set[str]]]:
    found = []
    for module in MODULES:
        tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "utter_message":
                keywords = {k.arg: k.value for k in node.keywords if k.arg}
                if isinstance(keywords.get("response"), ast.Constant):
                    found.append((module, keywords["response"].value, set(keywords)))
    return found


def test_responses_used_by_the_actions_exist_and_their_slots_are_given() -> None:
    responses = _domain_responses()
    calls = _calls()
    assert len(calls) > 20
    for module, name, given in calls:
        assert name in responses, f"{module}: {name} is not in the domain"
        text = " ".join(v.get("text", "") for v in responses[name])
        for slot in set(re.findall(r"{(\w+)}", text)):
            assert slot in given, f"{module}: {name} needs {{{slot}}}"


def test_no_response_used_by_the_actions_has_a_placeholder_in_a_button_payload() -> None:
    responses = _domain_responses()
    for module, name, _ in _calls():
        for variant in responses[name]:
            for button in variant.get("buttons", []):
                assert not re.search(r'"\{\w+\}"', button["payload"]), f"{module}: {name} button payload {button['payload']}"

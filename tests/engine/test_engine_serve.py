"""engine.serve's start-up changes to Rasa (issue #20): the same action-response check, done cheaply; the warm-up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from engine import serve

VALID = {"events": [{"event": "slot", "name": "law_query", "value": "กฎหมายแรงงาน", "timestamp": None},
                    {"event": "followup", "name": "action_human_handoff"}],
         "responses": [{"text": "ค้นพบกฎหมาย 2 ฉบับครับ", "buttons": [{"title": "ดูมาตรา", "payload": "/search_law"}]}]}
INVALID = [{"events": [{"event": "slot"}]},  # a slot event without its name
           {"events": "not a list"},
           {"responses": [{"text": "x"}, "not an object"]}]


def _action() -> RemoteAction:
    return RemoteAction("action_search_laws", EndpointConfig("http://127.0.0.1:9/webhook"))


def _rasa_verdict(result: dict) -> str | None:
    from jsonschema import validate

    try:
        validate(result, RemoteAction.action_response_format_spec())
        return None
    except ValidationError as exc:
        return exc.message


def test_action_responses_are_checked_as_rasa_checks_them() -> None:
    serve.install_fast_action_validation()
    serve.install_fast_action_validation()  # idempotent
    action = _action()
    assert action._validate_action_result(VALID) is True
    for bad in INVALID:
        expected = _rasa_verdict(bad)
        assert expected is not None
        with pytest.raises(ValidationError) as caught:
            action._validate_action_result(bad)
        assert caught.value.message.startswith(expected) and "Action server response" in caught.value.message


def test_warm_up_parses_and_predicts_without_storing_anything(trained_model: Path, tmp_path: Path) -> None:
    from rasa.core.agent import Agent
    from rasa.core.tracker_store import SQLTrackerStore

    store = SQLTrackerStore(dialect="sqlite", db=str(tmp_path / "t.db"))
    agent = Agent.load(str(trained_model), tracker_store=store)
    first = asyncio.run(serve.warm_up(agent))
    assert first > 0
    assert list(asyncio.run(store.keys())) == []  # a throwaway tracker: nothing saved

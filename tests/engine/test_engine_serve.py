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


def test_event_lookup_by_name_gives_rasas_classes_and_errors() -> None:
    import rasa.shared.utils.common as common
    from rasa.shared.core.events import ActionExecuted, ActionReverted, Event, SlotSet, UserUttered

    rasa_resolve = Event.resolve_by_type
    names = {cls.type_name for cls in common.all_subclasses(Event)}
    expected = {name: rasa_resolve(name) for name in names}
    serve.install_fast_event_lookup()
    serve.install_fast_event_lookup()  # idempotent
    assert Event.resolve_by_type is not rasa_resolve
    assert {name: Event.resolve_by_type(name) for name in names} == expected
    assert Event.resolve_by_type("topic") is None  # Rasa's backwards compatibility, kept
    assert Event.resolve_by_type("no_such_event", SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        Event.resolve_by_type("no_such_event")
    events = [UserUttered("สวัสดีครับ", {"name": "greet", "confidence": 0.9}, [], message_id="m1"), ActionExecuted("utter_greet"),
              SlotSet("service", "ทำบัตรประชาชน")]
    assert [Event.from_parameters(e.as_dict()) for e in events] == events

    class LaterEvent(ActionReverted):  # defined after the table was filled: found on the next lookup
        type_name = "engine_test_later_event"

    assert Event.resolve_by_type("engine_test_later_event") is LaterEvent


@pytest.mark.parametrize("result", [
    {"events": [{"event": "user", "text": "สวัสดี", "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}},
                {"event": "action", "name": "action_listen"}, {"event": "bot", "text": "ครับ"},
                {"event": "active_loop", "name": None}, {"event": "reset_slots"}, {"event": "session_started"}]},
    {"events": [{"event": "no_such_event"}]},  # no branch of the oneOf
    {"events": [{"event": "slot", "value": 1}]},  # its branch requires the name
    {"events": [{"event": "slot", "name": "law_query", "value": "x"}, {"event": "action"}]},  # the second one is invalid
    {"events": [{"event": 7}]},
    {"events": [{"name": "law_query"}]},  # no event name at all
    {"events": [{"event": "user", "parse_data": {"entities": [{"entity": "service"}]}}]},  # an entity without its value
    {"events": [], "responses": [{"text": "ได้ครับ"}]},
    {"events": None},
    {},
])
def test_each_event_checked_against_its_own_branch_gives_rasas_verdict(result: dict) -> None:
    serve.install_fast_action_validation()
    expected = _rasa_verdict(result)
    if expected is None:
        assert _action()._validate_action_result(result) is True
    else:
        with pytest.raises(ValidationError) as caught:
            _action()._validate_action_result(result)
        assert caught.value.message.startswith(expected)


def test_run_installs_every_change_before_rasa_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    import rasa.__main__
    import rasa.core.run as rasa_run
    from rasa.shared.core.events import Event

    started: list[list[str]] = []
    monkeypatch.setattr(rasa.__main__, "main", lambda: started.append(list(__import__("sys").argv)))
    monkeypatch.setattr(rasa_run, "load_agent_on_start", rasa_run.load_agent_on_start)
    monkeypatch.setattr(rasa_run, "close_resources", rasa_run.close_resources)
    monkeypatch.setattr(serve.sys, "argv", ["engine.serve", "run", "--port", "5005"])
    monkeypatch.delenv(serve.ACTION_TIMEOUT_ENV, raising=False)
    serve.main()
    assert started == [["rasa", "run", "--port", "5005"]]
    assert getattr(RemoteAction._validate_action_result, "_engine_fast", False)
    assert getattr(Event.resolve_by_type, "_engine_fast", False)
    assert rasa_run.load_agent_on_start.__name__ == "load_and_warm"
    assert rasa_run.close_resources.__name__ == "close_and_disconnect"

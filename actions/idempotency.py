"""Side effects once per user message, whatever dies and however often Rasa asks.

Rasa saves a conversation only at the end of a turn. If Rasa dies after an action filed a
request but before that save, the gateway asks again with the same message id and Rasa,
having no record of the message, runs the action again; if the action server dies after
its commit, the gateway is told to ask again too (engine/channel.py). Either way the
action runs a second time for the same message.

`@once_per_message` on an action's `run` makes that harmless: the action's changes and
what it answered (its events and the dispatcher's messages) commit in one transaction,
recorded under (action name, conversation, the user message's id) with a unique key
(storage/effects.py). When the same message comes again the stored answer is given back
and nothing is done twice; two attempts racing each other cannot both commit. Without a
message id (a reminder, a REST caller) the action simply runs.

Test hook: with `BOT_TEST_HOOKS=1` and `BOT_TEST_PAUSE_AFTER_COMMIT=<action name>`, the
action server sleeps `BOT_TEST_PAUSE_SECONDS` (default 20) right after that action
committed, so a live test can kill a process in exactly that window (tests/live/test_kill_after_commit.py).
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import IntegrityError

from actions import db
from storage.effects import Effect, EffectKey, find_effect, record_effect

logger = logging.getLogger(__name__)

Events = list[dict[str, Any]]
Run = Callable[[Any, CollectingDispatcher, Tracker, dict[str, Any]], Events]

HOOKS_ENV = "BOT_TEST_HOOKS"
PAUSE_ENV = "BOT_TEST_PAUSE_AFTER_COMMIT"
PAUSE_SECONDS_ENV = "BOT_TEST_PAUSE_SECONDS"


def effect_key(action: str, tracker: Tracker) -> EffectKey | None:
    """(action, conversation, message id) of the user message this run answers; None when it has no id."""
    latest = tracker.latest_message or {}
    message_id = latest.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        return None
    key = EffectKey(action, tracker.sender_id or "", message_id)
    return key if key.usable() else None


class _Abandoned(Exception):
    """The action's own work failed part way (an error escaped a `db.session()` block): keep nothing of it."""

    def __init__(self, events: Events) -> None:
        super().__init__("abandoned")
        self.events = events


def once_per_message(run: Run) -> Run:
    """Decorate a side-effecting action's (synchronous) `run`: its effects happen once per user message."""

    @functools.wraps(run)
    def wrapper(self: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        key = effect_key(self.name(), tracker)
        if key is None or db.in_unit_of_work():  # no id; or called by another such action, whose unit records it
            return run(self, dispatcher, tracker, domain)
        before = len(dispatcher.messages)
        try:
            with db.unit_of_work() as unit:
                earlier = find_effect(unit.session, key)
                if earlier is not None:
                    return _replay(dispatcher, key, earlier)
                events = run(self, dispatcher, tracker, domain)
                if unit.failed:
                    raise _Abandoned(events)
                record_effect(unit.session, key, Effect(events=list(events), responses=list(dispatcher.messages[before:])))
        except _Abandoned as abandoned:
            logger.warning("%s: its changes were rolled back (an error inside its unit of work)", key.action)
            return abandoned.events
        except IntegrityError:
            # Another attempt for the same message committed first (its unique key won): ours is rolled back.
            with db.session() as s:
                earlier = find_effect(s, key)
            if earlier is None:
                raise
            del dispatcher.messages[before:]
            return _replay(dispatcher, key, earlier)
        _pause_after_commit(key.action)
        return events

    return wrapper


def _replay(dispatcher: CollectingDispatcher, key: EffectKey, effect: Effect) -> Events:
    logger.info("%s: message seen before, answered as then (nothing done again)", key.action)
    dispatcher.messages.extend(dict(m) for m in effect.responses)
    return [dict(e) for e in effect.events]


def _pause_after_commit(action: str) -> None:
    """Test hook only (see the module docstring); does nothing unless both test variables are set."""
    if os.environ.get(HOOKS_ENV) != "1" or os.environ.get(PAUSE_ENV) != action:
        return
    seconds = float(os.environ.get(PAUSE_SECONDS_ENV) or 20)
    logger.warning("test hook: %s committed; pausing %.0f s", action, seconds)
    time.sleep(seconds)


__all__ = ["effect_key", "once_per_message"]

"""Live stack, property-based (issue #17): whatever a person types to the real assistant, they get an answer.

A small run (LIVE_FUZZ_EXAMPLES, default 6 per channel, derandomized) of the same user-text strategy as
tests/fuzz/test_gateway_properties.py, through the gateway, the real Rasa with the trained model, the
action server and storage. Each example is a new person, so rate limits and earlier turns play no part.
"""

from __future__ import annotations

import itertools
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz.test_gateway_properties import _has_words, user_texts
from tests.live.stack import LiveStack

pytestmark = [pytest.mark.live, pytest.mark.timeout(1800)]
LIVE = settings(max_examples=int(os.environ.get("LIVE_FUZZ_EXAMPLES", "6")), deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
_people = itertools.count(int(time.time()) % 100_000 * 1000)


def _answered(stack: LiveStack, channel: str, chat: str, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.seen(channel, chat):
            return True
        time.sleep(0.2)
    return False


@LIVE
@given(text=user_texts)
def test_line_person_always_gets_an_answer_from_the_real_assistant(live_stack: LiveStack, text: str) -> None:
    person = f"Ufuzz{next(_people):012d}"
    message = {"type": "text", "id": str(next(_people)), "quoteToken": "q", "text": text}
    assert live_stack.line_event({"type": "user", "userId": person}, {"type": "message", "message": message}) is not None
    assert _answered(live_stack, "line", person), text


@LIVE
@given(text=user_texts)
def test_telegram_person_always_gets_an_answer_from_the_real_assistant(live_stack: LiveStack, text: str) -> None:
    chat = 810_000_000 + next(_people)
    update = {"message": {"message_id": 1, "date": 1700000000, "chat": {"id": chat, "type": "private"},
                          "from": {"id": chat, "is_bot": False, "first_name": "ทดสอบ"}, "text": text}}
    assert live_stack.telegram_update(update) is not None or not _has_words(text)
    assert _answered(live_stack, "telegram", str(chat)), text

"""Killed right after an action committed: one request in storage, one reply (issue #17).

A citizen files the README's street-light request on LINE. The action server is started
with the test hook of actions/idempotency.py: right after `action_submit_request` commits
it pauses, and the test kills a process with SIGKILL in exactly that window.

- Rasa killed: Rasa never saved the turn; the gateway asks again once Rasa is back (same
  message id), Rasa handles the message afresh, and the action answers from the effect it
  recorded instead of filing again.
- Action server killed: Rasa's call breaks off; the gateway channel abandons the turn
  unsaved and answers 503 (engine/channel.py); the gateway asks again, the restarted
  action server answers from the recorded effect.

Either way: one request, one routed card for the officials, one reply carrying the REQ
number, and a dialogue that knows the request was filed (the form's slots are reset).
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.live.scenarios import Run, load_file
from tests.live.stack import MODEL, ROOT, LiveStack, StackError, fresh_postgres_database

pytestmark = [pytest.mark.live, pytest.mark.kill, pytest.mark.timeout(1800)]

PAUSE_SECONDS = 25
HOOK_ENV = {"BOT_TEST_HOOKS": "1", "BOT_TEST_PAUSE_AFTER_COMMIT": "action_submit_request", "BOT_TEST_PAUSE_SECONDS": str(PAUSE_SECONDS)}
REQ = re.compile(r"REQ-\d{6}")


@pytest.fixture(scope="module")
def hooked_stack() -> Iterator[LiveStack]:
    """A stack of its own: its action server pauses after filing a request (the test hook)."""
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: `make model` trains it")
    saved = {k: os.environ.get(k) for k in HOOK_ENV}
    os.environ.update(HOOK_ENV)
    database_url, drop = None, None
    if os.environ.get("LIVE_DATABASE", "sqlite").lower() == "postgres":
        database_url, drop = fresh_postgres_database(os.environ["TEST_POSTGRES_URL"])
    stack = LiveStack(database_url=database_url)
    try:
        try:
            stack.start()
        except StackError as exc:
            pytest.fail(f"the live stack did not start: {exc}")
        yield stack
    finally:
        stack.stop()
        if drop is not None:
            drop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _service(stack: LiveStack, name: str) -> Any:
    return next(s for s in stack._services if s.name == name)


def _kill(stack: LiveStack, name: str) -> None:
    service = _service(stack, name)
    os.killpg(service.process.pid, signal.SIGKILL)
    service.process.wait(timeout=30)


def _restart(stack: LiveStack, name: str) -> None:
    assert stack.dir is not None
    _service(stack, name).process = None
    stack._start(_service(stack, name), stack.dir / "var" / "logs")
    stack._wait_healthy(time.monotonic())


def _requests_of(stack: LiveStack, citizen_key: str) -> list[str]:
    from storage.models.services import ServiceRequest

    with stack.engine.connect() as conn:  # type: ignore[union-attr]
        return [f"REQ-{i:06d}" for i in conn.scalars(select(ServiceRequest.id).where(ServiceRequest.citizen_key == citizen_key))]


def _count(stack: LiveStack, model: Any, *where: Any) -> int:
    with stack.engine.connect() as conn:  # type: ignore[union-attr]
        return conn.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _rasa_slots(stack: LiveStack, sender: str) -> dict[str, Any]:
    rasa = _service(stack, "rasa")
    response = httpx.get(f"{stack.rasa_url}/conversations/{sender}/tracker", headers=rasa.health_headers, timeout=30, trust_env=False)
    response.raise_for_status()
    return response.json()["slots"]


def _file_and_kill(stack: LiveStack, victim: str) -> None:
    from storage.models.effects import ActionEffect
    from storage.models.outbox import Outbox

    [scenario] = [s for s in load_file(ROOT / "tests" / "scenarios" / "citizens_requests.yml") if s.id == "request-streetlight-documented"]
    run = Run(stack, scenario)
    citizen, clerk = run.actors["citizen"], run.actors["clerk"]
    for item in scenario.setup:
        run.setup(item)
    confirm_index = next(i for i, step in enumerate(scenario.steps) if step.get("citizen") == "ยืนยัน")
    try:
        for index, step in enumerate(scenario.steps[:confirm_index], 1):
            run.step(index, step)
        before = len(stack.seen("line", citizen.chat_id))
        key = f"line:{citizen.user_id}"

        # "ยืนยัน": the action files the request, commits, and pauses; kill `victim` in that window
        external_id = run.send(citizen, "say", "ยืนยัน", {})
        assert external_id is not None
        deadline = time.monotonic() + 180
        while not _requests_of(stack, key):
            assert time.monotonic() < deadline, "the request was never filed"
            time.sleep(0.05)
        _kill(stack, victim)
        run.transcript.append(f"  (killed {victim} right after the request was committed)")
        assert stack.event_state("line", external_id) != "done", "the message was finished before the kill: nothing was tested"
        _restart(stack, victim)
        run.transcript.append(f"  ({victim} restarted)")
        run.wait_handled("line", external_id, timeout=300)

        # one request, one reply with its number, one card for the officials
        requests = _requests_of(stack, key)
        assert len(requests) == 1, f"requests filed: {requests}"
        [code] = requests
        with_number = [m.text for m in stack.seen("line", citizen.chat_id)[before:] if code in m.text]
        assert len(with_number) == 1, f"replies with {code}: {with_number}"
        assert not [m.text for m in stack.seen("line", citizen.chat_id)[before:] if REQ.search(m.text) and code not in m.text]
        # (every group linked to the agency gets the card: the other test's group too, once)
        assert _count(stack, Outbox, Outbox.kind == "request_routed", Outbox.cause_id == str(int(code[4:])),
                      Outbox.recipient == clerk.chat_id) == 1
        assert _count(stack, ActionEffect, ActionEffect.conversation == key) == 1
        deadline = time.monotonic() + 60  # the scheduler delivers the card to the agency's group
        while not [m for m in stack.seen("telegram", clerk.chat_id) if code in m.text] and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # a duplicate would follow within the scheduler's next rounds
        cards = [m for m in stack.seen("telegram", clerk.chat_id) if code in m.text]
        assert len(cards) == 1, f"cards for {code} in the officials' group: {[m.text for m in cards]}"

        # the dialogue knows: the form is over, and the request is there to follow
        slots = _rasa_slots(stack, key)
        assert slots.get("request_confirm") is None and slots.get("service") is None, slots
        run.vars["req"] = code
        run.step(confirm_index + 1, {"citizen": "ติดตาม {req|nohyphen|lower}", "expect": [{"text": "{req}"}]})
        assert _requests_of(stack, key) == [code]
    finally:
        print("\n".join(run.transcript))


def test_rasa_killed_right_after_the_request_was_committed(hooked_stack: LiveStack) -> None:
    _file_and_kill(hooked_stack, "rasa")


def test_the_action_server_killed_right_after_the_request_was_committed(hooked_stack: LiveStack) -> None:
    _file_and_kill(hooked_stack, "actions")

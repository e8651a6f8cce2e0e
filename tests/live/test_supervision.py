"""`bot run`'s supervisor with the real stack: SIGKILL the action server, then Rasa, while citizens write on LINE.

The stack is started as the live harness starts it (`bot.commands.run.build_services`), then handed to
`bot.commands.run.Supervisor`, stepped in a thread as `bot run` steps it. While citizens keep asking a
service question, the action server's and then Rasa's process groups are killed with SIGKILL. Each
question must be answered exactly once after the part is back (the gateway stored it and retried), and
the supervisor's status file shows both restarts. Recovery times are printed, never asserted.

While the action server is down, Rasa's call to it breaks off: the engine channel abandons the turn
unsaved and answers 503 (docs/idempotency.md), so the gateway asks again once the action server is
back. Questions asked while either part was down are answered exactly once (asserted).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
import time
import uuid

import pytest

from bot.commands.run import STATUS_FILE, Supervisor
from tests.live.stack import LiveStack, StackError

pytestmark = [pytest.mark.live, pytest.mark.kill]

QUESTION = "ทำพาสปอร์ตต้องใช้อะไรบ้าง"
ANSWER_MARK = "กรมการกงสุล"  # in the passport answer (tests/scenarios/citizens_services.yml)


def test_killed_action_server_and_rasa_come_back_and_every_message_is_answered_once() -> None:
    stack = LiveStack(startup_timeout=600)
    try:
        stack.start()
    except StackError as exc:
        stack.stop()
        pytest.fail(f"the live stack did not start: {exc}")
    assert stack.dir is not None
    var = stack.dir / "var"
    status_path = var / STATUS_FILE
    supervisor = Supervisor(stack._services, var / "logs", status_path, start=lambda s: stack._start(s, var / "logs"),
                            echo=lambda m: print(m, flush=True), startup_timeout=600)
    stop = threading.Event()
    failure: list[BaseException] = []

    def supervise() -> None:
        try:
            supervisor.start_all()  # adopts the running parts
            supervisor.run(stop.is_set, interval=0.25)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failure.append(exc)

    sent: list[str] = []  # LINE user ids, one question each
    mids = itertools.count(1)

    def ask() -> None:
        user = "U" + uuid.uuid4().hex
        mid = str(next(mids))
        stack.line_event({"type": "user", "userId": user},
                         {"type": "message", "message": {"type": "text", "id": mid, "quoteToken": "q" + mid, "text": QUESTION}})
        sent.append(user)

    def keep_asking(until: threading.Event) -> None:
        while not until.is_set():
            ask()
            until.wait(2.0)

    def wait(condition, what: str, limit: float = 900.0) -> None:
        end = time.monotonic() + limit  # a safety limit, not a timing assertion
        while not condition():
            assert not failure, f"the supervisor stopped: {failure[0]}"
            assert time.monotonic() < end, f"{what}: never happened\n{json.dumps(supervisor.status(), indent=1)}"
            time.sleep(0.25)

    def part(name: str) -> dict:
        return json.loads(status_path.read_text())["parts"][name]

    def answers(user: str) -> int:
        return sum(1 for seen in stack.seen("line", user) if ANSWER_MARK in seen.text)

    thread = threading.Thread(target=supervise, daemon=True)
    thread.start()
    try:
        wait(lambda: status_path.exists() and supervisor.all_healthy(), "the supervisor adopted the stack")
        ask()
        wait(lambda: answers(sent[0]) == 1, "the first question answered")
        asked: dict[str, list[str]] = {}  # part killed -> users who asked while it was down (or about to be)
        for victim in ("rasa", "actions"):
            service = next(s for s in stack._services if s.name == victim)
            first = len(sent)
            writing = threading.Event()
            sender = threading.Thread(target=keep_asking, args=(writing,), daemon=True)
            sender.start()
            time.sleep(1.5)
            os.killpg(service.process.pid, signal.SIGKILL)
            killed = time.monotonic()
            wait(lambda v=victim: part(v)["restarts"] == 1 and part(v)["healthy"], f"{victim} restarted and healthy")
            back = time.monotonic() - killed
            time.sleep(1.5)
            writing.set()
            sender.join()
            asked[victim] = sent[first:]
            print(f"\n{victim}: healthy again {back:.1f} s after SIGKILL; {len(asked[victim])} questions asked around it", flush=True)
            assert part(victim)["last_exit"] == "signal SIGKILL"
            began = time.monotonic()
            if victim == "rasa":
                wait(lambda: all(answers(u) >= 1 for u in asked["rasa"]), "every question asked while Rasa was down answered")
            else:  # a question met the dead action server: answered when it is back (a lost one fails below)
                try:
                    wait(lambda: all(answers(u) >= 1 for u in asked["actions"]), "every question asked around it answered", 300.0)
                except AssertionError:
                    pass
            print(f"all of them answered {time.monotonic() - began:.1f} s after {victim} was back", flush=True)
        time.sleep(5)  # a duplicate or a late answer would arrive now
        counts = {u: answers(u) for u in sent}
        assert all(n <= 1 for n in counts.values()), f"answered more than once: {counts}"
        assert all(counts[u] == 1 for u in asked["rasa"]), "a question asked while Rasa was down was not answered"
        final = json.loads(status_path.read_text())["parts"]
        assert final["actions"]["restarts"] == 1 and final["rasa"]["restarts"] == 1
        assert final["gateway"]["restarts"] == 0 and final["gateway"]["healthy"]
        lost = [u for u in asked["actions"] if counts[u] == 0]
        seen = {u[:9]: [s.text[:80] for s in stack.seen("line", u)] for u in lost}
        assert not lost, (f"{len(lost)} of {len(asked['actions'])} questions asked while the action server was down got "
                          f"no answer; what they saw: {seen}")
    finally:
        stop.set()
        thread.join(timeout=10)
        stack.stop()

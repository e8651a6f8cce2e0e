"""The session-scoped live stack and the scenario run that the `live` tests share.

The stack starts once per pytest session, the first time a `live` test asks for it
(the trained model must exist: `make test` trains it first), and stops at the end of
the session. `LIVE_DATABASE=postgres` runs it on a fresh PostgreSQL database on the
`TEST_POSTGRES_URL` server (dropped afterwards) instead of a temporary SQLite file; `TEST_REDIS_URL` (CI starts Redis) gives Rasa a Redis lock store,
as a multi-machine deployment has. `SCENARIO_CONCURRENCY` (default 6) scenarios run at
once. `LIVE_KEEP_DIR=1` keeps the stack's directory (its database and logs) for a look afterwards.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.live.scenarios import Result, load_all, run_scenarios, summary
from tests.live.stack import MODEL, LiveStack, StackError, fresh_postgres_database

_TIMINGS: dict[str, float] = {}
_SUMMARY: list[str] = []


@pytest.fixture(scope="session")
def live_stack() -> Iterator[LiveStack]:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: `make model` trains it (`make test` does this first)")
    database_url, drop = None, None
    if os.environ.get("LIVE_DATABASE", "sqlite").lower() == "postgres":
        base = os.environ.get("TEST_POSTGRES_URL", "").strip()
        if not base:
            pytest.fail("LIVE_DATABASE=postgres needs TEST_POSTGRES_URL")
        database_url, drop = fresh_postgres_database(base)
    stack = LiveStack(database_url=database_url, redis_url=os.environ.get("TEST_REDIS_URL") or None,
                      keep_dir=os.environ.get("LIVE_KEEP_DIR") == "1")
    try:
        try:
            stack.start()
        except StackError as exc:
            stack.stop()
            pytest.fail(f"the live stack did not start: {exc}")
        _TIMINGS["stack start-up"] = stack.started_in or 0.0
        yield stack
    finally:
        stack.stop()
        if drop is not None:
            drop()


@pytest.fixture(scope="session")
def scenario_results(request: pytest.FixtureRequest, live_stack: LiveStack) -> dict[str, Result]:
    """The selected scenarios (all, or those `-k` picked), run once per session, several at a time."""
    selected = {item.callspec.params["scenario_id"] for item in request.session.items
                if hasattr(item, "callspec") and "scenario_id" in item.callspec.params}
    scenarios = [s for s in load_all() if not selected or s.id in selected]
    began = time.monotonic()
    results = run_scenarios(live_stack, scenarios, concurrency=int(os.environ.get("SCENARIO_CONCURRENCY", "6")))
    _TIMINGS["scenario suite"] = time.monotonic() - began
    _SUMMARY[:] = summary(results)
    return {r.scenario.id: r for r in results}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _TIMINGS:
        return
    terminalreporter.section("live conversations")
    for line in _SUMMARY:
        terminalreporter.write_line(line)
    terminalreporter.write_line(", ".join(f"{name}: {seconds:.1f} s" for name, seconds in _TIMINGS.items()))

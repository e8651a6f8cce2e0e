"""The one source of "now" for the whole application.

Product code asks `now()` instead of `datetime.now()`, so that tests (and the processes
tests start) can run on an injected clock. `BOT_CLOCK_OFFSET` (seconds, may be negative)
moves this process's clock by that much; `start_at(instant)` sets it so that the clock
reads `instant` now and advances in real time from there, and exports it so that every
child process shares the same clock (an offset, not a start instant, so processes started
later still agree). A deployment never sets it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

UTC = timezone.utc  # datetime.UTC is 3.11+; the engine runtime is 3.10
ENV_VAR = "BOT_CLOCK_OFFSET"

_offset = timedelta(0)
_override: Callable[[], datetime] | None = None


def _from_env() -> None:
    global _offset
    raw = os.environ.get(ENV_VAR, "").strip()
    _offset = timedelta(seconds=float(raw)) if raw else timedelta(0)


def now() -> datetime:
    """The current instant, time-zone aware, in UTC."""
    if _override is not None:
        return _override().astimezone(UTC)
    return datetime.now(UTC) + _offset


def is_injected() -> bool:
    return _override is not None or bool(_offset)


def start_at(instant: datetime | None) -> None:
    """Make this process's clock read `instant` now (None: the real clock again).

    Exported through the environment, so child processes share the same clock.
    """
    global _override
    _override = None
    if instant is None:
        os.environ.pop(ENV_VAR, None)
    else:
        if instant.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        os.environ[ENV_VAR] = repr((instant - datetime.now(UTC)).total_seconds())
    _from_env()


def set_now(provider: Callable[[], datetime] | None) -> None:
    """Replace the clock inside this process only (e.g. a frozen instant)."""
    global _override
    _override = provider


_from_env()

"""The injected clock every test runs on (no test reads the wall clock).

The test process and every process it starts run on `common.clock`, started at START:
10:00 in Bangkok on 24 November 2026, moved TEST_CLOCK_SHIFT_DAYS days ahead when that is
set (CI runs the date-sensitive tests once more 400 days ahead). Time then advances in
real time, so timeouts, leases and retries behave as they do in production.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta, tzinfo

SHIFT_DAYS = int(os.environ.get("TEST_CLOCK_SHIFT_DAYS", "0") or 0)
DAY: date = date(2026, 11, 24) + timedelta(days=SHIFT_DAYS)
START: datetime = datetime.combine(DAY, time(3, 0), UTC)


def on_day(days: int, hour: int, minute: int = 0, tz: tzinfo = UTC) -> datetime:
    """A wall-clock time `days` after the test day, in `tz`, as an aware datetime."""
    return datetime.combine(DAY + timedelta(days=days), time(hour, minute), tz)

"""Outbox delivery: exactly once, retries, quiet hours, stale rows, crash recovery, lease."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.scheduler.delivery import DeliveryError, OutgoingMessage, deliver_due, recover_in_flight
from bot.scheduler.lease import release, try_acquire
from bot.scheduler.quiet_hours import QuietHours
from storage.db import session_scope
from storage.models.outbox import CANCELLED, FAILED, PENDING, SENDING, SENT, Outbox
from storage.outbox import enqueue

NOON_BKK = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # 12:00 in Bangkok


class RecordingSender:
    def __init__(self, fail: dict[str, DeliveryError] | None = None) -> None:
        self.sent: list[OutgoingMessage] = []
        self.fail = fail or {}

    async def __call__(self, message: OutgoingMessage) -> None:
        error = self.fail.get(message.recipient)
        if error is not None:
            raise error
        self.sent.append(message)


def _queue(engine, n: int, *, channel: str = "telegram", due: datetime = NOON_BKK, **kwargs) -> None:
    with session_scope(engine) as s:
        for i in range(n):
            enqueue(s, kind="reminder", channel=channel, recipient=kwargs.get("recipient", f"chat{i}"),
                    text=f"เตือน {i}", idempotency_key=f"{channel}:{kwargs.get('key', 'k')}:{i}", due_at=due,
                    stale_at=kwargs.get("stale_at"), urgent=kwargs.get("urgent", False))


def _states(engine) -> list[str]:
    with session_scope(engine) as s:
        return list(s.scalars(select(Outbox.state).order_by(Outbox.id)))


async def test_each_due_row_is_sent_once(db_engine) -> None:
    _queue(db_engine, 30)
    _queue(db_engine, 2, due=NOON_BKK + timedelta(hours=1), key="later")
    sender = RecordingSender()
    stats = await deliver_due(db_engine, sender, owner="a", now=NOON_BKK, batch=7)
    assert stats.sent == 30
    again = await deliver_due(db_engine, sender, owner="a", now=NOON_BKK)
    assert again.sent == 0
    assert len(sender.sent) == 30
    assert len({m.retry_key for m in sender.sent}) == 30
    assert _states(db_engine).count(SENT) == 30
    assert _states(db_engine).count(PENDING) == 2


async def test_transient_errors_back_off_then_fail_for_good(db_engine) -> None:
    _queue(db_engine, 1, recipient="flaky")
    sender = RecordingSender(fail={"flaky": DeliveryError("429 too many requests", retry_after=120)})
    stats = await deliver_due(db_engine, sender, owner="a", now=NOON_BKK)
    assert stats.retried == 1
    with session_scope(db_engine) as s:
        row = s.scalars(select(Outbox)).one()
        assert row.state == PENDING and row.due_at >= NOON_BKK + timedelta(seconds=120) - timedelta(seconds=1)
    now = NOON_BKK
    for _ in range(10):
        now += timedelta(hours=2)
        await deliver_due(db_engine, sender, owner="a", now=now)
    with session_scope(db_engine) as s:
        row = s.scalars(select(Outbox)).one()
        assert row.state == FAILED and "429" in row.last_error


async def test_permanent_error_fails_at_once(db_engine) -> None:
    _queue(db_engine, 1, recipient="blocked")
    sender = RecordingSender(fail={"blocked": DeliveryError("403 bot was blocked", permanent=True)})
    stats = await deliver_due(db_engine, sender, owner="a", now=NOON_BKK)
    assert stats.failed == 1 and _states(db_engine) == [FAILED]


async def test_quiet_hours_postpone_citizens_but_not_urgent_or_officials(db_engine) -> None:
    night = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # 23:00 in Bangkok
    _queue(db_engine, 1, channel="line", due=night, recipient="citizen")
    _queue(db_engine, 1, channel="line", due=night, recipient="urgent", urgent=True, key="u")
    _queue(db_engine, 1, channel="telegram", due=night, recipient="group")
    quiet = QuietHours.parse("21:00-08:00")
    sender = RecordingSender()
    stats = await deliver_due(db_engine, sender, owner="a", now=night, quiet=quiet)
    assert sorted(m.recipient for m in sender.sent) == ["group", "urgent"]
    assert stats.postponed == 1
    with session_scope(db_engine) as s:
        row = s.scalars(select(Outbox).where(Outbox.recipient == "citizen")).one()
        assert row.state == PENDING
        assert row.due_at.astimezone(quiet.tz).hour == 8


async def test_stale_rows_are_dropped(db_engine) -> None:
    _queue(db_engine, 1, due=NOON_BKK - timedelta(days=2), stale_at=NOON_BKK - timedelta(days=1))
    sender = RecordingSender()
    stats = await deliver_due(db_engine, sender, owner="a", now=NOON_BKK)
    assert stats.stale == 1 and not sender.sent and _states(db_engine) == [CANCELLED]


def test_crash_recovery_resends_only_where_the_platform_deduplicates(db_engine) -> None:
    _queue(db_engine, 1, channel="line", recipient="U1")
    _queue(db_engine, 1, channel="telegram", recipient="-100")
    with session_scope(db_engine) as s:
        for row in s.scalars(select(Outbox)):
            row.state, row.claimed_by = SENDING, "dead"
    assert recover_in_flight(db_engine) == 2
    with session_scope(db_engine) as s:
        states = {r.channel: (r.state, r.last_error) for r in s.scalars(select(Outbox))}
    assert states["line"][0] == PENDING
    assert states["telegram"][0] == FAILED and "unknown" in states["telegram"][1]


def test_only_one_scheduler_holds_the_lease(db_engine) -> None:
    ttl = timedelta(seconds=30)
    assert try_acquire(db_engine, "one", ttl, now=NOON_BKK)
    assert not try_acquire(db_engine, "two", ttl, now=NOON_BKK + timedelta(seconds=10))
    assert try_acquire(db_engine, "one", ttl, now=NOON_BKK + timedelta(seconds=10))  # renewal
    assert try_acquire(db_engine, "two", ttl, now=NOON_BKK + timedelta(seconds=41))  # "one" died
    assert not try_acquire(db_engine, "one", ttl, now=NOON_BKK + timedelta(seconds=42))
    release(db_engine, "two")
    assert try_acquire(db_engine, "one", ttl)


@pytest.mark.parametrize(
    ("spec", "local_hour", "inside"),
    [("21:00-08:00", 23, True), ("21:00-08:00", 7, True), ("21:00-08:00", 8, False), ("22-06", 12, False), ("off", 23, None)],
)
def test_quiet_hours_parse(spec: str, local_hour: int, inside: bool | None) -> None:
    quiet = QuietHours.parse(spec)
    if inside is None:
        assert quiet is None
        return
    moment = datetime(2026, 11, 24, local_hour, 30, tzinfo=quiet.tz)
    assert quiet.contains(moment) is inside


def test_a_stalled_platform_holds_only_part_of_the_schedulers_sending_slots(db_engine) -> None:
    """LINE hangs: with 4 slots, LINE rows take at most 3, and a Telegram row due after them still goes out."""
    import asyncio

    from bot.scheduler.delivery import Deliverer
    from common import clock

    now = clock.now()
    _queue(db_engine, 8, channel="line", due=now - timedelta(minutes=5))
    _queue(db_engine, 1, channel="telegram", due=now - timedelta(minutes=1), recipient="-100")
    sent: list[str] = []
    in_flight_line: list[int] = [0]
    peak: list[int] = [0]

    async def send(message: OutgoingMessage) -> None:
        if message.channel == "line":
            in_flight_line[0] += 1
            peak[0] = max(peak[0], in_flight_line[0])
            try:
                await asyncio.sleep(30)  # LINE stalls (cut off by the send timeout)
            finally:
                in_flight_line[0] -= 1
        sent.append(message.channel)

    async def main() -> None:
        stop = asyncio.Event()
        deliverer = Deliverer(db_engine, send, owner="a", concurrency=4, poll=0.05, send_timeout=20)
        task = asyncio.create_task(deliverer.run(stop))
        for _ in range(100):  # up to 5 s
            if "telegram" in sent:
                break
            await asyncio.sleep(0.05)
        stop.set()
        for t in deliverer._in_flight:
            t.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    assert sent == ["telegram"]  # sent while LINE was stalled
    assert peak[0] == 3

"""Per-row claims: several schedulers never take the same row; expired claims are taken over safely."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.scheduler.delivery import (
    DeliveryError,
    Deliverer,
    OutgoingMessage,
    _finish,
    claim_due,
    DeliveryStats,
    extend_claims,
    reclaim_expired,
)
from bot.scheduler.quiet_hours import QuietHours
from storage.db import session_scope
from storage.models.outbox import FAILED, PENDING, SENDING, SENT, Outbox
from storage.outbox import enqueue

NOON_BKK = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
TTL = timedelta(seconds=10)


def _queue(engine, n: int, *, channel: str = "line", due: datetime = NOON_BKK, prefix: str = "k", **kwargs) -> None:
    with session_scope(engine) as s:
        for i in range(n):
            enqueue(s, kind="reminder", channel=channel, recipient=f"{prefix}{i}", text=f"เตือน {i}",
                    idempotency_key=f"{channel}:{prefix}:{i}", due_at=due, **kwargs)


def _rows(engine) -> dict[str, Outbox]:
    with session_scope(engine) as s:
        return {r.recipient: r for r in s.scalars(select(Outbox))}


def test_two_schedulers_never_claim_the_same_row(db_engine) -> None:
    _queue(db_engine, 25)
    a = claim_due(db_engine, "a", NOON_BKK, 10, ttl=TTL)
    b = claim_due(db_engine, "b", NOON_BKK, 10, ttl=TTL)
    c = claim_due(db_engine, "c", NOON_BKK, 10, ttl=TTL)
    ids = [m.id for m in a + b + c]
    assert (len(a), len(b), len(c)) == (10, 10, 5)
    assert len(set(ids)) == 25
    assert [m.id for m in a] == sorted(m.id for m in a), "oldest due first"
    rows = _rows(db_engine).values()
    assert {r.state for r in rows} == {SENDING}
    assert all(r.claim_expires_at == NOON_BKK + TTL and r.attempts == 1 for r in rows)


def test_concurrent_claims_from_threads_are_disjoint(db_engine) -> None:
    _queue(db_engine, 120)

    async def claim_all(owner: str) -> list[int]:
        got: list[int] = []
        while batch := await asyncio.to_thread(claim_due, db_engine, owner, NOON_BKK, 7, ttl=TTL):
            got += [m.id for m in batch]
        return got

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(claim_all(o) for o in "abcd"))

    claimed = asyncio.run(main())
    flat = [i for part in claimed for i in part]
    assert len(flat) == 120 and len(set(flat)) == 120


def test_rows_not_due_stale_or_in_quiet_hours_are_not_claimed(db_engine) -> None:
    night = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # 23:00 in Bangkok
    _queue(db_engine, 1, due=night + timedelta(minutes=1), prefix="later")
    _queue(db_engine, 1, due=night, prefix="stale", stale_at=night - timedelta(minutes=1))
    _queue(db_engine, 1, due=night, prefix="citizen")
    _queue(db_engine, 1, due=night, prefix="urgent", urgent=True)
    _queue(db_engine, 1, channel="telegram", due=night, prefix="group")
    claimed = claim_due(db_engine, "a", night, 10, quiet=QuietHours.parse("21:00-08:00"), ttl=TTL)
    assert sorted(m.recipient for m in claimed) == ["group0", "urgent0"]


def test_expired_claims_are_settled_per_channel(db_engine) -> None:
    _queue(db_engine, 1, channel="line", prefix="U")
    _queue(db_engine, 1, channel="telegram", prefix="-")
    _queue(db_engine, 1, channel="line", prefix="alive")
    dead = claim_due(db_engine, "dead", NOON_BKK, 2, ttl=TTL)
    assert {m.recipient for m in dead} == {"U0", "-0"}
    later = NOON_BKK + timedelta(seconds=5)
    alive = claim_due(db_engine, "alive", later, 5, ttl=TTL)
    assert [m.recipient for m in alive] == ["alive0"]
    assert reclaim_expired(db_engine, NOON_BKK + timedelta(seconds=9)) == 0, "a live claim is left alone"
    after = NOON_BKK + timedelta(seconds=11)
    assert reclaim_expired(db_engine, after) == 2
    rows = _rows(db_engine)
    assert rows["U0"].state == PENDING and rows["U0"].claimed_by is None  # resent with the same retry key
    assert rows["-0"].state == FAILED and rows["-0"].last_error.startswith("outcome unknown")  # never twice
    assert rows["alive0"].state == SENDING and rows["alive0"].claimed_by == "alive"
    again = claim_due(db_engine, "b", after, 5, ttl=TTL)
    assert [m.recipient for m in again] == ["U0"] and again[0].retry_key == dead[[m.recipient for m in dead].index("U0")].retry_key


def test_the_holder_extends_its_claims(db_engine) -> None:
    _queue(db_engine, 2)
    claim_due(db_engine, "a", NOON_BKK, 1, ttl=TTL)
    claim_due(db_engine, "b", NOON_BKK, 1, ttl=TTL)
    assert extend_claims(db_engine, "a", NOON_BKK + timedelta(seconds=8), TTL) == 1
    assert reclaim_expired(db_engine, NOON_BKK + timedelta(seconds=12)) == 1  # only b's lapsed
    rows = _rows(db_engine)
    assert {r.claimed_by: r.state for r in rows.values()} == {"a": SENDING, None: PENDING}


def test_an_outcome_is_recorded_only_by_the_claims_holder(db_engine) -> None:
    _queue(db_engine, 1, channel="line", prefix="U")
    _queue(db_engine, 1, channel="telegram", prefix="-")
    _queue(db_engine, 1, channel="telegram", prefix="-slow")
    claimed = {m.recipient: m for m in claim_due(db_engine, "slow", NOON_BKK, 3, ttl=TTL)}
    reclaim_expired(db_engine, NOON_BKK + timedelta(seconds=11))  # "slow" stalled past its lease
    taken = claim_due(db_engine, "other", NOON_BKK + timedelta(seconds=11), 3, ttl=TTL)
    assert [m.recipient for m in taken] == ["U0"]
    stats = DeliveryStats()
    # the stalled scheduler's sends complete after all
    _finish(db_engine, [(claimed["U0"], None), (claimed["-0"], None),
                        (claimed["-slow0"], DeliveryError("HTTP 502"))], "slow", NOON_BKK, stats)
    rows = _rows(db_engine)
    assert rows["U0"].state == SENDING and rows["U0"].claimed_by == "other", "not overwritten"
    assert rows["-0"].state == SENT, "a known outcome replaces 'outcome unknown'"
    assert rows["-slow0"].state == PENDING and rows["-slow0"].last_error == "HTTP 502", "known not sent: retried"
    assert stats.sent == 1 and stats.retried == 1


def test_a_send_cut_off_by_its_timeout_is_not_resent_on_telegram(db_engine) -> None:
    _queue(db_engine, 1, channel="telegram", prefix="-", due=datetime(2026, 1, 1, tzinfo=UTC))
    _queue(db_engine, 1, channel="line", prefix="U", due=datetime(2026, 1, 1, tzinfo=UTC))
    calls: list[str] = []

    async def hang(message: OutgoingMessage) -> None:
        calls.append(message.recipient)
        await asyncio.sleep(30)

    async def main() -> None:
        stop = asyncio.Event()
        deliverer = Deliverer(db_engine, hang, owner="a", claim_ttl=timedelta(seconds=3), send_timeout=0.2, poll=0.05)
        task = asyncio.create_task(deliverer.run(stop))
        while len(calls) < 2 or any(r.state == SENDING for r in _rows(db_engine).values()):
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(main())
    rows = _rows(db_engine)
    assert rows["-0"].state == FAILED and rows["-0"].last_error.startswith("outcome unknown")
    assert rows["U0"].state == PENDING and rows["U0"].attempts == 1  # retried later with its retry key


def test_a_row_whose_rate_limit_slot_is_far_away_is_put_back_not_held(db_engine) -> None:
    from bot.scheduler.rate_limits import RateLimiter

    past = datetime(2026, 1, 1, tzinfo=UTC)
    with session_scope(db_engine) as s:
        for i in range(3):  # three messages to one Telegram group: one every 3 s
            enqueue(s, kind="request_routed", channel="telegram", recipient="-100", text=f"คำขอ {i}",
                    idempotency_key=f"group:{i}", due_at=past)
    sent: list[str] = []

    async def send(message: OutgoingMessage) -> None:
        sent.append(message.payload["text"])

    async def main() -> None:
        stop = asyncio.Event()
        deliverer = Deliverer(db_engine, send, owner="a", poll=0.05, limiter=RateLimiter())
        task = asyncio.create_task(deliverer.run(stop))
        while not sent or any(r.state == SENDING for r in _rows_by_key(db_engine).values()):
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(main())
    rows = _rows_by_key(db_engine)
    assert len(sent) == 1, "the group gets one message now"
    waiting = [r for r in rows.values() if r.state == PENDING]
    assert len(waiting) == 2
    assert all(r.attempts == 0 and r.due_at > past + timedelta(days=1) for r in waiting), "put back, not a failed attempt"


def test_a_busy_groups_queue_goes_out_in_order_each_message_put_back_once(db_engine, monkeypatch) -> None:
    """Five cards to one group at once: each keeps the slot it was given when put back (no herd
    retried at the next free slot, where one wins and the rest are put back again)."""
    from bot.scheduler import delivery, rate_limits
    from bot.scheduler.rate_limits import RateLimiter

    monkeypatch.setattr(rate_limits, "TELEGRAM_GROUP_SPACING", 0.3)
    monkeypatch.setattr(delivery, "MAX_RATE_WAIT", 0.05)
    past = datetime(2026, 1, 1, tzinfo=UTC)
    with session_scope(db_engine) as s:
        for i in range(5):
            enqueue(s, kind="request_routed", channel="telegram", recipient="-100", text=f"คำขอ {i}",
                    idempotency_key=f"group:{i}", due_at=past)
    sent: list[str] = []

    async def send(message: OutgoingMessage) -> None:
        sent.append(message.payload["text"])

    async def main() -> delivery.DeliveryStats:
        stop = asyncio.Event()
        deliverer = Deliverer(db_engine, send, owner="a", poll=0.02, limiter=RateLimiter())
        task = asyncio.create_task(deliverer.run(stop))
        for _ in range(500):
            if len(sent) == 5:
                break
            await asyncio.sleep(0.02)
        stop.set()
        return await task

    stats = asyncio.run(main())
    assert sent == [f"คำขอ {i}" for i in range(5)], "first queued, first sent"
    assert stats.postponed == 4, f"each waiting card put back once, not again at every free slot ({stats.postponed})"
    assert all(r.state == SENT and r.attempts == 1 for r in _rows_by_key(db_engine).values())


def _rows_by_key(engine) -> dict[str, Outbox]:
    with session_scope(engine) as s:
        return {r.idempotency_key: r for r in s.scalars(select(Outbox))}


def test_claims_of_a_dead_scheduler_on_this_machine_are_taken_over_at_once(db_engine) -> None:
    import subprocess
    import sys

    from bot.scheduler.delivery import reclaim_from_dead_local
    from bot.scheduler.lease import instance_name

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    host, namespace, _, _ = instance_name().rsplit(":", 3)
    dead = f"{host}:{namespace}:{gone.stdout.strip()}:dead00"
    _queue(db_engine, 1, channel="line", prefix="U")
    _queue(db_engine, 1, channel="telegram", prefix="-")
    _queue(db_engine, 1, channel="line", prefix="remote")
    claim_due(db_engine, dead, NOON_BKK, 2, ttl=TTL)
    claim_due(db_engine, "another-machine:1:2:abc", NOON_BKK, 1, ttl=TTL)
    assert reclaim_from_dead_local(db_engine, "me") == 2, "before the lease expires"
    rows = _rows(db_engine)
    assert rows["U0"].state == PENDING and rows["-0"].state == FAILED
    assert rows["remote0"].state == SENDING, "a scheduler elsewhere keeps its claims until their lease expires"

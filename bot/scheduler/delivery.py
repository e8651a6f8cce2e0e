"""Deliver due outbox rows exactly once.

Each row moves pending -> sending -> sent (or back to pending with a backoff, or
failed with the reason, or cancelled). The move to `sending` is committed before
the platform call, so a crash leaves a trace:

- rows whose channel has an idempotency key honoured by the platform (LINE's
  `X-Line-Retry-Key`, the web chat's own table) are simply sent again with the
  same key after a restart: the platform drops the duplicate;
- rows for channels without one (Telegram) are marked failed with "outcome unknown"
  instead of being resent; `bot followups retry ID` sends them on purpose.

Quiet hours postpone non-urgent messages to citizens; rows past `stale_at` are
dropped with a log line.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update

from bot.scheduler.quiet_hours import QuietHours
from connectors.channel import DeliveryError  # the channels' contract; re-exported for the scheduler's senders
from storage.db import session_scope
from storage.models.base import utcnow
from storage.models.outbox import CANCELLED, FAILED, PENDING, SENDING, SENT, Outbox

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
IDEMPOTENT_CHANNELS = frozenset({"line", "web"})
CITIZEN_CHANNELS = frozenset({"line", "web"})


@dataclass(frozen=True)
class OutgoingMessage:
    id: int
    kind: str
    channel: str
    recipient: str
    payload: dict[str, Any]
    retry_key: str  # a UUID derived from the row's idempotency key


Sender = Callable[[OutgoingMessage], Awaitable[None]]


@dataclass
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    postponed: int = 0
    stale: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def touched(self) -> int:
        return self.sent + self.retried + self.failed + self.postponed + self.stale


def retry_key(idempotency_key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"thai-gov-assistant:{idempotency_key}"))


def backoff_seconds(attempts: int) -> float:
    return min(3600.0, 5.0 * (3 ** max(0, attempts - 1)))


def recover_in_flight(engine: Engine, now: datetime | None = None) -> int:
    """Handle rows a crashed scheduler left in `sending`; returns how many."""
    now = now or utcnow()
    with session_scope(engine) as s:
        resend = s.execute(
            update(Outbox)
            .where(Outbox.state == SENDING, Outbox.channel.in_(IDEMPOTENT_CHANNELS))
            .values(state=PENDING, claimed_by=None)
        ).rowcount or 0
        unknown = s.execute(
            update(Outbox)
            .where(Outbox.state == SENDING, Outbox.channel.not_in(IDEMPOTENT_CHANNELS))
            .values(state=FAILED, claimed_by=None, last_error="outcome unknown after a restart; not resent to avoid a duplicate")
        ).rowcount or 0
    if resend or unknown:
        logger.warning("recovered %d in-flight follow-ups (%d resent with their retry key, %d marked unknown)", resend + unknown, resend, unknown)
    return resend + unknown


def _drop_stale(engine: Engine, now: datetime) -> int:
    with session_scope(engine) as s:
        ids = list(s.scalars(select(Outbox.id).where(Outbox.state == PENDING, Outbox.stale_at.is_not(None), Outbox.stale_at < now)))
        if ids:
            s.execute(update(Outbox).where(Outbox.id.in_(ids)).values(state=CANCELLED, last_error="stale: no longer meaningful"))
    for row_id in ids:
        logger.info("dropped stale follow-up %d", row_id)
    return len(ids)


def _postpone_quiet(engine: Engine, now: datetime, quiet: QuietHours | None) -> int:
    if quiet is None or not quiet.contains(now):
        return 0
    until = quiet.next_end(now)
    with session_scope(engine) as s:
        return s.execute(
            update(Outbox)
            .where(Outbox.state == PENDING, Outbox.due_at <= now, Outbox.urgent.is_(False), Outbox.channel.in_(CITIZEN_CHANNELS))
            .values(due_at=until)
        ).rowcount or 0


def _claim(engine: Engine, owner: str, now: datetime, limit: int) -> list[OutgoingMessage]:
    with session_scope(engine) as s:
        ids = list(
            s.scalars(
                select(Outbox.id).where(Outbox.state == PENDING, Outbox.due_at <= now).order_by(Outbox.due_at, Outbox.id).limit(limit)
            )
        )
        if not ids:
            return []
        s.execute(
            update(Outbox)
            .where(Outbox.id.in_(ids), Outbox.state == PENDING)
            .values(state=SENDING, claimed_by=owner, attempts=Outbox.attempts + 1)
        )
        rows = s.scalars(select(Outbox).where(Outbox.id.in_(ids), Outbox.state == SENDING, Outbox.claimed_by == owner)).all()
        return [OutgoingMessage(r.id, r.kind, r.channel, r.recipient, dict(r.payload), retry_key(r.idempotency_key)) for r in rows]


def _finish(
    engine: Engine, results: list[tuple[OutgoingMessage, DeliveryError | None]], owner: str, now: datetime, stats: DeliveryStats
) -> None:
    """Record the outcome of one claimed batch in one transaction."""
    with session_scope(engine) as s:
        rows = {r.id: r for r in s.scalars(select(Outbox).where(Outbox.id.in_([m.id for m, _ in results])))}
        sent_at = utcnow()
        for message, error in results:
            row = rows.get(message.id)
            if row is None or row.state != SENDING or row.claimed_by != owner:
                continue  # cancelled or re-claimed meanwhile; leave it alone
            if error is None:
                row.state, row.sent_at, row.last_error = SENT, sent_at, None
                stats.sent += 1
            elif error.permanent or row.attempts >= MAX_ATTEMPTS:
                row.state, row.last_error = FAILED, error.reason[:500]
                stats.failed += 1
                logger.warning("follow-up %d failed for good after %d attempt(s): %s", row.id, row.attempts, error.reason[:200])
            else:
                delay = max(error.retry_after or 0.0, backoff_seconds(row.attempts))
                row.state, row.last_error, row.due_at = PENDING, error.reason[:500], now + timedelta(seconds=delay)
                stats.retried += 1
            row.claimed_by = None


async def deliver_due(
    engine: Engine,
    send: Sender,
    *,
    owner: str,
    now: datetime | None = None,
    quiet: QuietHours | None = None,
    batch: int = 200,
    concurrency: int = 32,
) -> DeliveryStats:
    """Send every row due at `now`; returns what happened."""
    now = now or utcnow()
    stats = DeliveryStats()
    stats.stale = _drop_stale(engine, now)
    stats.postponed = _postpone_quiet(engine, now, quiet)

    async def one(message: OutgoingMessage) -> tuple[OutgoingMessage, DeliveryError | None]:
        try:
            await send(message)
        except DeliveryError as exc:
            return message, exc
        except Exception as exc:  # noqa: BLE001 - an unexpected failure is retried, never lost
            return message, DeliveryError(f"{type(exc).__name__}: {exc}")
        return message, None

    while True:
        # A claimed batch is at most `concurrency` rows: all are in flight together and
        # their outcomes are recorded in one transaction, which keeps the window in
        # which a crash leaves rows in `sending` to one round of platform calls.
        claimed = await asyncio.to_thread(_claim, engine, owner, now, min(batch, concurrency))
        if not claimed:
            break
        results = await asyncio.gather(*(one(m) for m in claimed))
        await asyncio.to_thread(_finish, engine, list(results), owner, now, stats)
    return stats


def due_filter(now: datetime):  # type: ignore[no-untyped-def]
    """Rows that a delivery run at `now` would consider (used by `bot followups list`)."""
    return and_(Outbox.state == PENDING, or_(Outbox.due_at <= now, Outbox.stale_at < now))

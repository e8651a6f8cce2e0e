"""Deliver due outbox rows exactly once, with any number of schedulers.

Each row moves pending -> sending -> sent (or back to pending with a backoff, or
failed with the reason, or cancelled). A scheduler *claims* due rows one by one in
a single statement (`UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)
RETURNING ...` on PostgreSQL; SQLite has one writer, so the same statement is
atomic there): the row becomes `sending`, `claimed_by` the scheduler, with a
short lease in `claim_expires_at` that the holder extends while the send is in
flight. The claim is committed before the platform call, so a crash leaves a trace,
and once its lease has expired any scheduler settles the row:

- rows whose channel has an idempotency key honoured by the platform (LINE's
  `X-Line-Retry-Key`, the web chat's own table) go back to pending and are sent
  again with the same key: the platform drops the duplicate;
- rows for channels without one (Telegram) are marked failed with "outcome unknown"
  instead of being resent; `bot followups retry ID` sends them on purpose. If the
  holder was only slow and its send still completes, its outcome replaces the
  "unknown" (it still holds `claimed_by`).

An outcome is recorded only by the scheduler that holds the row's claim
(compare-and-set on `claimed_by`), so a stale holder never overwrites another's.
Quiet hours hold back non-urgent messages to citizens (never claimed while quiet,
then moved to the end of the quiet hours); rows past `stale_at` are never claimed
and are dropped with a log line.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select, true, update
from sqlalchemy.orm import Session, aliased

from bot.scheduler.lease import is_dead_local_owner
from bot.scheduler.quiet_hours import QuietHours
from connectors.channel import DeliveryError  # the channels' contract; re-exported for the scheduler's senders
from storage.db import session_scope
from storage.installation import installation_id, salted_key
from storage.models.base import utcnow
from storage.models.outbox import CANCELLED, FAILED, PENDING, SENDING, SENT, Outbox

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
IDEMPOTENT_CHANNELS = frozenset({"line", "web"})
CITIZEN_CHANNELS = frozenset({"line", "web"})
# A claim's lease: a row in `sending` whose holder has not extended it for this long is
# settled by another scheduler (its holder died). The holder extends it every CLAIM_TTL/3.
CLAIM_TTL = timedelta(seconds=10)
UNKNOWN_OUTCOME = "outcome unknown"
# A claimed row waits at most this long for its rate-limit slot; further away, it is put back.
MAX_RATE_WAIT = 2.0


class Deferred(DeliveryError):
    """Not attempted: the rate limit's next slot is `retry_after` seconds away (not an attempt)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("waiting for the rate limit", retry_after=retry_after)


@dataclass(frozen=True)
class OutgoingMessage:
    id: int
    kind: str
    channel: str
    recipient: str
    payload: dict[str, Any]
    retry_key: str  # a UUID derived from the row's idempotency key and the installation id
    attempts: int = 1  # this attempt's number (claims count them): above 1, the key may have been sent before


Sender = Callable[[OutgoingMessage], Awaitable[None]]
Result = tuple[OutgoingMessage, "DeliveryError | None"]


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


def retry_key(idempotency_key: str, salt: uuid.UUID) -> str:
    """The platform's idempotency key (LINE's X-Line-Retry-Key) of one outbox row.

    Salted with the installation id (storage.installation): a fresh database on the same LINE
    channel numbers and names its rows the same way, and must not meet this one's keys.
    """
    return salted_key(salt, f"outbox:{idempotency_key}")


def backoff_seconds(attempts: int) -> float:
    return min(3600.0, 5.0 * (3 ** max(0, attempts - 1)))


def _message(row: Any, salt: uuid.UUID) -> OutgoingMessage:
    return OutgoingMessage(row.id, row.kind, row.channel, row.recipient, dict(row.payload), retry_key(row.idempotency_key, salt),
                           row.attempts)


def _claimable(table: Any, now: datetime, quiet: QuietHours | None, busy: frozenset[str] = frozenset()):  # type: ignore[no-untyped-def]
    """Due rows that may be sent at `now`: not stale, not held back by quiet hours, not for a channel at its limit (`busy`)."""
    conditions = [table.state == PENDING, table.due_at <= now, or_(table.stale_at.is_(None), table.stale_at >= now)]
    if busy:
        conditions.append(table.channel.not_in(sorted(busy)))
    if quiet is not None and quiet.contains(now):
        conditions.append(or_(table.urgent.is_(True), table.channel.not_in(CITIZEN_CHANNELS)))
    return and_(*conditions)


def claim_due(
    engine: Engine, owner: str, now: datetime, limit: int, *, quiet: QuietHours | None = None, ttl: timedelta = CLAIM_TTL
) -> list[OutgoingMessage]:
    """Claim up to `limit` due rows for `owner` in one statement; several schedulers never get the same row."""
    with session_scope(engine) as s:
        return _claim(s, owner, now, limit, quiet, ttl)


def _claim(s: Session, owner: str, now: datetime, limit: int, quiet: QuietHours | None, ttl: timedelta,
           busy: frozenset[str] = frozenset()) -> list[OutgoingMessage]:
    """PostgreSQL: rows another scheduler is claiming right now are skipped (`SKIP LOCKED`),
    not waited for. SQLite ignores `FOR UPDATE`; its single writer makes the statement atomic."""
    if limit <= 0:
        return []
    # A materialized CTE picks the rows once: as a plain `IN (subquery)` PostgreSQL may run
    # the locking subquery again for later rows and claim more than `limit`.
    candidate = aliased(Outbox, name="candidate")
    due = (
        select(candidate.id)
        .where(_claimable(candidate, now, quiet, busy))
        .order_by(candidate.due_at, candidate.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
        .prefix_with("MATERIALIZED")
    )
    stmt = (
        update(Outbox)
        .where(Outbox.id.in_(select(due.c.id)), Outbox.state == PENDING)
        .values(state=SENDING, claimed_by=owner, claim_expires_at=now + ttl, attempts=Outbox.attempts + 1)
        .returning(Outbox.id, Outbox.kind, Outbox.channel, Outbox.recipient, Outbox.payload, Outbox.idempotency_key, Outbox.due_at,
                   Outbox.attempts)
        .execution_options(synchronize_session=False)
    )
    rows = s.execute(stmt).all()
    rows.sort(key=lambda r: (r.due_at, r.id))
    salt = installation_id(s) if rows else uuid.UUID(int=0)
    return [_message(r, salt) for r in rows]


def extend_claims(engine: Engine, owner: str, now: datetime | None = None, ttl: timedelta = CLAIM_TTL) -> int:
    """The holder's heartbeat: its rows in flight stay its own for another `ttl`.

    Rows locked right now (their outcome is being recorded) are skipped, not waited for:
    the heartbeat never blocks, nor deadlocks with, the recording transaction.
    """
    now = now or utcnow()
    mine = (
        select(Outbox.id)
        .where(Outbox.state == SENDING, Outbox.claimed_by == owner)
        .with_for_update(skip_locked=True)
        .cte("mine")
        .prefix_with("MATERIALIZED")
    )
    with session_scope(engine) as s:
        return len(
            s.execute(  # RETURNING counts the rows: SQLite reports no rowcount for a statement starting with WITH
                update(Outbox)
                .where(Outbox.id.in_(select(mine.c.id)), Outbox.state == SENDING, Outbox.claimed_by == owner)
                .values(claim_expires_at=now + ttl)
                .returning(Outbox.id)
                .execution_options(synchronize_session=False)
            ).all()
        )


def _settle_in_flight(engine: Engine, condition: Any, reason: str) -> tuple[int, int]:
    """Rows in `sending` matching `condition`: resend where the platform deduplicates, else mark failed.

    Rows locked by a scheduler recording their outcome right now are skipped, not waited for.
    """
    with session_scope(engine) as s:
        rows = s.execute(
            select(Outbox.id, Outbox.channel).where(Outbox.state == SENDING, condition).with_for_update(skip_locked=True)
        ).all()
        resend_ids = [r.id for r in rows if r.channel in IDEMPOTENT_CHANNELS]
        unknown_ids = [r.id for r in rows if r.channel not in IDEMPOTENT_CHANNELS]
        if resend_ids:
            s.execute(
                update(Outbox)
                .where(Outbox.id.in_(resend_ids))
                .values(state=PENDING, claimed_by=None, claim_expires_at=None)
                .execution_options(synchronize_session=False)
            )
        if unknown_ids:
            # `claimed_by` stays: if that scheduler was only slow, its outcome still lands (see _finish)
            s.execute(
                update(Outbox)
                .where(Outbox.id.in_(unknown_ids))
                .values(state=FAILED, claim_expires_at=None, last_error=f"{UNKNOWN_OUTCOME} {reason}; not resent to avoid a duplicate")
                .execution_options(synchronize_session=False)
            )
    return len(resend_ids), len(unknown_ids)


def recover_in_flight(engine: Engine, now: datetime | None = None) -> int:
    """Settle every row left in `sending` (the only scheduler of a database starts); returns how many."""
    resend, unknown = _settle_in_flight(engine, true(), "after a restart")
    if resend or unknown:
        logger.warning("recovered %d in-flight follow-ups (%d resent with their retry key, %d marked unknown)", resend + unknown, resend, unknown)
    return resend + unknown


def reclaim_expired(engine: Engine, now: datetime | None = None) -> int:
    """Settle rows whose claim's lease expired (their scheduler died or stalled); returns how many."""
    now = now or utcnow()
    expired = or_(Outbox.claim_expires_at.is_(None), Outbox.claim_expires_at < now)
    resend, unknown = _settle_in_flight(engine, expired, "after its scheduler stopped")
    if resend or unknown:
        logger.warning("took over %d expired claims (%d resent with their retry key, %d marked unknown)", resend + unknown, resend, unknown)
    return resend + unknown


def reclaim_from_dead_local(engine: Engine, owner: str) -> int:
    """Settle at once the claims of schedulers that ran on this machine and have died (a
    process that no longer exists cannot be sending); others wait for their claims' lease."""
    with session_scope(engine) as s:
        holders = set(s.scalars(select(Outbox.claimed_by).where(Outbox.state == SENDING, Outbox.claimed_by != owner).distinct()))
    dead = sorted(h for h in holders if h and is_dead_local_owner(h))
    if not dead:
        return 0
    resend, unknown = _settle_in_flight(engine, Outbox.claimed_by.in_(dead), "after its scheduler stopped")
    if resend or unknown:
        logger.warning("took over %d claims of a stopped scheduler on this machine (%d resent with their retry key, %d marked unknown)",
                       resend + unknown, resend, unknown)
    return resend + unknown


def _drop_stale(engine: Engine, now: datetime) -> int:
    with session_scope(engine) as s:
        ids = list(
            s.scalars(
                update(Outbox)
                .where(Outbox.state == PENDING, Outbox.stale_at.is_not(None), Outbox.stale_at < now)
                .values(state=CANCELLED, last_error="stale: no longer meaningful")
                .returning(Outbox.id)
                .execution_options(synchronize_session=False)
            )
        )
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
            .execution_options(synchronize_session=False)
        ).rowcount or 0


def housekeeping(engine: Engine, now: datetime, quiet: QuietHours | None) -> tuple[int, int]:
    """Drop stale rows and move quiet-hour rows to the morning; returns (stale, postponed)."""
    return _drop_stale(engine, now), _postpone_quiet(engine, now, quiet)


def _holds(row: Outbox, owner: str) -> bool:
    """Whether `owner` may record this row's outcome: it still holds the claim (or its
    expired claim was marked "outcome unknown", which a known outcome replaces)."""
    if row.claimed_by != owner:
        return False
    return row.state == SENDING or (row.state == FAILED and (row.last_error or "").startswith(UNKNOWN_OUTCOME))


def _finish(
    engine: Engine, results: list[tuple[OutgoingMessage, DeliveryError | None]], owner: str, now: datetime, stats: DeliveryStats
) -> None:
    """Record the outcomes of claimed rows in one transaction (only where `owner` still holds the claim)."""
    if results:
        with session_scope(engine) as s:
            _record(s, results, owner, now, stats)


def _record(
    s: Session, results: list[tuple[OutgoingMessage, DeliveryError | None]], owner: str, now: datetime, stats: DeliveryStats
) -> None:
    sent_at = utcnow()
    ok = [m.id for m, error in results if error is None]
    failed = [(m, error) for m, error in results if error is not None]
    if ok:
        stats.sent += s.execute(
            update(Outbox)
            .where(
                Outbox.id.in_(ok),
                Outbox.claimed_by == owner,
                or_(Outbox.state == SENDING, and_(Outbox.state == FAILED, Outbox.last_error.startswith(UNKNOWN_OUTCOME))),
            )
            .values(state=SENT, sent_at=sent_at, last_error=None, claimed_by=None, claim_expires_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount or 0
    if not failed:
        return
    rows = {r.id: r for r in s.scalars(select(Outbox).where(Outbox.id.in_([m.id for m, _ in failed])).with_for_update())}
    for message, error in failed:
        row = rows.get(message.id)
        if row is None or not _holds(row, owner):
            continue  # cancelled or taken over meanwhile; leave it alone
        assert error is not None
        if isinstance(error, Deferred):
            row.state, row.due_at = PENDING, now + timedelta(seconds=error.retry_after or 0.0)
            row.attempts = max(0, row.attempts - 1)
            stats.postponed += 1
        elif error.unknown and row.channel not in IDEMPOTENT_CHANNELS:
            row.state, row.last_error = FAILED, f"{UNKNOWN_OUTCOME} ({error.reason[:200]}); not resent to avoid a duplicate"
            stats.failed += 1
            logger.warning("follow-up %d: %s; marked failed, not resent", row.id, error.reason[:200])
        elif error.permanent or row.attempts >= MAX_ATTEMPTS:
            row.state, row.last_error = FAILED, error.reason[:500]
            stats.failed += 1
            logger.warning("follow-up %d failed for good after %d attempt(s): %s", row.id, row.attempts, error.reason[:200])
        else:
            delay = max(error.retry_after or 0.0, backoff_seconds(row.attempts))
            row.state, row.last_error, row.due_at = PENDING, error.reason[:500], now + timedelta(seconds=delay)
            stats.retried += 1
        row.claimed_by, row.claim_expires_at = None, None


async def _attempt(send: Sender, message: OutgoingMessage, timeout: float | None) -> tuple[OutgoingMessage, DeliveryError | None]:
    try:
        async with asyncio.timeout(timeout):  # None: no limit
            await send(message)
    except DeliveryError as exc:
        return message, exc
    except TimeoutError:
        return message, DeliveryError(f"no answer from the platform within {timeout:.0f} s", unknown=True)
    except Exception as exc:  # noqa: BLE001 - an unexpected failure is retried, never lost
        return message, DeliveryError(f"{type(exc).__name__}: {exc}")
    return message, None


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
    """Send every row due at `now` once, then return what happened (one pass; `Deliverer` runs continuously)."""
    now = now or utcnow()
    stats = DeliveryStats()
    stats.stale, stats.postponed = housekeeping(engine, now, quiet)
    while True:
        claimed = await asyncio.to_thread(claim_due, engine, owner, now, min(batch, concurrency), quiet=quiet)
        if not claimed:
            break
        results = await asyncio.gather(*(_attempt(send, m, None) for m in claimed))
        await asyncio.to_thread(_finish, engine, list(results), owner, now, stats)
    return stats


class Deliverer:
    """One scheduler's continuous delivery loop: a pipeline of up to `concurrency` sends.

    Claims rows as soon as a slot is free (no waiting for a whole batch), records the
    outcomes of whatever finished every few milliseconds in one transaction, extends
    its claims while they are in flight, and settles other schedulers' expired claims.
    When nothing is due it sleeps until the next row falls due (at most `poll` seconds,
    so rows queued by other processes go out promptly).
    """

    def __init__(
        self,
        engine: Engine,
        send: Sender,
        *,
        owner: str,
        quiet: QuietHours | None = None,
        concurrency: int = 128,
        poll: float = 0.25,
        claim_ttl: timedelta = CLAIM_TTL,
        send_timeout: float | None = None,
        limiter: Any = None,
        channel_limit: int | None = None,
    ) -> None:
        self.engine, self.send, self.owner, self.quiet = engine, send, owner, quiet
        self.concurrency, self.poll, self.claim_ttl = concurrency, poll, claim_ttl
        # a send that outlives its claim could be taken over: cut it off well before
        self.send_timeout = send_timeout if send_timeout is not None else claim_ttl.total_seconds() * 2 / 3
        self.limiter = limiter
        # sends in flight per channel at most: a stalled platform holds no more of the pipeline
        self.channel_limit = max(1, channel_limit if channel_limit is not None else concurrency * 3 // 4)
        self.stats = DeliveryStats()
        self._in_flight: set[asyncio.Task[Result]] = set()
        self._channel_of: dict[asyncio.Task[Result], str] = {}

    def _room(self, free: int) -> tuple[int, frozenset[str]]:
        """(rows to claim, channels at their limit): never more than any channel's remaining room,
        so that however the claimed rows fall, no channel exceeds `channel_limit`."""
        counts: dict[str, int] = {}
        for channel in self._channel_of.values():
            counts[channel] = counts.get(channel, 0) + 1
        busy = frozenset(c for c, n in counts.items() if n >= self.channel_limit)
        room = min([self.channel_limit - n for c, n in counts.items() if c not in busy] + [self.channel_limit])
        return max(0, min(free, room)), busy

    async def _one(self, message: OutgoingMessage) -> Result:
        if self.limiter is not None:
            pause = self.limiter.slot(message.channel, message.recipient, message.id, MAX_RATE_WAIT)
            if pause > MAX_RATE_WAIT:
                return message, Deferred(pause)  # due again at its reserved slot
            if pause:
                await asyncio.sleep(pause)
        return await _attempt(self.send, message, self.send_timeout)

    def _upcoming(self, now: datetime) -> datetime | None:
        """When the next pending row falls due (None: none, or the database could not say)."""
        try:
            with session_scope(self.engine) as s:
                return s.scalar(select(Outbox.due_at).where(Outbox.state == PENDING, Outbox.due_at > now).order_by(Outbox.due_at).limit(1))
        except Exception:  # noqa: BLE001 - the next cycle reports database trouble
            return None

    def _cycle(self, finished: list[Result], want: int, busy: frozenset[str] = frozenset()) -> list[OutgoingMessage]:
        """One transaction: record what finished, claim up to `want` more rows (none for `busy` channels)."""
        with session_scope(self.engine) as s:
            now = utcnow()
            if finished:
                _record(s, finished, self.owner, now, self.stats)
            return _claim(s, self.owner, now, want, self.quiet, self.claim_ttl, busy) if want else []

    def _chores(self) -> None:
        now = utcnow()
        reclaim_expired(self.engine, now)
        reclaim_from_dead_local(self.engine, self.owner)
        stale, postponed = housekeeping(self.engine, now, self.quiet)
        self.stats.stale += stale
        self.stats.postponed += postponed

    async def run(self, stop: asyncio.Event, *, housekeeping_every: float = 1.0) -> DeliveryStats:
        loop = asyncio.get_running_loop()
        next_chores = 0.0
        stopping = asyncio.create_task(stop.wait())
        heartbeat = asyncio.create_task(self._heartbeat())
        finished: list[Result] = []
        # claim when a useful number of slots is free: fewer, larger transactions
        min_claim = max(1, self.concurrency // 8)
        try:
            while not stop.is_set():
                if loop.time() >= next_chores:
                    next_chores = loop.time() + housekeeping_every
                    try:
                        await asyncio.to_thread(self._chores)
                    except Exception:  # noqa: BLE001 - a database hiccup: the next round tries again
                        logger.exception("scheduler housekeeping failed")
                free = self.concurrency - len(self._in_flight)
                wanted = free if free >= min_claim or not self._in_flight else 0
                want, busy = self._room(wanted)
                try:
                    claimed = await asyncio.to_thread(self._cycle, finished, want, busy)
                    finished = []
                except Exception:  # noqa: BLE001 - outcomes are kept and recorded on the next try
                    logger.exception("could not record outcomes or claim rows; retrying")
                    await asyncio.wait({stopping}, timeout=1.0)
                    continue
                for message in claimed:
                    task = asyncio.create_task(self._one(message))
                    self._in_flight.add(task)
                    self._channel_of[task] = message.channel
                timeout: float | None = None
                if not claimed:
                    timeout = self.poll
                    if not self._in_flight and want:
                        upcoming = await asyncio.to_thread(self._upcoming, utcnow())
                        if upcoming is not None:
                            timeout = min(self.poll, max(0.0, (upcoming - utcnow()).total_seconds()))
                elif len(claimed) < want or want < wanted:
                    timeout = self.poll  # everything due is in flight, or a channel at its limit held some back; look again soon
                if self._in_flight:
                    await asyncio.wait(self._in_flight | {stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                    await asyncio.sleep(0.002)  # let neighbours finish too: one transaction records them all
                    done = {t for t in self._in_flight if t.done()}
                    self._in_flight -= done
                    for task in done:
                        self._channel_of.pop(task, None)
                    finished += [t.result() for t in done]
                elif timeout:
                    await asyncio.wait({stopping}, timeout=timeout)
        finally:
            # a clean stop lets the sends in flight finish and records them
            if self._in_flight:
                done, _ = await asyncio.wait(self._in_flight, timeout=self.send_timeout + 1)
                self._in_flight -= done
                finished += [t.result() for t in done]
            if finished:
                await asyncio.to_thread(_finish, self.engine, finished, self.owner, utcnow(), self.stats)
            stopping.cancel()
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        return self.stats

    async def _heartbeat(self) -> None:
        """Extend this scheduler's claims every CLAIM_TTL/3 while sends are in flight (its own task,
        so that a slow send or a slow transaction elsewhere in the loop does not delay it)."""
        every = self.claim_ttl.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            if self._in_flight:
                try:
                    await asyncio.to_thread(extend_claims, self.engine, self.owner, utcnow(), self.claim_ttl)
                except Exception:  # noqa: BLE001 - a database hiccup: the next beat tries again
                    logger.exception("could not extend the claims in flight")


def due_filter(now: datetime):  # type: ignore[no-untyped-def]
    """Rows that a delivery run at `now` would consider (used by `bot followups list`)."""
    return and_(Outbox.state == PENDING, or_(Outbox.due_at <= now, Outbox.stale_at < now))

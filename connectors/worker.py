"""Background processing of stored inbound events: order, retries, delivery.

The worker keeps each conversation in order and delivers; the other jobs have their own
modules: deciding the answer, once per message (connectors.answering: officials' commands,
the handoff relay, Rasa) and the courtesy notes while a person waits (connectors.courtesy).

- Events of one conversation are handled strictly in order, different
  conversations in parallel (at most `concurrency` at a time).
- An event goes pending -> done. Rasa knows each message by a stable message id:
  an event asked again (after a restart, or a timed-out attempt) is marked resumed
  and Rasa answers it from its tracker instead of handling it twice. (Events that
  an older gateway left "answered", with Rasa's replies stored, are delivered.)
- When Rasa is down the event stays stored and is retried with backoff; a person
  who waits long (Rasa slow or down) gets one short "กำลังดำเนินการ" note.
- On start the worker picks up whatever a previous gateway left unfinished.
- A conversation handed to officials (storage.handoff) is not sent to Rasa: its
  messages are relayed to the agency's groups until released or expired.
- The store is the queue, and the worker also keeps what this gateway's webhooks just
  stored: for a conversation whose open events it knows all of ("known"), the next
  event is taken from memory instead of being read back. Anything it cannot vouch
  for (a restart, a retry waiting, an event stored elsewhere) is read from the store.
- Several gateways (docs/gateways.md): with `claims` on (PostgreSQL), a gateway handles a
  conversation only while it holds its claim (storage.claims: a lease of 10 s, extended every
  3 s), reads every event from the store (another gateway may have stored the next one), and
  looks every poll for conversations with due events that no live gateway holds. A claim taken
  over from a gateway that died (lease lapsed, or a dead process on this machine at once) asks
  Rasa about the oldest open event as resumed: Rasa answers it from its tracker if it had it.
- Back-pressure: the store is the queue. Once `max_pending` events are open the
  webhooks answer 503 (the platforms retry later) instead of taking more.
- NLU capture: Rasa's reading of a message (intent, confidence, entities) comes
  back with its answer and is stored, masked and pseudonymous, in the same
  transaction that finishes the event (storage.nlu_capture); captures older than the
  retention period are purged about hourly.
- PDPA erasure: when Rasa's answer carries the erase action's decision, the person is
  erased everywhere (usecases/erasure.py) before the answer is delivered, and the
  confirming message is neither captured nor kept.
- Delivery (docs/delivery.md): deciding an answer holds one of the `concurrency` slots,
  sending it one of its platform's `channel_concurrency` slots, so a slow or rate-limited
  platform holds only its own conversations. Short waits are retried at once; a longer one
  (a 429's Retry-After, a platform down) puts the event back with its answer ("answered"),
  so its conversation waits and nothing else does. A reply still not sent `give_up_after`
  seconds after the message is recorded as failed (`bot followups failed-replies`, /metrics)
  and queued for the scheduler to send later with an apology. What of an answer went out is
  stored before each send (storage.inbound.ReplyProgress): a restart never sends a part twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from connectors.answering import Answerer, message_id, truncated_note
from connectors.channel import DeliveryError
from connectors.courtesy import BUSY_TEXT, Courtesy, Notify, Waiting
from connectors.dbcall import db
from connectors.rasa_client import RasaClient, RasaUnavailable
from common.instances import instance_name, is_dead_local_owner
from storage import claims as claim_store
from storage.db import session_scope
from storage.inbound import (
    Event,
    count_open,
    defer_reply,
    due_conversations,
    finish_and_next,
    finish_undelivered,
    is_due,
    mark_done,
    mark_retry,
    next_open_event,
    retry_waiting_now,
)
from storage.models.channels import REPLY_FAILED, REPLY_UNKNOWN
from storage.models.base import utcnow
from storage.nlu_capture import purge_expired
from storage.ratelimits import Limit
from usecases.erasure import carry_out, person_of
from usecases.erasure import interrupted as erasure_interrupted
from usecases.erasure import requested as erasure_requested

__all__ = ["BUSY_TEXT", "UNDELIVERED_APOLOGY", "Deliver", "Failure", "Notify", "Waiting", "Worker", "backoff", "truncated_note"]

logger = logging.getLogger(__name__)

# (event, neutral replies) -> replies for the web chat table (other channels send and return [])
Deliver = Callable[[Event, list[dict[str, Any]]], Awaitable[list[dict[str, Any]]]]

MAX_ATTEMPTS = 40  # with backoff capped at 60 s: about half an hour of outage
RASA_ERROR = "rasa:"  # how an event waiting because Rasa was unavailable records its error
TAKEN_LIMIT = 100_000  # conversations whose last taken event id is remembered
KNOWN_LIMIT = 20_000  # conversations remembered as fully known (then forgotten and read from the store)
CAPTURE_PURGE_EVERY = 3600.0  # seconds between purges of NLU captures past their retention
DEAD_CHECK_EVERY = 1.0  # seconds between looks for claims of gateways that died on this machine
STALE_CLAIMS_PURGE_EVERY = 60.0  # seconds between purges of lapsed claims with nothing left to handle
CLAIM_SURE_FOR = claim_store.CLAIM_TTL.total_seconds() * 2 / 3  # seconds after an extension a claim is surely still held
INLINE_RETRIES = 2  # sends retried at once (no slot held while waiting) before the event goes back to the store
INLINE_WAIT = 2.0  # seconds: a longer wait (Retry-After, backoff) is waited in the store
NOTICE_DELAY = 60.0  # seconds before the scheduler tries a failed reply again
NOTICE_STALE_AFTER = timedelta(hours=24)  # an answer older than this is no longer worth sending
NOTICE_MAX_CHARS = 4500
UNDELIVERED_APOLOGY = "ขออภัยครับ ข้อความก่อนหน้าส่งไม่สำเร็จ ขอส่งคำตอบอีกครั้งนะครับ"


def _purge_captures(engine: Engine, retention_days: int) -> int:
    with session_scope(engine) as s:
        return purge_expired(s, retention_days)


@dataclass(frozen=True)
class Failure:
    """An answer that did not (failed) or may not (unknown) reach the person; `notify`: send it later."""

    outcome: str
    reason: str
    replies: list[dict[str, Any]] = field(default_factory=list)
    notify: bool = False
    retry_after: float | None = None


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(60, 2 ** max(0, attempts)))


class Worker:
    def __init__(
        self,
        engine: Engine,
        rasa: RasaClient,
        deliver: Deliver,
        *,
        notify_busy: Notify | None = None,
        waiting: Waiting | None = None,
        loading_after: float = 1.0,
        concurrency: int = 32,
        poll_interval: float = 0.5,
        max_text: int = 2000,
        slow_after: float = 8.0,
        max_pending: int = 5000,
        log_text: bool = False,
        capture_secret: bytes | None = None,
        capture_retention_days: int | None = None,
        rate_limits: dict[str, Limit] | None = None,
        channel_concurrency: int = 16,
        give_up_after: float = 900.0,
        claims: bool = False,
        owner: str | None = None,
    ) -> None:
        self.engine = engine
        self.rasa = rasa  # asked directly only to erase a person (PDPA); answers go through the answerer
        self.deliver = deliver
        self.poll_interval = poll_interval
        self.max_pending = max_pending
        self.stats = {"processed": 0, "rasa_failures": 0, "busy_notes": 0, "undelivered": 0, "relayed_to_officials": 0,
                      "nlu_captured": 0, "send_retries": 0, "sends_deferred": 0, "replies_failed": 0, "replies_unknown": 0,
                      "replies_queued_for_later": 0}
        self.channel_concurrency = max(1, channel_concurrency)
        self._engine_failed = False  # Rasa failed since its last answer: its next answer brings waiting retries forward
        self.give_up_after = give_up_after  # seconds after the message: then the reply is recorded failed and sent later
        self._channel_gates: dict[str, asyncio.Semaphore] = {}
        # the jobs: deciding answers, courtesy notes while people wait, capture housekeeping
        self.answerer = Answerer(engine, rasa, started_at=utcnow(), stats=self.stats, max_text=max_text, log_text=log_text,
                                 capture_secret=capture_secret, limits=rate_limits)
        self.courtesy = Courtesy(notify_busy=notify_busy, waiting=waiting, loading_after=loading_after, slow_after=slow_after,
                                 stats=self.stats)
        self.capture_retention_days = capture_retention_days  # None: no purge from here
        self._purged_at: float | None = None
        # the queue: per-conversation order, in memory where the worker can vouch for it
        self._gate = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._dirty: set[str] = set()
        # conversation -> events stored by this gateway, oldest first, not yet taken; only for
        # conversations in _known, whose every open event is in there (or already taken)
        self._fresh: dict[str, list[Event]] = {}
        self._known: set[str] = set()
        # conversation -> id of the last event taken for processing (a webhook may hand over an event
        # the worker already read from the store and handled; such a late copy is dropped)
        self._taken: OrderedDict[str, int] = OrderedDict()
        self._done: dict[int, asyncio.Event] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._open = 0
        # several gateways: per-conversation claims (storage.claims); off for the single SQLite gateway
        self.claims = claims
        self.owner = owner or instance_name()
        self._held: dict[str, float] = {}  # conversation -> monotonic time its claim was last known extended
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._dead_checked = 0.0
        self._stale_purged = 0.0

    # ---- lifecycle
    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="gateway-worker")
        if self.claims:
            self._heartbeat_task = asyncio.create_task(self._heartbeat(), name="gateway-claims-heartbeat")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for background in (self._loop_task, self._heartbeat_task):
            if background:
                background.cancel()
                await asyncio.gather(background, return_exceptions=True)
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.claims:  # let the others go on at once with what this gateway held (asked again as resumed)
            try:
                await db(self.engine, claim_store.put_back, self.engine, self.owner)
            except Exception as exc:  # noqa: BLE001 - the claims lapse after their lease anyway
                logger.warning("claims not put back on stop (%s); they lapse after %d s", type(exc).__name__,
                               claim_store.CLAIM_TTL.total_seconds())
            self._held.clear()

    def wake(self) -> None:
        self._wake.set()

    def stored(self, events: list[Event | str]) -> None:
        """A webhook stored these events (or events of these conversations): count them and start on them now.

        Given the Event itself, the worker need not read it back from the store.
        """
        for item in events:
            self._open += 1
            if isinstance(item, Event):
                conversation = item.conversation
                if self.claims:
                    pass  # read from the store: another gateway may hold older events of this conversation
                elif item.id > self._taken.get(conversation, 0):
                    fresh = self._fresh.setdefault(conversation, [])
                    fresh.append(item)
                    fresh.sort(key=lambda e: e.id)
            else:
                conversation = item
                self._forget(conversation)
            self._kick(conversation)

    def _forget(self, conversation: str) -> None:
        """From now on read this conversation's events from the store."""
        self._known.discard(conversation)
        self._fresh.pop(conversation, None)

    def _taking(self, event: Event) -> None:
        """`event` is processed next: drop it, and anything older, from memory (the store gave it, or memory did)."""
        self._taken[event.conversation] = event.id
        self._taken.move_to_end(event.conversation)
        if len(self._taken) > TAKEN_LIMIT:
            self._taken.popitem(last=False)  # a conversation quiet for many thousands of others: its late copies are long past
        fresh = self._fresh.get(event.conversation)
        if fresh is not None:
            fresh[:] = [e for e in fresh if e.id > event.id]
            if not fresh:
                del self._fresh[event.conversation]

    def _now_known(self, conversation: str) -> None:
        """The store had no open event of this conversation left: from now on memory holds all there is.

        An event stored after the store was asked is in memory too (webhooks always add theirs).
        """
        if len(self._known) >= KNOWN_LIMIT:
            self._known.clear()
        self._known.add(conversation)

    def _kick(self, conversation: str) -> None:
        if self._stopping:
            return
        if conversation in self._running:
            self._dirty.add(conversation)  # its drain may be past its last look at the store: make it look again
        else:
            drain = self._drain_claimed if self.claims else self._drain
            self._running[conversation] = asyncio.create_task(drain(conversation), name=f"drain-{len(self._running)}")

    @property
    def overloaded(self) -> bool:
        return self._open >= self.max_pending

    def waiter(self, event_id: int) -> asyncio.Event:
        """An asyncio.Event set when `event_id` has been processed (the web chat waits on it)."""
        return self._done.setdefault(event_id, asyncio.Event())

    @property
    def backlog(self) -> int:
        return self._open

    # ---- loop
    async def _loop(self) -> None:
        while not self._stopping:
            try:
                self._open = await db(self.engine, count_open, self.engine)
                await self._purge_captures()
                for conversation in await self._due():
                    if conversation not in self._running:
                        if not self.claims and not self._fresh.get(conversation):
                            self._forget(conversation)  # open in the store yet not in memory: read it from there
                        self._kick(conversation)
            except Exception:  # noqa: BLE001 - the loop must survive a database hiccup
                logger.exception("worker loop error")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
            except TimeoutError:
                pass
            self._wake.clear()

    async def _due(self) -> list[str]:
        """Conversations with due events to start on (with claims: those no other live gateway holds)."""
        if not self.claims:
            return await db(self.engine, due_conversations, self.engine)
        if time.monotonic() - self._dead_checked >= DEAD_CHECK_EVERY:
            self._dead_checked = time.monotonic()
            dead = await db(self.engine, claim_store.lapse_claims_of_dead, self.engine, is_dead_local_owner)
            if dead:
                logger.warning("taking over the conversations of %d gateway(s) no longer running on this machine", len(dead))
            if time.monotonic() - self._stale_purged >= STALE_CLAIMS_PURGE_EVERY:
                self._stale_purged = time.monotonic()
                await db(self.engine, claim_store.purge_stale, self.engine)
        return await db(self.engine, claim_store.unclaimed_due_conversations, self.engine, self.owner)

    async def _heartbeat(self) -> None:
        """Extend this gateway's claims every few seconds; a claim not extended is checked before each send."""
        while not self._stopping:
            await asyncio.sleep(claim_store.HEARTBEAT_EVERY)
            started = time.monotonic()
            try:
                held = await db(self.engine, claim_store.heartbeat, self.engine, self.owner)
            except Exception as exc:  # noqa: BLE001 - a database hiccup: sends check their claim themselves
                logger.warning("claims not extended (%s)", type(exc).__name__)
                continue
            for conversation in list(self._held):
                if conversation in held:
                    self._held[conversation] = started

    async def _still_held(self, conversation: str) -> bool:
        """Before sending: whether this gateway surely still holds the conversation (after a stall, asks the store)."""
        extended = self._held.get(conversation)
        if extended is not None and time.monotonic() - extended < CLAIM_SURE_FOR:
            return True
        started = time.monotonic()
        if await db(self.engine, claim_store.still_held, self.engine, conversation, self.owner, quick=True):
            self._held[conversation] = started
            return True
        self._held.pop(conversation, None)
        self.stats["claims_lost"] = self.stats.get("claims_lost", 0) + 1
        logger.warning("a conversation's claim lapsed while this gateway was stalled: left to its new holder")
        return False

    async def _drain_claimed(self, conversation: str) -> None:
        """With claims: claim the conversation, process its events oldest first from the store, release it."""
        event: Event | None = None
        try:
            while not self._stopping:
                if event is None:
                    self._dirty.discard(conversation)
                    started = time.monotonic()
                    claimed = await db(self.engine, claim_store.claim_next, self.engine, conversation, self.owner, quick=True)
                    if claimed is None:  # another gateway holds it, or nothing is due
                        if conversation in self._dirty:
                            continue  # stored here meanwhile: look again
                        return
                    self._held[conversation] = started
                    event = claimed.event
                    if claimed.taken_over:  # its last holder died or stopped: it may have asked Rasa already
                        self.answerer.may_have_been_asked(event.id)
                        self.stats["claims_taken_over"] = self.stats.get("claims_taken_over", 0) + 1
                self._taking(event)
                try:
                    ok, event = await self._process(event)
                except Exception as exc:  # noqa: BLE001 - e.g. the database went away: left for the next holder
                    logger.warning("event %d: not finished (%s); tried again later", event.id, type(exc).__name__)
                    await self._let_go(conversation, put_back=True)
                    return
                if not ok:  # it waits in the store (a retry), or the claim was lost
                    await self._let_go(conversation)
                    return
                if event is None:  # released with the last event
                    self._held.pop(conversation, None)
                    if conversation not in self._dirty:
                        return
        finally:
            self._running.pop(conversation, None)

    async def _let_go(self, conversation: str, *, put_back: bool = False) -> None:
        """Give the claim up: dropped (the event waits in the store for its retry), or put back (left unfinished)."""
        self._held.pop(conversation, None)
        try:
            if put_back:
                await db(self.engine, claim_store.put_back, self.engine, self.owner, [conversation])
            else:
                await db(self.engine, claim_store.drop, self.engine, conversation, self.owner, quick=True)
        except Exception as exc:  # noqa: BLE001 - the claim lapses after its lease
            logger.warning("claim not released (%s); it lapses after %d s", type(exc).__name__, claim_store.CLAIM_TTL.total_seconds())

    async def _drain(self, conversation: str) -> None:
        """Process one conversation's events, oldest first, until one has to wait; then exit."""
        try:
            event: Event | None = None
            fetched = False
            while not self._stopping:
                if not fetched:
                    self._dirty.discard(conversation)
                    if conversation in self._known:
                        fresh = self._fresh.get(conversation)
                        event = fresh[0] if fresh else None
                    else:
                        event = await db(self.engine, next_open_event, self.engine, conversation, quick=True)
                        if event is None:
                            self._now_known(conversation)
                            continue  # memory may hold what was stored meanwhile
                fetched = False
                if event is None or not is_due(event):
                    if conversation in self._dirty:
                        continue  # something was stored after we looked
                    if event is not None:
                        self._forget(conversation)  # it waits for a retry: the store knows when
                    return  # nothing left, or the oldest waits for its retry: nothing may overtake it
                self._dirty.discard(conversation)  # finishing looks at the store again
                self._taking(event)
                try:
                    ok, event = await self._process(event)
                except Exception as exc:  # noqa: BLE001 - e.g. the database went away: the event stays open, tried again later
                    logger.warning("event %d: not finished (%s); tried again later", event.id, type(exc).__name__)
                    ok = False
                if not ok:
                    self._forget(conversation)
                    return
                fetched = conversation not in self._known
        finally:
            self._running.pop(conversation, None)

    async def _process(self, event: Event) -> tuple[bool, Event | None]:
        """(processed, the conversation's next open event) — False when the event waits for a retry.

        Deciding the answer holds one of the worker's `concurrency` slots; sending it holds one of
        its channel's slots only (`channel_concurrency`), so a slow or rate-limited platform holds
        its own conversations, never everyone's.
        """
        replies = event.replies  # an answer kept with the event (a deferred send, or an older gateway's): delivered, Rasa not asked
        capture = None
        if replies is None:
            async with self._gate:
                decided = await self._decide(event)
            if decided is None:
                return False, None
            replies, capture = decided
        if self.claims and not await self._still_held(event.conversation):
            return False, None  # stalled past the lease: the new holder answers (asking Rasa as resumed)
        # Rasa's tracker has moved on; should this gateway stop before the event is done, the next
        # one asks again with the same message id and Rasa answers from its tracker.
        outcome = await self._deliver_with_retries(event, replies)
        if outcome is None:
            return False, None  # waits in the store for its retry; the conversation waits with it
        web, failure = outcome
        following = await self._mark_finished(event, web, capture, failure)
        self.stats["processed"] += 1
        self._open = max(0, self._open - 1)
        self._finish(event.id)
        return True, following

    async def _decide(self, event: Event) -> tuple[list[dict[str, Any]], dict[str, Any] | None] | None:
        """(replies, NLU capture) for an event, or None when it waits for a retry (Rasa unavailable)."""
        replies: list[dict[str, Any]] | None = None
        capture = None
        if erasure_interrupted(event.metadata):  # stopped half way through an erasure: finish it
            replies = await self._erase(event, [])
        if replies is None:
            try:
                replies, nlu = await self.answerer.answer(event, self.courtesy.while_waiting)
            except RasaUnavailable as exc:
                self.stats["rasa_failures"] += 1
                self._engine_failed = True
                await self.courtesy.maybe_busy(event)
                retry = await db(self.engine, mark_retry, self.engine, event.id, f"{RASA_ERROR} {exc}", backoff(event.attempts), MAX_ATTEMPTS,
                                 quick=True)
                logger.warning("event %d: Rasa unavailable (%s); %s", event.id, exc, "will retry" if retry else "giving up")
                if not retry:
                    self._finish(event.id)
                return None
            except Exception as exc:  # noqa: BLE001 - e.g. a 4xx from Rasa: keep the event, retry a few times, then fail
                logger.warning("event %d: Rasa call failed (%s)", event.id, type(exc).__name__)
                retry = await db(self.engine, mark_retry, self.engine, event.id, type(exc).__name__, backoff(event.attempts), 5, quick=True)
                if not retry:
                    self._finish(event.id)
                return None
            if self._engine_failed:
                await self._engine_is_back()
            if erasure_requested(replies):  # PDPA erasure confirmed: done now that the turn is over; no capture
                replies = await self._erase(event, replies)
            else:
                capture = self.answerer.capture(event, nlu)
        return replies, capture

    async def _engine_is_back(self) -> None:
        """Rasa answered after failing: the messages that wait out their backoff from the outage go now."""
        self._engine_failed = False
        try:
            waiting = await db(self.engine, retry_waiting_now, self.engine, RASA_ERROR, quick=True)
        except Exception as exc:  # noqa: BLE001 - they keep their backoff; nothing is lost
            logger.warning("could not bring the waiting messages forward (%s)", type(exc).__name__)
            self._engine_failed = True
            return
        if waiting:
            logger.info("Rasa answers again: %d waiting message(s) retried now", waiting)
            self.wake()

    async def _mark_finished(self, event: Event, web: list[dict[str, Any]], capture: dict[str, Any] | None,
                             failure: Failure | None = None) -> Event | None:
        """Mark the event done (with its NLU capture; a capture never costs an answer); the next open event if read.

        An answer that did not (or may not) reach the person is recorded with the event, and where
        it can be sent later, queued for the scheduler in the same transaction.
        """
        if failure is None and event.progress.unknown:
            failure = Failure(REPLY_UNKNOWN, f"{event.progress.unknown} message(s) cut off; not sent again to avoid a duplicate")
        if failure is not None:
            await self._mark_undelivered(event, capture, failure)
            if self.claims:
                return await db(self.engine, claim_store.release, self.engine, event.conversation, self.owner, quick=True)
            return None
        chat_id = str(event.metadata.get("chat_id") or event.conversation)
        if self.claims:
            try:
                following = await db(self.engine, claim_store.finish_and_release, self.engine, event.id, event.conversation, self.owner,
                                     web, chat_id, capture, quick=True)
                if capture is not None:
                    self.stats["nlu_captured"] += 1
                return following
            except Exception as exc:
                if capture is None:
                    raise
                logger.warning("event %d: NLU capture not stored (%s)", event.id, type(exc).__name__)
                return await self._mark_finished(event, web, None)
        known = event.conversation in self._known
        following: Event | None = None  # known: memory holds the rest
        try:
            if known:
                await db(self.engine, mark_done, self.engine, event.id, web, chat_id, capture, quick=True)
            else:
                following = await db(self.engine, finish_and_next, self.engine, event.id, event.conversation, web, chat_id, capture,
                                     quick=True)
        except Exception as exc:
            if capture is None:
                raise
            logger.warning("event %d: NLU capture not stored (%s)", event.id, type(exc).__name__)  # e.g. no capture table
            return await self._mark_finished(event, web, None)
        if capture is not None:
            self.stats["nlu_captured"] += 1
        if not known and following is None:
            self._now_known(event.conversation)
        return following

    async def _mark_undelivered(self, event: Event, capture: dict[str, Any] | None, failure: Failure) -> None:
        notice = self._notice(event, failure) if failure.notify else None
        try:
            notice_id = await db(self.engine, finish_undelivered, self.engine, event.id, failure.outcome, failure.reason, notice, capture)
        except Exception as exc:
            if capture is None:
                raise
            logger.warning("event %d: NLU capture not stored (%s)", event.id, type(exc).__name__)
            notice_id = await db(self.engine, finish_undelivered, self.engine, event.id, failure.outcome, failure.reason, notice, None)
        self.stats["replies_failed" if failure.outcome == REPLY_FAILED else "replies_unknown"] += 1
        if notice_id is not None:
            self.stats["replies_queued_for_later"] += 1
        logger.warning("event %d: reply %s (%s)%s", event.id, failure.outcome, failure.reason,
                       f"; follow-up {notice_id} will send it later" if notice_id is not None else "")
        self._forget(event.conversation)  # its next event is read from the store
        return None

    def _notice(self, event: Event, failure: Failure) -> dict[str, Any] | None:
        """The outbox row that tells the person later: an apology and the answer's texts (None: nothing to send)."""
        if event.channel not in ("line", "telegram") or not failure.replies:
            return None
        texts = [str(r.get("text")).strip() for r in failure.replies if r.get("text")]
        texts += [str((r.get("custom") or {}).get("text") or "").strip() for r in failure.replies if isinstance(r.get("custom"), dict)]
        texts = [t for t in texts if t]
        if not texts:
            return None
        buttons = next((list(r["buttons"]) for r in reversed(failure.replies) if r.get("buttons")), [])
        now = utcnow()
        due = now + timedelta(seconds=max(NOTICE_DELAY, failure.retry_after or 0.0))
        payload: dict[str, Any] = {"text": (UNDELIVERED_APOLOGY + "\n\n" + "\n\n".join(texts))[:NOTICE_MAX_CHARS]}
        if buttons:
            payload["buttons"] = buttons
        return {"channel": event.channel, "recipient": str(event.metadata.get("chat_id") or ""), "payload": payload, "due_at": due,
                "stale_at": due + NOTICE_STALE_AFTER}

    async def _erase(self, event: Event, replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Carry out a confirmed erasure (usecases/erasure.py); what to tell the person."""
        outcome = await carry_out(self.engine, self.rasa.erase, person_of(event.conversation, event.metadata), replies,
                                  event_id=event.id)
        self._forget(event.conversation)
        return outcome.replies

    def message_id(self, event: Event) -> str:
        """The id Rasa knows this message by: the same however often it is asked."""
        return message_id(event)

    async def _purge_captures(self) -> None:
        if self.capture_retention_days is None or (self._purged_at is not None and time.monotonic() - self._purged_at < CAPTURE_PURGE_EVERY):
            return
        self._purged_at = time.monotonic()
        try:
            purged = await db(self.engine, _purge_captures, self.engine, self.capture_retention_days)
        except Exception as exc:  # noqa: BLE001 - housekeeping; the scheduler purges too
            logger.warning("NLU capture purge failed (%s)", type(exc).__name__)
            return
        if purged:
            logger.info("purged %d NLU capture(s) past retention", purged)

    async def _deliver_with_retries(self, event: Event, replies: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Failure | None] | None:
        """Send the replies decided for `event`; a retry sends again and never decides again (no command runs twice).

        (web chat replies, failure or None) once settled; None when the send waits for a retry in the
        store. Short waits are retried here, with no slot held while waiting; longer ones (a 429's
        Retry-After, a platform down) put the event back with its answer, so its conversation waits and
        nothing else does. After `give_up_after` seconds since the message, the reply is recorded as
        failed and queued for the scheduler to send later.
        """
        inline = 0
        while True:
            try:
                async with self._channel_gate(event.channel):
                    return await self.deliver(event, replies), None
            except DeliveryError as exc:
                reason, permanent, wait = exc.reason, exc.permanent, exc.retry_after
            except Exception as exc:  # noqa: BLE001 - an unexpected failure: retried, never lost
                reason, permanent, wait = type(exc).__name__, False, None
            if permanent:
                self.stats["undelivered"] += 1
                return [], Failure(REPLY_FAILED, reason, replies=replies, notify=False)
            delay = wait if wait is not None else float(2**inline)
            if inline < INLINE_RETRIES and delay <= INLINE_WAIT:
                inline += 1
                self.stats["send_retries"] += 1
                await asyncio.sleep(delay)
                continue
            delay = max(delay, backoff(event.attempts).total_seconds())
            if utcnow() + timedelta(seconds=delay) > event.received_at + timedelta(seconds=self.give_up_after):
                self.stats["undelivered"] += 1
                return [], Failure(REPLY_FAILED, f"{reason}; gave up after {event.attempts + 1} attempt(s)", replies=replies, notify=True,
                                   retry_after=wait)
            await db(self.engine, defer_reply, self.engine, event.id, replies, reason, timedelta(seconds=delay), event.progress)
            self.stats["sends_deferred"] += 1
            logger.info("event %d: reply not sent (%s); tried again in %.0f s", event.id, reason, delay)
            return None

    def _channel_gate(self, channel: str) -> asyncio.Semaphore:
        gate = self._channel_gates.get(channel)
        if gate is None:
            gate = self._channel_gates[channel] = asyncio.Semaphore(self.channel_concurrency)
        return gate

    def _finish(self, event_id: int) -> None:
        self.courtesy.finished(event_id)
        self.answerer.finished(event_id)
        waiter = self._done.pop(event_id, None)
        if waiter is not None:
            waiter.set()

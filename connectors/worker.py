"""Background processing of stored inbound events.

- Events of one conversation are handled strictly in order, different
  conversations in parallel (at most `concurrency` at a time).
- When Rasa is down or slow the event stays stored and is retried with backoff;
  a person who waits long gets one short "กำลังดำเนินการ" note.
- On start the worker picks up whatever a previous gateway left unprocessed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from connectors.rasa_client import RasaClient, RasaUnavailable
from connectors.replies import normalise
from storage.inbound import Event, due_events, first_pending_in_conversation, mark_done, mark_retry
from storage.models.base import utcnow

logger = logging.getLogger(__name__)

# (event, neutral replies) -> replies for the web chat table (other channels send and return [])
Deliver = Callable[[Event, list[dict[str, Any]]], Awaitable[list[dict[str, Any]]]]
Notify = Callable[[Event, str], Awaitable[None]]

MAX_ATTEMPTS = 40  # with backoff capped at 60 s: about half an hour of outage
SLOW_NOTICE_AFTER = timedelta(seconds=8)
BUSY_TEXT = "กำลังดำเนินการ ขอเวลาสักครู่นะครับ 🙏"


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
        concurrency: int = 32,
        poll_interval: float = 0.5,
        max_text: int = 2000,
    ) -> None:
        self.engine = engine
        self.rasa = rasa
        self.deliver = deliver
        self.notify_busy = notify_busy
        self.poll_interval = poll_interval
        self.max_text = max_text
        self._gate = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._done: dict[int, asyncio.Event] = {}
        self._busy_sent: set[int] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False

    # ---- lifecycle
    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="gateway-worker")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._loop_task:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def wake(self) -> None:
        self._wake.set()

    def waiter(self, event_id: int) -> asyncio.Event:
        """An asyncio.Event set when `event_id` has been processed (the web chat waits on it)."""
        return self._done.setdefault(event_id, asyncio.Event())

    @property
    def backlog(self) -> int:
        return len(self._running)

    # ---- loop
    async def _loop(self) -> None:
        while not self._stopping:
            try:
                events = await asyncio.to_thread(due_events, self.engine)
                for conversation in dict.fromkeys(e.conversation for e in events):
                    if conversation not in self._running:
                        self._running[conversation] = asyncio.create_task(self._drain(conversation))
            except Exception:  # noqa: BLE001 - the loop must survive a database hiccup
                logger.exception("worker loop error")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
            except TimeoutError:
                pass
            self._wake.clear()

    async def _drain(self, conversation: str) -> None:
        """Process one conversation's due events, oldest first, then exit."""
        try:
            while not self._stopping:
                events = await asyncio.to_thread(due_events, self.engine, None, 1, conversation)
                if not events:
                    return
                event = events[0]
                first = await asyncio.to_thread(first_pending_in_conversation, self.engine, conversation)
                if first is not None and first != event.id:
                    return  # an older event is waiting for a retry: keep the order
                async with self._gate:
                    ok = await self._process(event)
                if not ok:
                    return
        finally:
            self._running.pop(conversation, None)

    async def _process(self, event: Event) -> bool:
        replies: list[dict[str, Any]] = []
        try:
            if event.kind == "message" and event.text.strip():
                text = event.text[: self.max_text]
                messages = await self.rasa.send(event.conversation, text, event.metadata)
                replies = normalise(messages)
        except RasaUnavailable as exc:
            await self._maybe_busy(event)
            retry = await asyncio.to_thread(mark_retry, self.engine, event.id, f"rasa: {exc}", backoff(event.attempts), MAX_ATTEMPTS)
            logger.warning("event %d: Rasa unavailable (%s); %s", event.id, exc, "will retry" if retry else "giving up")
            if not retry:
                self._finish(event.id)
            return False
        except Exception as exc:  # noqa: BLE001 - e.g. a 4xx from Rasa: keep the event, retry later, fail in the end
            logger.warning("event %d: Rasa call failed (%s)", event.id, type(exc).__name__)
            retry = await asyncio.to_thread(mark_retry, self.engine, event.id, type(exc).__name__, backoff(event.attempts), 5)
            if not retry:
                self._finish(event.id)
            return False
        # Rasa has answered (and updated its tracker): from here on the event is never
        # sent to Rasa again; a failed delivery is retried here, then given up with a log line.
        web = await self._deliver_with_retries(event, replies)
        chat_id = str(event.metadata.get("chat_id") or event.conversation)
        await asyncio.to_thread(mark_done, self.engine, event.id, web, chat_id)
        self._finish(event.id)
        return True

    async def _deliver_with_retries(self, event: Event, replies: list[dict[str, Any]], attempts: int = 4) -> list[dict[str, Any]]:
        from bot.scheduler.delivery import DeliveryError

        for attempt in range(attempts):
            try:
                return await self.deliver(event, replies)
            except DeliveryError as exc:
                if exc.permanent or attempt == attempts - 1:
                    logger.warning("event %d: reply not delivered (%s)", event.id, exc.reason)
                    return []
                await asyncio.sleep(min(30.0, max(exc.retry_after or 0.0, 2.0**attempt)))
            except Exception as exc:  # noqa: BLE001
                if attempt == attempts - 1:
                    logger.warning("event %d: reply not delivered (%s)", event.id, type(exc).__name__)
                    return []
                await asyncio.sleep(2.0**attempt)
        return []

    async def _maybe_busy(self, event: Event) -> None:
        if self.notify_busy is None or event.id in self._busy_sent:
            return
        if utcnow() - event.received_at >= SLOW_NOTICE_AFTER or event.attempts >= 2:
            self._busy_sent.add(event.id)
            try:
                await self.notify_busy(event, BUSY_TEXT)
            except Exception:  # noqa: BLE001 - a courtesy note must not break processing
                logger.warning("event %d: could not send the busy note", event.id)

    def _finish(self, event_id: int) -> None:
        waiter = self._done.pop(event_id, None)
        if waiter is not None:
            waiter.set()

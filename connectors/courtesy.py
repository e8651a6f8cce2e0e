"""While a person waits: a typing/loading indicator, then one short "working on it" note."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from storage.inbound import Event
from storage.models.base import utcnow

logger = logging.getLogger(__name__)

Notify = Callable[[Event, str], Awaitable[None]]
Waiting = Callable[[Event], Awaitable[None]]

BUSY_TEXT = "กำลังดำเนินการ ขอเวลาสักครู่นะครับ 🙏"


class Courtesy:
    def __init__(self, *, notify_busy: Notify | None, waiting: Waiting | None, loading_after: float, slow_after: float,
                 stats: dict[str, int]) -> None:
        self.notify_busy = notify_busy
        self.waiting = waiting
        self.loading_after = loading_after
        self.slow_after = slow_after
        self.stats = stats
        self._busy_sent: set[int] = set()

    async def while_waiting(self, event: Event) -> None:
        """Rasa is taking a while: a typing/loading indicator first, then one short note."""
        if self.waiting is not None and self.loading_after < self.slow_after:
            await asyncio.sleep(self.loading_after)
            try:
                await self.waiting(event)
            except Exception:  # noqa: BLE001 - an indicator is a courtesy
                logger.debug("event %d: no waiting indicator", event.id)
            await asyncio.sleep(self.slow_after - self.loading_after)
        else:
            await asyncio.sleep(self.slow_after)
        await self.busy(event)

    async def maybe_busy(self, event: Event) -> None:
        """Rasa is down: the note, once the person has waited long or the event was tried before."""
        if (utcnow() - event.received_at).total_seconds() >= self.slow_after or event.attempts >= 1:
            await self.busy(event)

    async def busy(self, event: Event) -> None:
        if self.notify_busy is None or event.id in self._busy_sent or event.kind != "message":
            return
        self._busy_sent.add(event.id)
        self.stats["busy_notes"] += 1
        try:
            await self.notify_busy(event, BUSY_TEXT)
        except Exception:  # noqa: BLE001 - a courtesy note must not break processing
            logger.warning("event %d: could not send the busy note", event.id)

    def finished(self, event_id: int) -> None:
        self._busy_sent.discard(event_id)

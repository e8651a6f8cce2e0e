"""The platforms' rate limits, shared between the schedulers that run at once.

Published limits (and what the scheduler keeps to):

- LINE Messaging API: 2,000 requests per second per channel for the push endpoint
  (`POST /v2/bot/message/push`); over it LINE answers 429. Budget: 1,600 requests/s.
- Telegram Bot API: about 30 messages per second per bot across chats (bulk
  notifications), at most one message per second in one chat, and 20 messages per
  minute in one group; over it Telegram answers 429 with `retry_after`.
  Budget: 25 messages/s per bot, one message per second per private chat, one every
  3 seconds per group (a group's chat id starts with "-").
- The local web chat has no limit.

Each scheduler takes an equal share of a channel's budget: `share(n)` with the number
of live schedulers (heartbeat rows in `scheduler_nodes`), re-read while it runs. The
per-chat spacing is kept by the scheduler that sends; two schedulers may each send one
message to the same chat at the same moment, which the platform tolerates (short
bursts) and, if not, answers 429: the row is then retried after `retry_after`, never
lost (see `bot.scheduler.delivery`). A message whose slot is more than a couple of
seconds away (a busy group) is put back with its due time moved to that slot instead
of holding one of the scheduler's sending slots meanwhile; the slot stays reserved for
it (`slot(..., key=row id)`), so the messages queued for one busy group go out in the
order they were claimed, one per spacing, each at its own slot (not all retried at the
next free slot, where one wins and the others are put back again).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

# requests per second for the whole deployment (all schedulers together)
CHANNEL_RATES: dict[str, float] = {"line": 1600.0, "telegram": 25.0}
# minimum seconds between two messages to one chat
TELEGRAM_PRIVATE_SPACING = 1.0
TELEGRAM_GROUP_SPACING = 3.0


@dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float
    stamp: float

    def wait(self, now: float) -> float:
        """How long until a token is available (0: at once)."""
        tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def take(self, now: float) -> None:
        """Take one token (the balance may go negative: later callers wait longer)."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate) - 1.0
        self.stamp = now


class RateLimiter:
    """Token buckets per channel (this scheduler's share) and spacing per Telegram chat."""

    def __init__(self, rates: dict[str, float] | None = None, *, schedulers: int = 1, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.rates = dict(CHANNEL_RATES if rates is None else rates)
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._next_in_chat: dict[str, float] = {}
        self._held: dict[object, float] = {}  # slots reserved for messages put back until then
        self.schedulers = 0
        self.share(schedulers)

    def share(self, schedulers: int) -> None:
        """Take 1/`schedulers` of each channel's budget."""
        schedulers = max(1, schedulers)
        if schedulers == self.schedulers:
            return
        self.schedulers = schedulers
        now = self.clock()
        for channel, total in self.rates.items():
            rate = total / schedulers
            burst = max(1.0, rate / 10)  # at most a tenth of a second's worth at once
            bucket = self._buckets.get(channel)
            if bucket is None:
                self._buckets[channel] = _Bucket(rate, burst, burst, now)
            else:
                bucket.rate, bucket.burst, bucket.tokens = rate, burst, min(bucket.tokens, burst)

    def delay(self, channel: str, recipient: str, max_wait: float = float("inf")) -> float | None:
        """Reserve a slot for one message; returns the seconds to wait before sending it.

        None (and nothing reserved) when the wait would exceed `max_wait`: the caller
        should put the message back rather than hold a sending slot that long.
        """
        now = self.clock()
        bucket = self._buckets.get(channel)
        at = now + (bucket.wait(now) if bucket is not None else 0.0)
        spacing = 0.0
        if channel == "telegram":
            spacing = TELEGRAM_GROUP_SPACING if recipient.startswith("-") else TELEGRAM_PRIVATE_SPACING
            at = max(at, self._next_in_chat.get(recipient, 0.0))
        wait = at - now
        if wait > max_wait:
            return None
        if bucket is not None:
            bucket.take(now)
        if spacing:
            self._next_in_chat[recipient] = at + spacing
            if len(self._next_in_chat) > 10_000:  # forget chats whose spacing is long over
                self._next_in_chat = {k: v for k, v in self._next_in_chat.items() if v > now}
        return wait

    def slot(self, channel: str, recipient: str, key: object, max_wait: float) -> float:
        """Reserve the next slot for the message `key` and return the seconds until it (0: at once).

        A slot further away than `max_wait` stays held for `key`: the caller puts the message
        back until then, and when it comes back (same `key`) it gets that slot, not a new one.
        """
        now = self.clock()
        held = self._held.pop(key, None)
        if held is not None:
            return max(0.0, held - now)
        wait = self.delay(channel, recipient)
        assert wait is not None
        if wait > max_wait:
            self._held[key] = now + wait
            if len(self._held) > 10_000:  # forget slots whose message another scheduler sent
                self._held = {k: v for k, v in self._held.items() if v > now - 60.0}
        return wait

    def next_free(self, channel: str, recipient: str) -> float:
        """Seconds until a message to `recipient` could go (without reserving anything)."""
        now = self.clock()
        bucket = self._buckets.get(channel)
        at = now + (bucket.wait(now) if bucket is not None else 0.0)
        if channel == "telegram":
            at = max(at, self._next_in_chat.get(recipient, 0.0))
        return at - now

    async def wait(self, channel: str, recipient: str, max_wait: float = float("inf")) -> float | None:
        """Wait for a slot; None when it is further away than `max_wait` (nothing reserved, no wait)."""
        pause = self.delay(channel, recipient, max_wait)
        if pause:
            await asyncio.sleep(pause)
        return pause

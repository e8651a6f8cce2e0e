"""Reply progress written through to the store before each send (storage.inbound.ReplyProgress).

The adapters call `begin` before a platform call and `confirm` after it; a restart reads the
progress with the event and resumes after the last part known to be sent. See docs/delivery.md.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from connectors.dbcall import db
from storage.inbound import Event, save_progress

logger = logging.getLogger(__name__)


async def write(engine: Engine | None, event: Event) -> None:
    """Store `event.progress` (without an engine, e.g. a test calling an adapter directly, it stays in memory)."""
    if engine is not None:
        await db(engine, save_progress, engine, event.id, event.progress, quick=True)


async def begin(engine: Engine | None, event: Event, upto: int, *, token: bool = False) -> bool:
    """Messages [sent, upto) are about to be sent: store that first. True when they were tried before (a resend)."""
    progress = event.progress
    resend = progress.trying > progress.sent
    progress.trying = max(progress.trying, upto)
    if token:
        progress.token = "trying"
    await write(engine, event)
    return resend


def confirm(event: Event, upto: int, *, token: bool = False) -> None:
    """Messages up to `upto` are delivered (stored with the next write, or when the event is finished)."""
    progress = event.progress
    progress.sent = max(progress.sent, upto)
    progress.trying = max(progress.trying, progress.sent)
    if token:
        progress.token = "used"


def not_sent(event: Event) -> None:
    """The platform refused the send in flight (an error answer): it did not arrive; a retry is no resend."""
    event.progress.trying = event.progress.sent


def skip_unknown(event: Event, upto: int) -> None:
    """Messages [sent, upto) were cut off earlier and may have arrived: not sent again (no duplicate)."""
    progress = event.progress
    skipped = max(0, upto - progress.sent)
    if skipped:
        progress.unknown += skipped
        logger.warning("event %d: %d message(s) of the answer may or may not have arrived; not sent again", event.id, skipped)
    progress.sent = max(progress.sent, upto)
    progress.trying = max(progress.trying, progress.sent)

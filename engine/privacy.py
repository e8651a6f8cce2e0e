"""Rasa's side of PDPA erasure and retention, run by the gateway channel's private routes.

Each live conversation is changed only while this process holds Rasa's lock for it
(the lock every turn holds from reading the tracker to saving it), so no turn can
write the deleted events back. The gateway asks only after the confirming turn has
finished: asking from inside an action would wait on the lock its own turn holds.

Imports only Rasa, the standard library and `common` (engine runtime).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from engine.tracker_store import senders, unwrap

logger = logging.getLogger(__name__)


class NoErasableStore(Exception):
    """The tracker store configured cannot delete (it is not ours, nor in memory)."""


@asynccontextmanager
async def _locked(agent: Any, sender_id: str) -> AsyncIterator[None]:
    lock_store = getattr(agent, "lock_store", None)
    if lock_store is None:
        yield
        return
    async with lock_store.lock(sender_id):
        yield


def _store(agent: Any) -> Any:
    store = unwrap(getattr(agent, "tracker_store", None))
    if store is None or not (hasattr(store, "delete_person") or isinstance(getattr(store, "store", None), dict)):
        raise NoErasableStore(type(store).__name__)
    return store


async def erase_person(agent: Any, channel: str, user_id: str, conversations: list[Any]) -> dict[str, int]:
    """Forget the person in their 1:1 conversation and every group conversation where they spoke.

    `conversations` are the sender ids the gateway knows of; the store adds those it finds.
    Returns {sender id: events deleted}.
    """
    store = _store(agent)
    wanted = set(senders(conversations)) | {f"{channel}:{user_id}"}
    if hasattr(store, "conversations_of"):
        wanted |= set(await store.conversations_of(channel, user_id))
    deleted: dict[str, int] = {}
    for sender_id in sorted(wanted):
        async with _locked(agent, sender_id):
            if hasattr(store, "delete_person"):
                deleted[sender_id] = await store.delete_person(sender_id, channel, user_id)
            else:  # InMemoryTrackerStore (Rasa run by hand): the conversation goes whole
                deleted[sender_id] = 1 if store.store.pop(sender_id, None) is not None else 0
    logger.info("erasure: %d conversation(s) looked at, %d event(s) deleted", len(deleted), sum(deleted.values()))
    return deleted


async def purge(agent: Any, before: float, limit: int = 1000) -> dict[str, int]:
    """Retention: events of closed sessions older than `before`, and conversations idle since then."""
    store = _store(agent)
    if not hasattr(store, "purge_closed_sessions"):
        return {"closed_session_events": 0, "idle_conversations": 0}
    closed = await store.purge_closed_sessions(before)
    idle = 0
    for sender_id in await store.idle_conversations(before, limit):
        async with _locked(agent, sender_id):
            if await store.delete_if_idle(sender_id, before):
                idle += 1
    logger.info("retention: %d closed-session event(s), %d idle conversation(s) deleted", closed, idle)
    return {"closed_session_events": closed, "idle_conversations": idle}


__all__ = ["NoErasableStore", "erase_person", "purge"]

"""Rasa's SQL tracker store, plus what PDPA needs: erase a person, purge old sessions.

Rasa 3.6 can neither delete a conversation nor purge old ones, and deleting rows
behind its back does not work: at the end of a turn `SQLTrackerStore.save` appends the
tracker's events beyond the number it finds stored, so rows deleted during a turn
are written back. Every method here that changes a live conversation must therefore
run while the caller holds Rasa's lock for that conversation (`agent.lock_store.lock`);
the gateway channel's private routes (bot/rasa_channel.py) do so.

Loaded by class path from the endpoints file (`type: engine.tracker_store.GatewayTrackerStore`,
same keys as `type: SQL`). On SQLite, `secure_delete` is on, so deleted events are
overwritten on disk rather than left in free pages.

Imports only Rasa, the standard library and `common` (engine runtime, Python 3.10).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from rasa.core.tracker_store import SQLTrackerStore

logger = logging.getLogger(__name__)

USER = "user"
SLOT = "slot"
ACTION = "action"
SESSION_STARTED = "session_started"
SESSION_START_ACTION = "action_session_start"


def _secure_delete(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete = ON")
    cursor.close()


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _speaker(data: dict[str, Any]) -> str | None:
    metadata = data.get("metadata") or {}
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    return str(user_id) if user_id not in (None, "") else None


class GatewayTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` that can forget a person and purge what is past retention."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _secure_delete)
            self.engine.dispose()  # connections opened by create_all did not have it

    # ------------------------------------------------------------------ finding a person

    def _own_conversation(self, sender_id: str, channel: str, user_id: str) -> bool:
        """A 1:1 conversation: everything in it is the person's."""
        return sender_id == f"{channel}:{user_id}"

    async def conversations_of(self, channel: str, user_id: str) -> list[str]:
        """Sender ids holding anything the person said: their 1:1 chat and every group where they spoke."""
        pattern = f'%"user_id": {_like_escape(json.dumps(str(user_id)))}%'
        own = f"{channel}:{user_id}"
        with self.session_scope() as session:
            rows = session.query(self.SQLEvent.sender_id).filter(
                sa.or_(
                    self.SQLEvent.sender_id == own,
                    sa.and_(self.SQLEvent.type_name == USER, self.SQLEvent.data.like(pattern, escape="\\")),
                )
            ).distinct().all()
        found = []
        for (sender_id,) in rows:
            prefix = sender_id.split(":", 1)[0].split("-", 1)[0]
            if sender_id == own or prefix == channel:
                found.append(sender_id)
        return sorted(found)

    # ------------------------------------------------------------------ erasure (hold the conversation's lock)

    async def delete(self, sender_id: str) -> int:
        """Delete every event of the conversation, all sessions. Hold the conversation's lock."""
        with self.session_scope() as session:
            deleted = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).delete(synchronize_session=False)
            session.commit()
        return int(deleted or 0)

    async def delete_person(self, sender_id: str, channel: str, user_id: str) -> int:
        """Forget one person in a conversation. Hold the conversation's lock.

        Their 1:1 conversation goes whole. In a group conversation their turns go: each of
        their messages with everything that followed it (the bot's answers, actions, slots)
        up to the next message or session start, and slot values set in those turns that a
        new session carried over. A conversation with nobody else's message left goes whole.
        """
        if self._own_conversation(sender_id, channel, user_id):
            return await self.delete(sender_id)
        with self.session_scope() as session:
            rows = session.query(self.SQLEvent.id, self.SQLEvent.type_name, self.SQLEvent.action_name, self.SQLEvent.data).filter(
                self.SQLEvent.sender_id == sender_id
            ).order_by(self.SQLEvent.id).all()
            doomed: set[int] = set()
            slot_values: set[tuple[str, str]] = set()
            others = 0
            owner: str | None = None
            needle = json.dumps(str(user_id))
            for row_id, type_name, action_name, raw in rows:
                data = json.loads(raw or "{}")
                if type_name == USER:
                    owner = _speaker(data)
                    if owner != str(user_id):
                        others += 1
                elif type_name == ACTION and action_name == SESSION_START_ACTION:
                    owner = None
                if owner == str(user_id) or (type_name != SESSION_STARTED and needle in (raw or "")):
                    doomed.add(row_id)
                    if type_name == SLOT and data.get("value") not in (None, True, False, ""):
                        slot_values.add((str(data.get("name")), json.dumps(data.get("value"), sort_keys=True)))
            if not others:
                deleted = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).delete(synchronize_session=False)
                session.commit()
                return int(deleted or 0)
            for row_id, type_name, _action, raw in rows:
                if type_name == SLOT and row_id not in doomed:
                    data = json.loads(raw or "{}")
                    if (str(data.get("name")), json.dumps(data.get("value"), sort_keys=True)) in slot_values:
                        doomed.add(row_id)  # the person's value, carried into a later session
            deleted = 0
            ids = sorted(doomed)
            for start in range(0, len(ids), 500):
                deleted += session.query(self.SQLEvent).filter(self.SQLEvent.id.in_(ids[start:start + 500])).delete(
                    synchronize_session=False)
            session.commit()
        return deleted

    # ------------------------------------------------------------------ retention

    async def purge_closed_sessions(self, before: float) -> int:
        """Delete events older than `before` (epoch seconds) that belong to a closed session.

        A session is closed once a later `session_started` exists for the conversation. The
        current session's events are never touched, so Rasa's count of stored events in the
        current session (what `save` appends after) stays right: no lock needed.
        """
        later = aliased(self.SQLEvent)
        latest_start = (
            sa.select(sa.func.max(later.timestamp))
            .where(later.sender_id == self.SQLEvent.sender_id, later.type_name == SESSION_STARTED)
            .scalar_subquery()
        )
        with self.session_scope() as session:
            deleted = session.query(self.SQLEvent).filter(
                self.SQLEvent.timestamp < before, self.SQLEvent.timestamp < latest_start
            ).delete(synchronize_session=False)
            session.commit()
        return int(deleted or 0)

    async def idle_conversations(self, before: float, limit: int = 1000) -> list[str]:
        """Conversations whose last event is older than `before`: delete each under its lock (`delete_if_idle`)."""
        with self.session_scope() as session:
            rows = session.query(self.SQLEvent.sender_id).group_by(self.SQLEvent.sender_id).having(
                sa.func.max(self.SQLEvent.timestamp) < before
            ).limit(limit).all()
        return [sender_id for (sender_id,) in rows]

    async def delete_if_idle(self, sender_id: str, before: float) -> int:
        """Delete the conversation if it is still idle since `before`. Hold the conversation's lock."""
        with self.session_scope() as session:
            last = session.query(sa.func.max(self.SQLEvent.timestamp)).filter(self.SQLEvent.sender_id == sender_id).scalar()
        if last is None or last >= before:
            return 0
        return await self.delete(sender_id)


def unwrap(tracker_store: Any) -> Any:
    """The store behind Rasa's wrappers (FailSafeTrackerStore, AwaitableTrackerStore)."""
    seen = 0
    while hasattr(tracker_store, "_tracker_store") and seen < 5:
        tracker_store = tracker_store._tracker_store
        seen += 1
    return tracker_store


def senders(conversations: Iterable[Any]) -> list[str]:
    """Valid sender ids from an untrusted list."""
    return sorted({c for c in conversations if isinstance(c, str) and 0 < len(c) <= 255})


__all__ = ["GatewayTrackerStore", "senders", "unwrap"]

"""Rasa's SQL tracker store, plus what PDPA needs: erase a person, purge old sessions.

Rasa 3.6 can neither delete a conversation nor purge old ones, and deleting rows
behind its back does not work: at the end of a turn `SQLTrackerStore.save` appends the
tracker's events beyond the number it finds stored, so rows deleted during a turn
are written back. Every method here that changes a live conversation must therefore
run while the caller holds Rasa's lock for that conversation (`agent.lock_store.lock`);
the gateway channel's private routes (bot/rasa_channel.py) do so.

Loaded by class path from the endpoints file (`type: engine.tracker_store.GatewayTrackerStore`,
same keys as `type: SQL`). On SQLite, `secure_delete` is on, so deleted events are
overwritten on disk rather than left in free pages, and saves go through a write-ahead log
(no fsync per turn) that every erasure checkpoints and truncates.

Cost independent of the conversation's length (issue #20). Stock Rasa loads every event
since the session started and saves by counting the stored ones, so each message costs
more than the one before (a busy group never lets its session expire). Here:

- `retrieve` returns a *window*: a snapshot of the state where the window starts (the
  session start, a `SlotSet` for each slot that was set, the active loop with its flags,
  a pause, pending reminders, the last `SlotSet` of slots reset since) followed by the stored
  events of the last `window_turns` user turns. The snapshot lives in `tracker_windows`, one
  row per conversation (where the window starts and the state there), moved forward on each
  save by replaying the few events that left the window: bounded work per message. The window
  starts only at a turn boundary that Rasa's own filtering of the events (`applied_events`:
  form turns collapsing, rewinds) never looks across, with at least MIN_STATES actions after it,
  so it predicts exactly what the whole session does (tests/engine/test_tracker_window.py
  replays the scenarios both ways). The gateway only ever resumes a conversation's latest
  message (engine/channel.py), always in the window.
- `save` appends the events after the last stored one it loaded (by id, not by count: a
  window holds fewer events than are stored).
- The full history stays in Rasa's `events` table (audit, exports, `retrieve_full_tracker`);
  nothing is copied. A conversation without a snapshot row (stored before this store, or
  after a partial erasure) is read whole once, then windowed.

`window_turns` comes from the endpoints file (`window_turns: 10`) or RASA_TRACKER_WINDOW_TURNS;
0 means unbounded (the whole session, as stock Rasa).

Imports only Rasa, the standard library and `common` (engine runtime, Python 3.10).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    ConversationPaused,
    Event,
    LoopInterrupted,
    ReminderScheduled,
    SessionStarted,
    SlotSet,
    UserUttered,
    UserUtteranceReverted,
)
from rasa.shared.core.trackers import DialogueStateTracker, TrackerActiveLoop
from sqlalchemy.orm import aliased, declarative_base

logger = logging.getLogger(__name__)

USER = "user"
SLOT = "slot"
ACTION = "action"
SESSION_STARTED = "session_started"
SESSION_START_ACTION = "action_session_start"

WINDOW_ENV = "RASA_TRACKER_WINDOW_TURNS"
# On: tests/engine/test_tracker_window.py replays the scenarios and test stories with a window of 3 turns and
# requires the whole session's actions, slots and replies; 10 leaves room (rules here look back at most 3 states).
DEFAULT_WINDOW_TURNS = 10
# Actions kept after a window's first one: more than the longest rule looks back (3 states in the trained
# RulePolicy, rules written here have at most 5 steps) and than the policies' max_history (4-5), so the one state
# that differs from the whole session's (the window's first: no previous action, no user message) is never read.
MIN_STATES = 6
LOADED = "_gateway_loaded"  # attribute set on each tracker `retrieve` returns: what of it is stored

_WindowBase = declarative_base()


class TrackerWindow(_WindowBase):  # type: ignore[misc,valid-type]
    """Where a conversation's window starts (first event id loaded) and the state just before it."""

    __tablename__ = "tracker_windows"

    sender_id = sa.Column(sa.String(255), primary_key=True)
    anchor_id = sa.Column(sa.Integer, nullable=False)
    # {"session": bool, "slots": [[name, value]], "loop": {...}|null, "paused": bool, "reminders": [event], "stale": [[name, value]]}
    state = sa.Column(sa.Text, nullable=False)


# `sender_id = ? AND id >= ?` is a range scan with it (PostgreSQL's single-column index would read the whole conversation).
_EVENTS_BY_SENDER_AND_ID = sa.Index("ix_events_sender_id_id", SQLTrackerStore.SQLEvent.sender_id, SQLTrackerStore.SQLEvent.id)


@dataclasses.dataclass
class _Loaded:
    """What `retrieve` put in a tracker: `prefix` synthetic events (never saved), then stored events with these ids."""

    prefix: int
    ids: list[int]
    loop: dict[str, Any] | None = None
    windowed: bool = False  # the conversation has a `tracker_windows` row describing this window


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Deleted rows overwritten on disk; a write-ahead log synced at checkpoints, not at every turn.

    In the default rollback-journal mode each turn's save waited for two fsyncs inside Rasa's
    event loop (≈ 5 ms a message, every other conversation waiting too; issue #20). With
    WAL and synchronous=NORMAL a turn's save is durable when the process is killed, as the
    gateway's own database is (storage/db.py); the erasure paths empty the log (`_erased`).
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _speaker(data: dict[str, Any]) -> str | None:
    metadata = data.get("metadata") or {}
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    return str(user_id) if user_id not in (None, "") else None


def window_turns_setting(value: Any = None) -> int:
    """Turns kept in a window: the endpoints file's `window_turns`, else RASA_TRACKER_WINDOW_TURNS, else DEFAULT_WINDOW_TURNS; 0 = unbounded."""
    raw = value if value not in (None, "") else os.environ.get(WINDOW_ENV, "").strip() or DEFAULT_WINDOW_TURNS
    try:
        turns = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"window_turns must be a whole number of turns (0: unbounded), not {raw!r}") from None
    if turns < 0:
        raise ValueError("window_turns must be 0 (unbounded) or more")
    return turns


class GatewayTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` with a bounded window per message, that can forget a person and purge what is past retention."""

    def __init__(self, *args: Any, window_turns: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.window_turns = window_turns_setting(window_turns)
        try:
            _WindowBase.metadata.create_all(self.engine)
            _EVENTS_BY_SENDER_AND_ID.create(self.engine, checkfirst=True)
        except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:  # another process created them meanwhile
            logger.warning("tracker store: could not create the window table or index (%s)", type(exc).__name__)
        if self.engine.dialect.name == "sqlite":
            # SQLAlchemy 1.4 (Rasa's) opens a new connection per session on a SQLite file: each turn
            # then paid a connect, and a checkpoint when it closed. One kept connection instead
            # (Rasa's event loop is one thread; the pool hands it out one session at a time).
            url = self.engine.url
            self.engine.dispose()
            self.engine = sa.create_engine(url, poolclass=sa.pool.QueuePool, pool_size=1, max_overflow=4,
                                           connect_args={"check_same_thread": False})
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    # ------------------------------------------------------------------ the window

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The current session as a window: the state where it starts, then the last `window_turns` turns."""
        if not self.domain:
            return None
        columns = (self.SQLEvent.id, self.SQLEvent.type_name, self.SQLEvent.timestamp, self.SQLEvent.data)
        state: dict[str, Any] | None = None
        with self.session_scope() as session:
            window = session.get(TrackerWindow, sender_id) if self.window_turns else None
            rows: Sequence[Any] = []
            if window is not None:
                rows = session.query(*columns).filter(
                    self.SQLEvent.sender_id == sender_id, self.SQLEvent.id >= window.anchor_id
                ).order_by(self.SQLEvent.id).all()
                starts = [row.timestamp for row in rows if row.type_name == SESSION_STARTED]
                if starts:  # a session started inside the window: what Rasa's own query keeps
                    rows = [row for row in rows if row.timestamp is not None and row.timestamp >= max(starts)]
                else:
                    state = json.loads(window.state)
            if window is None or not rows:
                window = None
                rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).with_entities(*columns).all()
        if not rows:
            return None
        ids: list[int] = []
        events: list[Event] = []
        for row in rows:
            event = Event.from_parameters(json.loads(row.data))
            if event is not None:
                events.append(event)
                ids.append(int(row.id))
        prefix = self._prefix(state, rows[0].timestamp) if state else []
        loop = state.get("loop") if state else None
        tracker = self._replay(sender_id, prefix, loop, events)
        setattr(tracker, LOADED, _Loaded(prefix=len(prefix), ids=ids, loop=loop, windowed=window is not None))
        return tracker

    @staticmethod
    def _prefix(state: dict[str, Any], timestamp: float | None) -> list[Event]:
        """Events recreating the state where the window starts (never saved).

        Besides the state (session start, slots, active loop and its flags, pause), what the whole
        session's events show to whoever reads them rather than the state: reminders still
        scheduled (Rasa fires a reminder only if its `ReminderScheduled` is in the applied events)
        and, for each slot whose last `SlotSet` in the session is not its value now (a reset,
        `AllSlotsReset`, a rewind), that last `SlotSet` (actions read it, e.g. "the value before
        this turn"). Those go in a turn of their own that a rewind (`UserUtteranceReverted`)
        takes back at once: they are in the events, the state is unchanged, and Rasa's policies
        (which read the applied events) never see them.
        """
        ts = timestamp
        events: list[Event] = []
        if state.get("session"):
            events += [ActionExecuted(ACTION_SESSION_START_NAME, timestamp=ts), SessionStarted(timestamp=ts)]
        events += [SlotSet(name, value, timestamp=ts) for name, value in state.get("slots") or []]
        loop = state.get("loop")
        if loop and loop.get("name"):
            events.append(ActiveLoop(loop["name"], timestamp=ts))
            if loop.get("is_interrupted"):
                events.append(LoopInterrupted(True, timestamp=ts))
            if loop.get("rejected"):
                events.append(ActionExecutionRejected(loop["name"], timestamp=ts))
        if state.get("paused"):
            events.append(ConversationPaused(timestamp=ts))
        for reminder in state.get("reminders") or []:
            event = Event.from_parameters(reminder)
            if event is not None:
                events.append(event)
        stale = state.get("stale") or []
        if stale:
            events += [ActionExecuted(ACTION_LISTEN_NAME, timestamp=ts), UserUttered(None, timestamp=ts)]
            events += [SlotSet(name, value, timestamp=ts) for name, value in stale]
            events.append(UserUtteranceReverted(timestamp=ts))
        return events

    def _replay(self, sender_id: str, prefix: list[Event], loop: dict[str, Any] | None, events: Iterable[Event]) -> DialogueStateTracker:
        tracker = DialogueStateTracker(sender_id, self.domain.slots)
        for event in prefix:
            tracker.update(event)
        if loop and loop.get("name"):
            tracker.active_loop = TrackerActiveLoop(**loop)  # its trigger message too, which no event recreates
        for event in events:
            tracker.update(event)
        return tracker

    @staticmethod
    def _state(tracker: DialogueStateTracker, events: Sequence[Event]) -> dict[str, Any]:
        """The state after `events` (`tracker` replayed them), as the next window's prefix recreates it."""
        slots = [[name, slot.value] for name, slot in tracker.slots.items()
                 if slot.has_been_set or slot.value != slot.initial_value]
        loop = dataclasses.asdict(tracker.active_loop) if tracker.active_loop and tracker.active_loop.name else None
        last_set: dict[str, Any] = {}
        for event in events:
            if isinstance(event, SessionStarted):
                last_set = {}  # Rasa loads the latest session only
            elif isinstance(event, SlotSet):
                last_set[event.key] = event.value
        now = {name: value for name, value in slots}
        stale = [[name, value] for name, value in last_set.items()
                 if name not in now or json.dumps(now[name], sort_keys=True) != json.dumps(value, sort_keys=True)]
        reminders = [event.as_dict() for event in tracker.applied_events() if isinstance(event, ReminderScheduled)]
        return {"session": any(isinstance(e, SessionStarted) for e in events), "slots": slots, "loop": loop,
                "paused": tracker.is_paused(), "reminders": reminders, "stale": stale}

    def _window_start(self, tracker: DialogueStateTracker, prefix: int) -> int:
        """Index in the stored events (`tracker.events[prefix:]`) of the first event to keep.

        The latest turn boundary (an `action_listen` just before a user message) where what Rasa
        derives from the events after it is what it derives from the whole session: at least
        `window_turns` user turns and MIN_STATES actions left after Rasa's own filtering
        (`applied_events`: a form's happy-path turns collapse to its first run, a rewind removes
        back to the previous remaining user message), and no form run just before it that a
        later run of the form would collapse into (`_continues_a_loop`). None qualifies: the
        window keeps its start (it grows, e.g. through a long form, until one does). Never
        before the latest session start.
        """
        events = list(tracker.events)
        stored = events[prefix:]
        start = 0
        users = sum(isinstance(e, UserUttered) for e in stored)
        if users > self.window_turns:
            applied = tracker.applied_events()
            at = {id(event): i for i, event in enumerate(applied)}
            loops = set(getattr(self.domain, "form_names", None) or []) | {
                e.name for e in events if isinstance(e, ActiveLoop) and e.name}
            users_after = actions_after = 0
            user_after = [0] * (len(applied) + 1)
            action_after = [0] * (len(applied) + 1)
            for i in range(len(applied) - 1, -1, -1):
                users_after += isinstance(applied[i], UserUttered)
                actions_after += isinstance(applied[i], ActionExecuted)
                user_after[i], action_after[i] = users_after, actions_after
            for i in range(len(stored) - 2, 0, -1):
                listen, user = stored[i], stored[i + 1]
                if not (isinstance(listen, ActionExecuted) and listen.action_name == ACTION_LISTEN_NAME
                        and isinstance(user, UserUttered) and id(listen) in at):
                    continue
                q = at[id(listen)]
                if (user_after[q] >= self.window_turns and action_after[q] - 1 >= MIN_STATES
                        and not self._continues_a_loop(applied[:q], loops)):
                    start = i
                    break
        sessions = [i for i, e in enumerate(stored) if isinstance(e, SessionStarted)]
        if sessions and sessions[-1] > start:
            begin = sessions[-1]
            before = stored[begin - 1] if begin else None
            if isinstance(before, ActionExecuted) and before.action_name == ACTION_SESSION_START_NAME:
                begin -= 1  # stored just before the session start, with a later timestamp: Rasa's query keeps it
            start = max(start, begin)
        return start

    @staticmethod
    def _continues_a_loop(before: Sequence[Event], loops: set[str]) -> bool:
        """Whether a later run of a form, looking back across this boundary, would find its previous run.

        Rasa's `applied_events` drops a form's run and the turns since its previous run when the
        form goes on without an unhappy path (DialogueStateTracker._first_loop_execution_or_unhappy_path);
        this is that look-back, from an `action_listen` at the boundary. Reaching the window's start
        means no (the window's start was chosen where it stops).
        """
        for loop in loops:
            next_action: str | None = ACTION_LISTEN_NAME
            for event in reversed(before):
                if isinstance(event, ActiveLoop) and event.name is None:
                    break
                if isinstance(event, ActionExecutionRejected) and event.action_name == loop:
                    break
                if isinstance(event, UserUttered) and next_action is not None and next_action != loop:
                    break
                if isinstance(event, ActionExecuted):
                    if event.action_name == loop:
                        return True
                    next_action = event.action_name
        return False

    def _event_row(self, sender_id: str, event: Event) -> Any:
        data = event.as_dict()
        return self.SQLEvent(
            sender_id=sender_id,
            type_name=event.type_name,
            timestamp=data.get("timestamp"),
            intent_name=(data.get("parse_data") or {}).get("intent", {}).get("name"),
            action_name=data.get("name"),
            data=json.dumps(data),
        )

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the events after the last stored one `retrieve` loaded, and move the window forward."""
        await self.stream_events(tracker)
        loaded: _Loaded | None = getattr(tracker, LOADED, None)
        if loaded is None:
            await self._save_unloaded(tracker)
            return
        events = list(tracker.events)
        first_new = loaded.prefix + len(loaded.ids)
        if len(events) < first_new:  # nothing in Rasa shortens a tracker's events; refuse to guess
            logger.error("tracker store: a tracker lost events since it was loaded; nothing saved")
            return
        new = events[first_new:]
        stored = events[loaded.prefix:]
        start = self._window_start(tracker, loaded.prefix) if self.window_turns else 0
        if not new and (not self.window_turns or (start == 0 and loaded.windowed)):
            return
        with self.session_scope() as session:
            rows = [self._event_row(tracker.sender_id, event) for event in new]
            session.add_all(rows)
            session.flush()
            ids = loaded.ids + [int(row.id) for row in rows]
            if self.window_turns and ids and (start > 0 or not loaded.windowed):
                head = events[: loaded.prefix + start]
                before = self._replay(tracker.sender_id, events[: loaded.prefix], loaded.loop, stored[:start])
                session.merge(TrackerWindow(sender_id=tracker.sender_id, anchor_id=ids[start],
                                            state=json.dumps(self._state(before, head))))
                loaded.windowed = True
            session.commit()
        loaded.ids = ids

    async def _save_unloaded(self, tracker: DialogueStateTracker) -> None:
        """A tracker `retrieve` did not return (a new conversation): Rasa's rule, events beyond the stored count."""
        with self.session_scope() as session:
            stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
            events = list(tracker.events)
            rows = [self._event_row(tracker.sender_id, event) for event in events[stored:]]
            session.add_all(rows)
            session.flush()
            ids = [int(row.id) for row in rows]
            session.query(TrackerWindow).filter(TrackerWindow.sender_id == tracker.sender_id).delete(synchronize_session=False)
            session.commit()
        if stored == 0:  # all of it is stored now, with these ids: later saves of this tracker append after them
            setattr(tracker, LOADED, _Loaded(prefix=0, ids=ids))

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

    def _erased(self) -> None:
        """After a delete on SQLite: the write-ahead log still holds page images from before it; copy
        the log into the database (where secure_delete overwrote the rows) and truncate it."""
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    async def delete(self, sender_id: str) -> int:
        """Delete every event of the conversation, all sessions. Hold the conversation's lock."""
        with self.session_scope() as session:
            deleted = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).delete(synchronize_session=False)
            session.query(TrackerWindow).filter(TrackerWindow.sender_id == sender_id).delete(synchronize_session=False)
            session.commit()
        self._erased()
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
            # The window's snapshot may hold the person's slot values: it goes, the next turn reads the session whole once.
            session.query(TrackerWindow).filter(TrackerWindow.sender_id == sender_id).delete(synchronize_session=False)
            if not others:
                deleted = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).delete(synchronize_session=False)
                session.commit()
                self._erased()
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
        self._erased()
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
        self._erased()
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

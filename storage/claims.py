"""Per-conversation claims: any number of gateways share the stored inbound events (docs/gateways.md).

A gateway handles a conversation's events only while it holds the conversation's claim
(`conversation_claims`), so one conversation is worked on by one gateway at a time and
its events go in order, whichever gateway stored them.

- **Claim** (`claim_next`): one upsert takes a free claim, renews one's own, or takes over a
  lapsed one (`expires_at` past: its holder died or stalled), returning the previous holder; in
  the same transaction the conversation's oldest open event is read. A claim taken over from
  another gateway marks that event as possibly asked of Rasa already (`Claimed.taken_over`):
  it is asked again "resumed", under its stable message id, and Rasa answers from its tracker.
- **Lease**: `CLAIM_TTL` (10 s). The holder extends all its claims every `HEARTBEAT_EVERY` (3 s)
  in one statement (`heartbeat`), which also tells it which claims it still holds.
- **Release**: when a conversation has no open event left its claim is deleted in the
  transaction that finishes the last event (`finish_and_release`); the oldest open event is read
  again after the delete, so an event that another gateway stored while this one held the
  claim (its claim attempt failed) is never left behind: it is claimed again and handled.
- **Takeover**: any gateway takes a lapsed claim; the claims of a gateway that ran on this machine
  and whose process is gone are lapsed at once (`lapse_claims_of_dead`), as the schedulers do.
  A gateway that stops cleanly lapses its claims (`put_back`) so that others go on at once.
- **Unclaimed work** (`unclaimed_due_conversations`): each gateway also looks, every poll,
  for conversations with due events that no live gateway holds (stored by a gateway that died
  before handling them, or waiting for a retry).

Every statement works on SQLite (one gateway, the default) and PostgreSQL (any number).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.inbound import Event, _mark_done, _next_open, is_due
from storage.models.base import utcnow
from storage.models.channels import EVENT_OPEN
from storage.models.channels import InboundEvent
from storage.models.gateways import ConversationClaim

CLAIM_TTL = timedelta(seconds=10)
HEARTBEAT_EVERY = 3.0  # seconds: a live holder's claims never come within 7 s of lapsing
LAPSED = datetime(1970, 1, 1, tzinfo=UTC)

_CLAIMS = ConversationClaim.__table__
_EVENTS = InboundEvent.__table__
_TIME = _CLAIMS.c.expires_at.type


@dataclass(frozen=True)
class Claimed:
    """A conversation claimed, with its oldest open event (due)."""

    event: Event
    taken_over: bool  # from another gateway: the event may have reached Rasa already


def _upsert(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(_CLAIMS).values(conversation=bindparam("p_conversation"), owner=bindparam("p_owner"),
                                  expires_at=bindparam("p_expires", type_=_TIME), taken_from=None)
    return stmt.on_conflict_do_update(
        index_elements=[_CLAIMS.c.conversation],
        set_={"owner": stmt.excluded.owner, "expires_at": stmt.excluded.expires_at, "taken_from": _CLAIMS.c.owner},
        where=(_CLAIMS.c.owner == bindparam("p_owner")) | (_CLAIMS.c.expires_at < bindparam("p_now", type_=_TIME)),
    ).returning(_CLAIMS.c.taken_from)


_UPSERTS = {"postgresql": _upsert("postgresql"), "sqlite": _upsert("sqlite")}
_RELEASE = delete(_CLAIMS).where(_CLAIMS.c.conversation == bindparam("p_conversation"), _CLAIMS.c.owner == bindparam("p_owner"))
_EXTEND_ALL = (update(_CLAIMS).where(_CLAIMS.c.owner == bindparam("p_owner"))
               .values(expires_at=bindparam("p_expires", type_=_TIME)).returning(_CLAIMS.c.conversation))
_EXTEND_ONE = (update(_CLAIMS).where(_CLAIMS.c.conversation == bindparam("p_conversation"), _CLAIMS.c.owner == bindparam("p_owner"))
               .values(expires_at=bindparam("p_expires", type_=_TIME)))
_LIVE_OWNERS = select(_CLAIMS.c.owner).where(_CLAIMS.c.expires_at >= bindparam("p_now", type_=_TIME)).distinct()
_UNCLAIMED_DUE = (
    select(_EVENTS.c.conversation)
    .select_from(_EVENTS.outerjoin(_CLAIMS, _CLAIMS.c.conversation == _EVENTS.c.conversation))
    .where(_EVENTS.c.state.in_(EVENT_OPEN), _EVENTS.c.next_attempt_at <= bindparam("p_now", type_=_TIME),
           _CLAIMS.c.conversation.is_(None) | (_CLAIMS.c.owner == bindparam("p_owner"))
           | (_CLAIMS.c.expires_at < bindparam("p_now", type_=_TIME)))
    .group_by(_EVENTS.c.conversation).order_by(func.min(_EVENTS.c.id)).limit(bindparam("p_limit"))
)


def _claim(conn: Connection, conversation: str, owner: str, now: datetime, ttl: timedelta) -> tuple[bool, bool]:
    """(claimed, taken over from another gateway) in one statement."""
    row = conn.execute(_UPSERTS[conn.dialect.name], {"p_conversation": conversation, "p_owner": owner, "p_expires": now + ttl,
                                                     "p_now": now}).first()
    if row is None:
        return False, False
    return True, row[0] is not None and row[0] != owner


def claim(engine: Engine, conversation: str, owner: str, ttl: timedelta = CLAIM_TTL, now: datetime | None = None) -> bool:
    """Take (or renew) the conversation's claim; False while another live gateway holds it."""
    with engine.begin() as conn:
        return _claim(conn, conversation, owner, now or utcnow(), ttl)[0]


def claim_next(engine: Engine, conversation: str, owner: str, ttl: timedelta = CLAIM_TTL, now: datetime | None = None) -> Claimed | None:
    """Claim the conversation and read its oldest open event, in one transaction.

    None when another live gateway holds it, or when it has no due event (then no claim is kept:
    nothing may overtake an event waiting for its retry, and the periodic look finds it when due).
    """
    now = now or utcnow()
    with engine.begin() as conn:
        claimed, taken_over = _claim(conn, conversation, owner, now, ttl)
        if not claimed:
            return None
        event = _next_open(conn, conversation)
        if event is None or not is_due(event, now):
            conn.execute(_RELEASE, {"p_conversation": conversation, "p_owner": owner})
            return None
        return Claimed(event, taken_over)


def _release_or_next(conn: Connection, conversation: str, owner: str, now: datetime, ttl: timedelta) -> Event | None:
    """After the last open event of the conversation: drop the claim, unless an event came in meanwhile.

    The oldest open event is read after the claim is deleted: an event stored by another gateway
    whose claim attempt failed while this one held the claim is committed by then, so it is seen
    here (and claimed again), or that gateway's attempt comes after the delete and succeeds.
    """
    conn.execute(_RELEASE, {"p_conversation": conversation, "p_owner": owner})
    event = _next_open(conn, conversation)
    if event is None or not is_due(event, now):
        return None
    return event if _claim(conn, conversation, owner, now, ttl)[0] else None


def release(engine: Engine, conversation: str, owner: str, ttl: timedelta = CLAIM_TTL) -> Event | None:
    """Give the claim up; if a due event came in meanwhile, keep (re-take) the claim and return it."""
    now = utcnow()
    with engine.begin() as conn:
        return _release_or_next(conn, conversation, owner, now, ttl)


def drop(engine: Engine, conversation: str, owner: str) -> None:
    """Give the claim up (its oldest event waits for a retry: the periodic look finds it when due)."""
    with engine.begin() as conn:
        conn.execute(_RELEASE, {"p_conversation": conversation, "p_owner": owner})


def finish_and_release(
    engine: Engine, event_id: int, conversation: str, owner: str, web_replies: list[dict[str, Any]] | None = None,
    chat_id: str | None = None, capture: dict[str, Any] | None = None, ttl: timedelta = CLAIM_TTL,
) -> Event | None:
    """Finish an event and read the conversation's next open event; with none left, release the claim.

    One transaction (the hot path with several gateways). Returns the next event while the claim
    is still held; None once it is released (or the next event waits for its retry).
    """
    now = utcnow()
    with engine.begin() as conn:
        _mark_done(conn, event_id, web_replies, chat_id, capture)
        event = _next_open(conn, conversation)
        if event is None:
            return _release_or_next(conn, conversation, owner, now, ttl)
        if not is_due(event, now):
            conn.execute(_RELEASE, {"p_conversation": conversation, "p_owner": owner})
            return None
        return event


def still_held(engine: Engine, conversation: str, owner: str, ttl: timedelta = CLAIM_TTL) -> bool:
    """Extend one claim if this gateway still holds it (checked before sending an answer after a stall)."""
    with engine.begin() as conn:
        return conn.execute(_EXTEND_ONE, {"p_conversation": conversation, "p_owner": owner, "p_expires": utcnow() + ttl}).rowcount == 1


def heartbeat(engine: Engine, owner: str, ttl: timedelta = CLAIM_TTL, now: datetime | None = None) -> set[str]:
    """Extend every claim of `owner` for another `ttl`; the conversations it still holds."""
    now = now or utcnow()
    with engine.begin() as conn:
        return set(conn.scalars(_EXTEND_ALL, {"p_owner": owner, "p_expires": now + ttl}))


def put_back(engine: Engine, owner: str, conversations: list[str] | None = None) -> int:
    """Let the claims go at once (a gateway stopping, an event left unfinished), keeping who held them.

    Unlike a release, the next holder knows from the kept owner that it takes over: the oldest
    open event may have reached Rasa, and is asked again as resumed.
    """
    stmt = update(_CLAIMS).where(_CLAIMS.c.owner == owner).values(expires_at=LAPSED)
    if conversations is not None:
        stmt = stmt.where(_CLAIMS.c.conversation.in_(conversations))
    with engine.begin() as conn:
        return conn.execute(stmt).rowcount


def lapse_claims_of_dead(engine: Engine, is_dead: Callable[[str], bool], now: datetime | None = None) -> list[str]:
    """Lapse at once the live claims of holders `is_dead` says are gone (a dead process on this machine)."""
    now = now or utcnow()
    with engine.connect() as conn:
        owners = list(conn.scalars(_LIVE_OWNERS, {"p_now": now}))
    dead = [owner for owner in owners if is_dead(owner)]
    if dead:
        with engine.begin() as conn:
            conn.execute(update(_CLAIMS).where(_CLAIMS.c.owner.in_(dead), _CLAIMS.c.expires_at >= now).values(expires_at=LAPSED))
    return dead


def purge_stale(engine: Engine, now: datetime | None = None, older_than: timedelta = timedelta(minutes=1)) -> int:
    """Delete lapsed claims of conversations with no open event left (e.g. erased meanwhile): the table
    holds conversation keys, which name people, only while they are being worked on."""
    now = now or utcnow()
    has_open = select(_EVENTS.c.id).where(_EVENTS.c.conversation == _CLAIMS.c.conversation, _EVENTS.c.state.in_(EVENT_OPEN)).exists()
    with engine.begin() as conn:
        return conn.execute(delete(_CLAIMS).where(_CLAIMS.c.expires_at < now - older_than, ~has_open)).rowcount


def unclaimed_due_conversations(engine: Engine, owner: str, now: datetime | None = None, limit: int = 1000) -> list[str]:
    """Conversations with a due open event that no other live gateway holds (the periodic look)."""
    with engine.connect() as conn:
        return list(conn.scalars(_UNCLAIMED_DUE, {"p_now": now or utcnow(), "p_owner": owner, "p_limit": limit}))


def holders(engine: Engine) -> dict[str, str]:
    """conversation -> owner of every claim (tests, `bot status`-style tooling)."""
    with engine.connect() as conn:
        return dict(conn.execute(select(_CLAIMS.c.conversation, _CLAIMS.c.owner)).all())

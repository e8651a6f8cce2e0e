"""This database's installation id: the salt of every idempotency key sent to a platform.

LINE remembers an `X-Line-Retry-Key` for 24 hours per channel. Keys derived only from row ids
(event 1, outbox row 1, ...) would be the same for a fresh database on the same channel (staging
and production, or a reset), and LINE would refuse the new messages as duplicates. The id lives in
the database, not in a host file, so every gateway and scheduler sharing the database derives the
same keys; it is created once, on first use, by whichever process gets there first.
"""

from __future__ import annotations

import uuid
import weakref

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models.base import utcnow
from storage.models.channels import Installation

_cache: weakref.WeakKeyDictionary[Engine, uuid.UUID] = weakref.WeakKeyDictionary()


def _engine_of(bind: Engine | Connection | Session) -> Engine:
    if isinstance(bind, Session):
        return _engine_of(bind.connection())
    if isinstance(bind, Connection):
        return bind.engine
    return bind


def _read_or_create(conn: Connection) -> str:
    table = Installation.__table__
    value = conn.scalar(select(table.c.installation_id).where(table.c.id == 1))
    if value is None:
        # insert-if-absent: whichever process gets there first wins, the others read its id
        stmt = (postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)
        conn.execute(stmt.values(id=1, installation_id=str(uuid.uuid4()), created_at=utcnow()).on_conflict_do_nothing())
        value = conn.scalar(select(table.c.installation_id).where(table.c.id == 1))
    return str(value)


def installation_id(bind: Engine | Connection | Session) -> uuid.UUID:
    """The installation id of the database behind `bind` (created on first use; cached per engine).

    Given a session or connection, it is read (or created) inside that transaction, so that a
    caller holding SQLite's write lock does not wait for itself.
    """
    engine = _engine_of(bind)
    cached = _cache.get(engine)
    if cached is not None:
        return cached
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            value = _read_or_create(conn)
    else:
        value = _read_or_create(bind.connection() if isinstance(bind, Session) else bind)
    result = uuid.UUID(value)
    _cache[engine] = result
    return result


def salted_key(salt: uuid.UUID, name: str) -> str:
    """A UUID for the idempotency key `name`, unique to this installation (LINE wants a UUID)."""
    return str(uuid.uuid5(salt, name))

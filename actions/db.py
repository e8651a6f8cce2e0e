"""Database access for actions: one unit of work per action run.

Tests point actions at their own database with `use_engine(engine)`.

Inside `unit_of_work()` (actions/idempotency.py opens one around a side-effecting action)
every `session()` is that one session and nothing is committed until the unit ends: the
action's changes and the record of what it answered commit together, or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from storage.db import get_engine, session_scope

_override: Engine | None = None


@dataclass
class Unit:
    """The transaction of a side-effecting action; `failed` once an error escaped one of its `session()` blocks."""

    session: Session
    failed: bool = False


_unit: ContextVar[Unit | None] = ContextVar("actions_unit_of_work", default=None)


def use_engine(engine: Engine | None) -> None:
    global _override
    _override = engine


def engine() -> Engine:
    return _override if _override is not None else get_engine()


@contextmanager
def session() -> Iterator[Session]:
    unit = _unit.get()
    if unit is not None:
        try:
            yield unit.session  # committed (or rolled back) when the unit of work ends
        except BaseException:
            unit.failed = True  # on its own this block would have rolled back: the unit will
            raise
        return
    with session_scope(engine()) as s:
        yield s


def in_unit_of_work() -> bool:
    return _unit.get() is not None


@contextmanager
def unit_of_work() -> Iterator[Unit]:
    """One transaction shared by every `session()` opened inside it; commits when the block ends without error."""
    if _unit.get() is not None:
        raise RuntimeError("a unit of work is already open")
    with session_scope(engine()) as s:
        unit = Unit(s)
        token = _unit.set(unit)
        try:
            yield unit
        finally:
            _unit.reset(token)

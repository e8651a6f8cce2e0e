"""Database access for actions: one unit of work per action run.

Tests point actions at their own database with `use_engine(engine)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from storage.db import get_engine, session_scope

_override: Engine | None = None


def use_engine(engine: Engine | None) -> None:
    global _override
    _override = engine


def engine() -> Engine:
    return _override if _override is not None else get_engine()


@contextmanager
def session() -> Iterator[Session]:
    with session_scope(engine()) as s:
        yield s

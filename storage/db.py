"""Engine and session handling (SQLAlchemy 2).

SQLite is the embedded default (WAL, foreign keys on, a busy timeout so the
gateway, action server and scheduler can share one file); PostgreSQL is chosen by
`DATABASE_URL`. Callers own transactions: `with session_scope() as s: ...`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from common.settings import get_settings

_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs (the driver this runtime installs)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_sqlite(url_or_engine: str | Engine) -> bool:
    url = url_or_engine.url if isinstance(url_or_engine, Engine) else make_url(normalise_url(url_or_engine))
    return url.get_backend_name() == "sqlite"


def _sqlite_pragmas(busy_timeout: float) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA secure_delete=ON")  # PDPA: deleted rows are overwritten, not left in free pages (docs/privacy.md)
        cursor.close()

    return on_connect


def make_engine(url: str, *, busy_timeout: float = 10.0, **kwargs: Any) -> Engine:
    """Create an engine with the project's settings for the given URL.

    `busy_timeout` (SQLite): seconds a write waits for another connection's write lock.
    """
    url = normalise_url(url)
    # Errors and logs never carry bound values: they are citizens' texts, phones and addresses.
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": busy_timeout}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout))
        if database and database != ":memory:":
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: the configured DATABASE_URL)."""
    if url is None:
        url = get_settings().database_url
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    engine = engine or get_engine()
    key = str(id(engine))
    if key not in _factories:
        _factories[key] = sessionmaker(engine, expire_on_commit=False)
    return _factories[key]


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on error."""
    with session_factory(engine)() as session, session.begin():
        yield session


def dispose_all() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    _factories.clear()

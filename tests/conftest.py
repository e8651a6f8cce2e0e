"""Shared fixtures.

`db_engine` runs a test once per database backend: SQLite always, PostgreSQL when
TEST_POSTGRES_URL points at a server (CI starts one; REQUIRE_POSTGRES=1 makes its
absence an error instead of a skip). Each test gets a fresh, migrated database.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from common import clock
from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from tests.clock import START

# Every test and every process a test starts runs on the injected clock (tests/clock.py).
clock.start_at(START)

# One template per test run (several runs may share one server).
_TEMPLATE_DB = f"bot_test_template_{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep every test away from the developer's var/ and .env."""
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("BOT_ENV_FILE", str(tmp_path / "no.env"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    from common.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dbtemplate") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


def _postgres_url() -> str | None:
    url = os.environ.get("TEST_POSTGRES_URL", "").strip()
    if not url:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL not configured (set TEST_POSTGRES_URL)")
    return url


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    from storage.db import normalise_url

    return make_url(normalise_url(url)).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[str]:
    base = _postgres_url()
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{_TEMPLATE_DB}"'))
        conn.execute(text(f'CREATE DATABASE "{_TEMPLATE_DB}"'))
    engine = make_engine(_with_database(base, _TEMPLATE_DB))
    upgrade(engine)
    engine.dispose()
    yield base
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{_TEMPLATE_DB}"'))
    admin.dispose()


def _fresh_postgres(base: str) -> tuple[Engine, callable]:
    name = f"bot_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATE_DB}"'))
    engine = make_engine(_with_database(base, name))

    def drop() -> None:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return engine, drop


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh migrated database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        engine = make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
    else:
        base = request.getfixturevalue("_postgres_template")
        engine, drop = _fresh_postgres(base)
        yield engine
        drop()


@pytest.fixture
def sqlite_engine(_sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A fresh migrated SQLite database (for tests that need only the embedded default)."""
    path = tmp_path / "test.db"
    shutil.copy(_sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def session(db_engine: Engine) -> Iterator[Session]:
    """A session on `db_engine`; the test owns its transactions."""
    with session_factory(db_engine)() as s:
        yield s


# Slow and destructive tests run last, in this order, each with its own timeout (not the
# suite-wide 300 s) unless the test sets one: see docs/testing.md.
_LAST = (("browser", 600), ("multiprocess", 600), ("kill", 600), ("live", 2400))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return max((i + 1 for i, (name, _) in enumerate(_LAST) if item.get_closest_marker(name)), default=0)

    for item in items:
        r = rank(item)
        if r and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(_LAST[r - 1][1]))
    items.sort(key=rank)  # stable: the order within each class is kept

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.settings import Settings, load_settings
from tests.channels.fakes import FakeLineApi, FakeRasa, ServerThread

LINE_SECRET = "test-line-secret"
TG_SECRET = "test-telegram-secret"
TG_TOKEN = "123456:TEST-token"


@pytest.fixture
def fake_rasa() -> Iterator[tuple[FakeRasa, ServerThread]]:
    rasa = FakeRasa()
    with ServerThread(rasa.app) as server:
        yield rasa, server


@pytest.fixture
def fake_line() -> Iterator[tuple[FakeLineApi, ServerThread]]:
    api = FakeLineApi()
    with ServerThread(api.app) as server:
        yield api, server


def make_settings(tmp_path: Path, **overrides) -> Settings:
    base = load_settings()
    return dataclasses.replace(base, database_url=f"sqlite:///{tmp_path / 'gw.db'}", **overrides)

"""`bot run` points Rasa at our tracker store (erasure and retention need it)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("database_url", ["", "postgresql://bot:pw@db.example:5433/bot"])
def test_rasa_gets_our_tracker_store(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.commands.run import rasa_endpoints_yaml
    from common.settings import load_settings

    if database_url:
        monkeypatch.setenv("DATABASE_URL", database_url)
    yaml = rasa_endpoints_yaml(load_settings())
    assert "tracker_store:\n  type: engine.tracker_store.GatewayTrackerStore\n" in yaml
    assert ("dialect: postgresql" in yaml and 'db: "bot_rasa"' in yaml) if database_url else "dialect: sqlite" in yaml

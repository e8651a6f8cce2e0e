"""The action server's warm-up (issue #20, cold start): the first law and service questions' work, nothing written."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from storage.db import session_scope
from storage.models.outbox import Outbox
from storage.models.services import ServiceRequest


def test_warm_up_renders_a_service_card_and_writes_nothing(services_db, caplog: pytest.LogCaptureFixture, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import actions.services
    from actions.server import warm_up

    cards: list[str] = []
    render = actions.services.utter_service_card
    monkeypatch.setattr(actions.services, "utter_service_card",
                        lambda dispatcher, session, service: (cards.append(service.name), render(dispatcher, session, service)))
    with caplog.at_level(logging.WARNING, logger="actions.server"):
        assert warm_up() > 0
    assert "warm-up failed" not in caplog.text
    assert cards == ["บัตรประจำตัวประชาชน"]  # the warm service question's own card
    with session_scope(services_db) as s:
        assert s.scalar(select(func.count()).select_from(Outbox)) == 0
        assert s.scalar(select(func.count()).select_from(ServiceRequest)) == 0

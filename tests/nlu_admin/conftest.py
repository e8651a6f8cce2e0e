"""Helpers for the NLU admin tests: store captured messages as the gateway would."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from storage.models.base import utcnow
from storage.nlu_capture import capture_values, insert_capture

SECRET = b"nlu-admin-test-secret"


def capture(engine: Engine, text: str, intent: str | None, confidence: float, *, user: str = "U1", channel: str = "line",
            entities: list[dict[str, Any]] | None = None, at: datetime | None = None, secret: bytes = SECRET) -> int:
    """Store one capture; returns its id."""
    from sqlalchemy import func, select

    from storage.models.nlu_capture import NluCapture

    values = capture_values(
        text=text, conversation=f"{channel}:{user}", metadata={"channel": channel, "user_id": user, "chat_id": user, "chat_type": "private"},
        nlu={"intent": intent, "confidence": confidence, "entities": entities or []}, secret=secret, now=at or utcnow(),
    )
    assert values is not None
    with engine.begin() as conn:
        insert_capture(conn, values)
        return conn.scalar(select(func.max(NluCapture.id)))


@pytest.fixture
def at() -> datetime:
    return utcnow() - timedelta(minutes=30)


@pytest.fixture
def fake_rasa():  # type: ignore[no-untyped-def]
    """The channel tests' fake Rasa (it answers with NLU's reading when asked, like GatewayInput)."""
    from tests.channels.fakes import FakeRasa, ServerThread

    rasa = FakeRasa()
    with ServerThread(rasa.app) as server:
        yield rasa, server

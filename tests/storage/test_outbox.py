from __future__ import annotations

from sqlalchemy import func, select

from storage.db import session_scope
from storage.models.outbox import CANCELLED, PENDING, Outbox
from storage.outbox import cancel_for_recipient, cancel_pending, enqueue


def test_enqueue_is_idempotent_and_cancellable(db_engine) -> None:
    with session_scope(db_engine) as s:
        first = enqueue(s, kind="reminder", channel="telegram", recipient="-100", text="ประชุม", idempotency_key="r:1", cause=("reminder", "1"))
        again = enqueue(s, kind="reminder", channel="telegram", recipient="-100", text="ประชุม", idempotency_key="r:1", cause=("reminder", "1"))
        assert first.id == again.id
        enqueue(s, kind="status", channel="line", recipient="U1", text="x", idempotency_key="s:1")
    with session_scope(db_engine) as s:
        assert s.scalar(select(func.count()).select_from(Outbox)) == 2
        assert cancel_pending(s, cause_type="reminder", cause_id="1") == 1
        assert cancel_for_recipient(s, channel="line", recipient="U1") == 1
    with session_scope(db_engine) as s:
        states = set(s.scalars(select(Outbox.state)))
        assert states == {CANCELLED}
        assert PENDING not in states

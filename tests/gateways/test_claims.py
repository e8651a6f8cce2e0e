"""Per-conversation claims (storage/claims.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from sqlalchemy import Engine

from common.instances import instance_name
from storage import claims
from storage.inbound import defer_reply, mark_retry, store_new_event
from storage.models.base import utcnow

A = "gw-a"
B = "gw-b"


def _store(engine: Engine, conversation: str, n: int = 1) -> list[int]:
    ids = []
    for _ in range(n):
        event = store_new_event(engine, channel="line", external_id=f"{conversation}-{len(ids)}-{utcnow().timestamp()}",
                                conversation=conversation, text="สวัสดีครับ", metadata={})
        assert event is not None
        ids.append(event.id)
    return ids


def test_one_holder_at_a_time(db_engine: Engine) -> None:
    first = _store(db_engine, "line:U1")[0]
    claimed = claims.claim_next(db_engine, "line:U1", A)
    assert claimed is not None and claimed.event.id == first and not claimed.taken_over
    assert claims.claim_next(db_engine, "line:U1", B) is None, "held by A"
    assert claims.claim(db_engine, "line:U1", A), "the holder renews its own claim"
    assert claims.holders(db_engine) == {"line:U1": A}


def test_lapsed_claim_is_taken_over_and_says_so(db_engine: Engine) -> None:
    first = _store(db_engine, "line:U1")[0]
    past = utcnow() - timedelta(seconds=30)
    assert claims.claim(db_engine, "line:U1", A, now=past)  # expired 20 s ago
    claimed = claims.claim_next(db_engine, "line:U1", B)
    assert claimed is not None and claimed.event.id == first and claimed.taken_over
    assert claims.holders(db_engine) == {"line:U1": B}
    assert claims.claim_next(db_engine, "line:U1", A) is None


def test_finish_keeps_the_claim_while_events_remain_then_releases(db_engine: Engine) -> None:
    e1, e2 = _store(db_engine, "line:U1", 2)
    assert claims.claim_next(db_engine, "line:U1", A).event.id == e1
    following = claims.finish_and_release(db_engine, e1, "line:U1", A)
    assert following is not None and following.id == e2
    assert claims.holders(db_engine) == {"line:U1": A}
    assert claims.finish_and_release(db_engine, e2, "line:U1", A) is None
    assert claims.holders(db_engine) == {}
    claimed = claims.claim_next(db_engine, "line:U1", B)
    assert claimed is None, "nothing open: no claim kept"
    assert claims.holders(db_engine) == {}


def test_event_stored_elsewhere_while_held_is_picked_up_on_release(db_engine: Engine) -> None:
    (e1,) = _store(db_engine, "line:U1")
    assert claims.claim_next(db_engine, "line:U1", A).event.id == e1
    (e2,) = _store(db_engine, "line:U1")  # gateway B stored it; its claim attempt fails
    assert claims.claim_next(db_engine, "line:U1", B) is None
    following = claims.finish_and_release(db_engine, e1, "line:U1", A)
    assert following is not None and following.id == e2, "A goes on with B's event"
    assert claims.holders(db_engine) == {"line:U1": A}
    assert claims.release(db_engine, "line:U1", A) is not None, "still open: kept"
    assert claims.finish_and_release(db_engine, e2, "line:U1", A) is None
    assert claims.release(db_engine, "line:U1", A) is None and claims.holders(db_engine) == {}


def test_event_waiting_for_retry_is_not_claimed(db_engine: Engine) -> None:
    (e1,) = _store(db_engine, "line:U1")
    assert claims.claim_next(db_engine, "line:U1", A) is not None
    assert mark_retry(db_engine, e1, "rasa: down", timedelta(seconds=60), 40)
    assert claims.release(db_engine, "line:U1", A) is None
    assert claims.claim_next(db_engine, "line:U1", B) is None
    assert claims.unclaimed_due_conversations(db_engine, B) == []
    assert claims.unclaimed_due_conversations(db_engine, B, now=utcnow() + timedelta(seconds=61)) == ["line:U1"]


def test_deferred_reply_keeps_order_behind_it(db_engine: Engine) -> None:
    e1, e2 = _store(db_engine, "line:U1", 2)
    assert claims.claim_next(db_engine, "line:U1", A).event.id == e1
    defer_reply(db_engine, e1, [{"text": "ตอบ"}], "line: 429", timedelta(seconds=30))
    assert claims.release(db_engine, "line:U1", A) is None, "e2 may not overtake e1"
    later = utcnow() + timedelta(seconds=31)
    claimed = claims.claim_next(db_engine, "line:U1", B, now=later)
    assert claimed is not None and claimed.event.id == e1 and claimed.event.replies == [{"text": "ตอบ"}]
    assert e2 > e1


def test_unclaimed_due_conversations_skip_live_claims_of_others(db_engine: Engine) -> None:
    _store(db_engine, "line:U1")
    _store(db_engine, "line:U2")
    _store(db_engine, "line:U3")
    assert claims.claim(db_engine, "line:U1", A)
    assert claims.claim(db_engine, "line:U2", B, now=utcnow() - timedelta(seconds=30))  # lapsed
    assert claims.unclaimed_due_conversations(db_engine, B) == ["line:U2", "line:U3"]
    assert claims.unclaimed_due_conversations(db_engine, A) == ["line:U1", "line:U2", "line:U3"]


def test_heartbeat_extends_and_reports_what_is_still_held(db_engine: Engine) -> None:
    _store(db_engine, "line:U1")
    _store(db_engine, "line:U2")
    past = utcnow() - timedelta(seconds=30)
    assert claims.claim(db_engine, "line:U1", A)
    assert claims.claim(db_engine, "line:U2", A, now=past)
    assert claims.claim_next(db_engine, "line:U2", B) is not None, "lapsed: taken over"
    assert claims.heartbeat(db_engine, A) == {"line:U1"}
    assert claims.still_held(db_engine, "line:U1", A) and not claims.still_held(db_engine, "line:U2", A)


def test_put_back_lets_others_take_over_at_once_as_a_takeover(db_engine: Engine) -> None:
    (e1,) = _store(db_engine, "line:U1")
    assert claims.claim_next(db_engine, "line:U1", A) is not None
    assert claims.put_back(db_engine, A) == 1
    claimed = claims.claim_next(db_engine, "line:U1", B)
    assert claimed is not None and claimed.event.id == e1 and claimed.taken_over


def test_claims_of_a_dead_local_gateway_lapse_at_once(db_engine: Engine) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    host, namespace, _, _ = instance_name().rsplit(":", 3)
    dead = f"{host}:{namespace}:{gone.stdout.strip()}:abc123"
    alive = instance_name()
    (e1,) = _store(db_engine, "line:U1")
    _store(db_engine, "line:U2")
    assert claims.claim(db_engine, "line:U1", dead)
    assert claims.claim(db_engine, "line:U2", "other-host:1:1:abc123")
    from common.instances import is_dead_local_owner

    assert claims.lapse_claims_of_dead(db_engine, is_dead_local_owner) == [dead]
    claimed = claims.claim_next(db_engine, "line:U1", alive)
    assert claimed is not None and claimed.event.id == e1 and claimed.taken_over
    assert claims.claim_next(db_engine, "line:U2", alive) is None, "another machine's claim waits for its lease"


def test_lapsed_claims_with_nothing_open_are_purged(db_engine: Engine) -> None:
    (e1,) = _store(db_engine, "line:U1")
    _store(db_engine, "line:U2")
    long_ago = utcnow() - timedelta(minutes=5)
    assert claims.claim(db_engine, "line:U1", A, now=long_ago)
    assert claims.claim(db_engine, "line:U2", A, now=long_ago)
    assert claims.claim(db_engine, "line:U3", A, now=long_ago)  # e.g. its events erased meanwhile
    mark_retry(db_engine, e1, "x", timedelta(seconds=1), 1)  # failed: nothing open left in line:U1
    assert claims.purge_stale(db_engine) == 2
    assert claims.holders(db_engine) == {"line:U2": A}, "open work keeps its (lapsed) claim for the taker-over"

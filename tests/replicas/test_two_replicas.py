"""Two real Rasa replicas (each with its action server), one gateway, PostgreSQL + Redis.

Started the way `bot run --rasa 2 --actions 2` starts them (`bot.commands.run.build_services`),
with the trained model (`models/current.tar.gz`). Signed LINE webhooks for a few conversations
go to the gateway, each conversation's messages one after another, while:

1. one replica is SIGKILLed (its conversations move to the other; it is started again, as
   `bot run`'s supervisor does);
2. a model is rolled out to both replicas, one at a time (`bot.nlu_admin.pipeline.rolling_load`,
   what `bot nlu deploy` runs with several replicas). The rolled-out model is a copy of the
   same model file under another name: the replicas then report that file (GET /status), which
   proves the load happened; training a second model would only cost CPU.

Then, read from Rasa's tracker store (PostgreSQL) and the gateway's database: every message was
handled by Rasa exactly once, per conversation in the order sent; every inbound event is done;
while a replica was marked loading, no turn was counted in flight on it (the gateway counts a
turn in Redis before sending it, in the same transaction that reads the replica's state). Both
replicas report the rolled-out model. No timing assertions (`python -m benchmarks.scale --part rasa`
prints the waits).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live.stack import MODEL, OrderedLineApi, sign_line
from tests.replicas.harness import Topology, replica_topology, start_service, wait_healthy

pytestmark = [pytest.mark.multiprocess, pytest.mark.postgres]

CONVERSATIONS = 4
TEXTS = ["สวัสดีครับ", "ทำบัตรประชาชนใช้อะไรบ้าง", "ขอบคุณครับ", "ต่อใบขับขี่ต้องทำอย่างไร", "กฎหมายคุ้มครองแรงงานว่าอย่างไร", "ลาก่อนครับ"]


@pytest.fixture
def topology() -> Iterator[Topology]:
    from tests.conftest import _postgres_url

    base = _postgres_url()
    redis_url = os.environ.get("TEST_REDIS_URL", "").strip()
    if not redis_url:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but TEST_REDIS_URL is not set")
        pytest.skip("Redis not configured (set TEST_REDIS_URL)")
    if not MODEL.exists():
        pytest.skip(f"no trained model at {MODEL}")
    with replica_topology(base, redis_url, OrderedLineApi(), replicas=2) as topo:
        yield topo


def _webhook(user: str, text: str) -> bytes:
    event = {"type": "message", "message": {"type": "text", "id": uuid.uuid4().hex[:12], "quoteToken": "q", "text": text},
             "webhookEventId": uuid.uuid4().hex, "deliveryContext": {"isRedelivery": False}, "timestamp": 1700000000000,
             "source": {"type": "user", "userId": user}, "replyToken": uuid.uuid4().hex, "mode": "active"}
    return json.dumps({"destination": "Utest", "events": [event]}, ensure_ascii=False).encode()


async def _load(gateway: str, users: list[str], between: threading.Event, after_first: int) -> None:
    """Each conversation sends TEXTS in order; after `after_first` messages each, `between` is set and awaited clear."""
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        async def conversation(user: str) -> None:
            for n, text in enumerate(TEXTS):
                if n == after_first:
                    while between.is_set():
                        await asyncio.sleep(0.2)
                body = _webhook(user, text)
                response = await client.post(f"{gateway}/webhooks/line", content=body,
                                             headers={"X-Line-Signature": sign_line(body), "Content-Type": "application/json"})
                assert response.status_code == 200, response.text
                await asyncio.sleep(1.0)

        await asyncio.gather(*(conversation(u) for u in users))


def _user_texts(database_url: str) -> dict[str, list[str]]:
    """Per Rasa sender: the user messages in its tracker, in the order Rasa stored them."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from storage.db import normalise_url

    url = make_url(normalise_url(database_url))
    engine = create_engine(url.set(database=f"{url.database}_rasa"))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT sender_id, data FROM events WHERE type_name = 'user' ORDER BY id")).all()
    engine.dispose()
    out: dict[str, list[str]] = {}
    for sender, data in rows:
        out.setdefault(sender, []).append(json.loads(data).get("text"))
    return out


def _done(database_url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from storage.db import make_engine, session_scope
    from storage.models.channels import InboundEvent

    engine = make_engine(database_url)
    with session_scope(engine) as s:
        states = dict(s.execute(select(InboundEvent.state, func.count()).group_by(InboundEvent.state)).all())
    engine.dispose()
    return states


def test_two_replicas_sigkill_then_rolling_deploy_under_load(topology: Topology) -> None:
    from bot.nlu_admin.pipeline import rolling_load, served

    users = [f"U{uuid.uuid4().hex}" for _ in range(CONVERSATIONS)]
    hold = threading.Event()  # conversations pause after their 2nd message until the killed replica is back
    hold.set()
    load = threading.Thread(target=lambda: asyncio.run(_load(topology.gateway_url, users, hold, after_first=2)), daemon=True)
    load.start()

    # 1. SIGKILL replica 1 while the first messages are handled; start it again as the supervisor would.
    time.sleep(2.0)
    victim = next(s for s in topology.services if s.name == "rasa-1")
    os.killpg(victim.process.pid, signal.SIGKILL)
    victim.process.wait()
    start_service(victim, topology.env, topology.dir / "var" / "logs")
    wait_healthy([victim])

    # 2. Roll a model out to both replicas, one at a time, while the conversations go on.
    rollout = topology.dir / "rolled-out.tar.gz"
    shutil.copy(MODEL, rollout)
    hold.clear()
    report = rolling_load(topology.urls, rollout, echo=print)
    load.join(timeout=900)
    assert not load.is_alive(), "the load did not finish"

    # Everything answered: every inbound event done (the worker retries a message whose replica died).
    deadline = time.monotonic() + 600
    total = CONVERSATIONS * len(TEXTS)
    while time.monotonic() < deadline and _done(topology.database_url).get("done", 0) < total:
        time.sleep(1.0)
    states = _done(topology.database_url)
    assert states == {"done": total}, states

    # 0 lost, 0 duplicated, order kept: each conversation's user messages in Rasa's tracker are TEXTS, once each, in order.
    trackers = [texts for texts in _user_texts(topology.database_url).values() if texts]
    assert len(trackers) == CONVERSATIONS, trackers
    for texts in trackers:
        assert texts == TEXTS

    # Nothing was in flight on a replica while it was marked loading; both serve the rolled-out model.
    assert [r["url"] for r in report] == topology.urls
    assert all(r["inflight_at_load"] == 0 and r["inflight_after_load"] == 0 for r in report), report
    assert all(Path(str(r["model_file"])).name == rollout.name for r in served(topology.urls)), served(topology.urls)
    # Every conversation got answers on LINE (replies or pushes), none to a stranger.
    to = {b.get("to") for b in topology.line.pushes} | set()
    assert to <= set(users) | {None}

"""Several gateway processes on one PostgreSQL database; one of them SIGKILLed under load.

Three real `bot gateway` processes share a fresh database, a fake Rasa (fixed latency,
deduplicating resumed messages by message id as Rasa's gateway channel does) and a fake LINE
API (single-use reply tokens, pushes deduplicated by X-Line-Retry-Key, as LINE does). Signed
LINE webhooks for many conversations go to all gateways, each conversation's messages one after
another to a different gateway each time; one gateway is SIGKILLed mid-load and its webhooks go
to the others (as LINE redelivers). Then:

- nothing is lost: every message is stored once and finished;
- each message is handled by Rasa exactly once (a message the dead gateway may have asked is
  asked again marked resumed and answered from the tracker, never handled twice);
- per conversation, Rasa handled the messages in the order they were sent;
- no person sees a reply twice; every reply arrived, except replies recorded "unknown": a reply
  token whose call the dead gateway began is not used again (docs/delivery.md), at most one per
  conversation it was handling when it died.

No timing assertions: the takeover time is printed by `python -m benchmarks.scale --part gateways`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from storage.db import session_scope
from storage.models.channels import InboundEvent
from storage.models.gateways import ConversationClaim
from tests.channels.fakes import FakeLineApi, FakeRasa, ServerThread, free_port

pytestmark = [pytest.mark.multiprocess, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "several-gateways-secret"
CONVERSATIONS = 30
MESSAGES = 8


@pytest.fixture
def pg_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A fresh migrated PostgreSQL database (skipped without TEST_POSTGRES_URL, like `db_engine`)."""
    from tests.conftest import _fresh_postgres

    engine, drop = _fresh_postgres(request.getfixturevalue("_postgres_template"))
    yield engine
    drop()


def _sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


TOKENS: dict[str, str] = {}  # reply token -> user
SENT: dict[str, tuple[str, str]] = {}  # webhook event id -> (user, the reply it should get)


def _webhook(user: str, text: str) -> bytes:
    token, event_id = uuid.uuid4().hex, uuid.uuid4().hex
    TOKENS[token] = user
    SENT[event_id] = (user, f"ตอบ: {text}")
    event = {"type": "message", "message": {"type": "text", "id": token[:12], "quoteToken": "q", "text": text},
             "webhookEventId": event_id, "deliveryContext": {"isRedelivery": False}, "timestamp": 1700000000000,
             "source": {"type": "user", "userId": user}, "replyToken": token, "mode": "active"}
    return json.dumps({"destination": "Utest", "events": [event]}, ensure_ascii=False).encode()


def _start_gateway(engine: Engine, tmp: Path, rasa_url: str, line_url: str, port: int, elsewhere: bool = False) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), DATABASE_URL=engine.url.render_as_string(hide_password=False), BOT_VAR_DIR=str(tmp),
               BOT_ENV_FILE=str(tmp / "no.env"), RASA_URL=rasa_url, LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN="test-token",
               LINE_API_BASE_URL=line_url, TELEGRAM_BOT_TOKEN="", RATE_LIMITS="off", GATEWAY_CLAIMS="auto")
    command = [sys.executable, "-m", "bot.cli", "gateway", "--host", "127.0.0.1", "--port", str(port)]
    if elsewhere:  # named as if on another machine: its conversations are taken over after the lease
        command = [sys.executable, str(Path(__file__).with_name("gateway_proc.py")), str(port), "elsewhere"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=(tmp / f"gateway-{port}.log").open("wb"))


def _wait(predicate, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _states(engine: Engine) -> Counter[str]:
    with session_scope(engine) as s:
        return Counter(dict(s.execute(select(InboundEvent.state, func.count()).group_by(InboundEvent.state)).all()))


async def _send_all(urls: list[str], alive: list[bool], users: list[str], rasa: FakeRasa, kill) -> None:  # type: ignore[no-untyped-def]
    """Each conversation sends its messages one after another (waiting for the webhook's 200, not the
    reply), message n of conversation c to gateway (c + n) % 3; a refused or broken webhook is sent again
    to the next live gateway, as LINE redelivers."""
    total = len(users) * MESSAGES
    async with httpx.AsyncClient(timeout=30) as client:

        async def conversation(c: int) -> None:
            for n in range(MESSAGES):
                body = _webhook(users[c], f"ข้อความ {n}")
                headers = {"x-line-signature": _sign(body), "Content-Type": "application/json"}
                target = (c + n) % len(urls)
                while True:
                    if alive[target]:
                        try:
                            response = await client.post(f"{urls[target]}/webhooks/line", content=body, headers=headers)
                            if response.status_code == 200:
                                break
                        except httpx.HTTPError:
                            pass
                    target = (target + 1) % len(urls)
                    await asyncio.sleep(0.01)
                if len(rasa.requests) >= total // 3:
                    kill()

        await asyncio.gather(*(conversation(c) for c in range(len(users))))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("elsewhere", [False, True], ids=["same-machine", "after-lease"])
def test_three_gateways_one_sigkilled_mid_load(pg_engine: Engine, tmp_path: Path, elsewhere: bool) -> None:
    rasa, line = FakeRasa(), FakeLineApi()
    rasa.delay = 0.05  # a fixed latency: conversations' queues build up, so claims change hands under load
    users = [f"U{uuid.uuid4().hex[:20]}{c:03d}" for c in range(CONVERSATIONS)]
    with ServerThread(rasa.app) as rasa_server, ServerThread(line.app) as line_server:
        ports = [free_port() for _ in range(3)]
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        gateways = [_start_gateway(pg_engine, tmp_path, rasa_server.url, line_server.url, p, elsewhere=elsewhere and i == 0)
                    for i, p in enumerate(ports)]
        alive = [True, True, True]
        killed: list[int] = []

        def kill() -> None:
            if not killed:
                alive[0] = False
                gateways[0].send_signal(signal.SIGKILL)
                killed.append(gateways[0].pid)

        try:
            for url, proc in zip(urls, gateways, strict=True):
                _wait(lambda url=url, proc=proc: proc.poll() is None and _healthy(url))
            asyncio.run(_send_all(urls, alive, users, rasa, kill))
            assert killed, "a gateway was killed under load"
            gateways[0].wait()
            total = CONVERSATIONS * MESSAGES
            _wait(lambda: sum(_states(pg_engine).values()) == total and _states(pg_engine)["done"] + _states(pg_engine)["failed"] == total)
            assert all(g.poll() is None for g in gateways[1:]), "the survivors keep running"
        finally:
            for proc in gateways:
                if proc.poll() is None:
                    proc.terminate()
            for proc in gateways:
                proc.wait(timeout=30)

    assert _states(pg_engine) == Counter({"done": total}), "every message stored once and finished"
    handled = Counter((b["sender"], b["message_id"]) for b in rasa.received)
    assert len(handled) == total and max(handled.values()) == 1, "each message handled by Rasa exactly once"
    by_sender: dict[str, list[str]] = defaultdict(list)
    for body in rasa.received:
        by_sender[body["sender"]].append(body["message"])
    assert len(by_sender) == CONVERSATIONS
    for texts in by_sender.values():
        assert texts == [f"ข้อความ {n}" for n in range(MESSAGES)], "per conversation, in the order sent"

    seen: Counter[tuple[str, str]] = Counter()
    for sent in line.replies + line.pushes:
        for message in sent["messages"]:
            if message.get("text", "").startswith("ตอบ: "):
                seen[(sent.get("to") or TOKENS[sent["replyToken"]], message["text"])] += 1
    assert max(seen.values()) == 1, "no reply seen twice"
    with session_scope(pg_engine) as s:
        unknown = set(s.scalars(select(InboundEvent.external_id).where(InboundEvent.reply_outcome == "unknown")))
        failed = s.scalar(select(func.count()).select_from(InboundEvent).where(InboundEvent.reply_outcome == "failed"))
        stored = set(s.scalars(select(InboundEvent.external_id)))
        left = s.scalar(select(func.count()).select_from(ConversationClaim))
    resumed = sum(1 for b in rasa.requests if b.get("resumed"))
    print(f"\n{total} messages; Rasa asked {len(rasa.requests)} times ({resumed} resumed), handled {len(rasa.received)}; "
          f"replies seen {sum(seen.values())}, recorded unknown {len(unknown)}")
    ours = {event_id for event_id, (user, _) in SENT.items() if user in set(users)}
    assert stored == ours
    assert failed == 0
    missing = {event_id for event_id in ours if seen[SENT[event_id]] == 0}
    assert missing <= unknown, "every reply arrived, but for replies recorded unknown (a reply token in use when killed)"
    assert len(unknown) <= CONVERSATIONS, "at most one per conversation the dead gateway was sending to"
    assert left == 0, "no claim left behind"

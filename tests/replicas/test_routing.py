"""Conversation affinity across Rasa replicas (connectors/rasa_client.py), against fake Rasa servers.

Rendezvous hashing pins each conversation to one replica; a replica that refuses connections or
is marked draining in Redis gets no new turns, its conversations go to their next choice and come
back when it serves again. The Redis part needs TEST_REDIS_URL (skipped without it).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter

import pytest

from connectors.rasa_client import DRAINING, RasaClient, RedisLite, RasaUnavailable, inflight_key, ranking, state_key
from tests.channels.fakes import FakeRasa, ServerThread, free_port

SENDERS = [f"line:U{n:04d}" for n in range(60)]


def test_ranking_is_stable_and_moves_only_the_removed_replicas_conversations() -> None:
    urls = ["http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"]
    first = {s: ranking(urls, s)[0] for s in SENDERS}
    assert len(set(first.values())) == 3  # spread over all replicas
    assert first == {s: ranking(list(reversed(urls)), s)[0] for s in SENDERS}  # independent of the list order
    without = {s: ranking(urls[:2], s)[0] for s in SENDERS}
    assert all(without[s] == first[s] for s in SENDERS if first[s] != urls[2])


def test_a_conversation_stays_on_its_replica_and_moves_when_that_one_is_down() -> None:
    fakes = [FakeRasa(), FakeRasa()]
    servers = [ServerThread(f.app).__enter__() for f in fakes]
    try:
        urls = [s.url for s in servers]
        dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused

        async def run() -> tuple[Counter[str], int]:
            client = RasaClient([*urls, dead])
            seen: Counter[str] = Counter()
            for sender in SENDERS:
                for n in range(2):
                    await client.ask(sender, "สวัสดี", {}, message_id=f"{sender}-{n}")
            rerouted = client.rerouted
            await client.aclose()
            for url, fake in zip(urls, fakes):
                for body in fake.received:
                    seen[body["sender"]] += 1
                    assert ranking([u for u in [*urls, dead] if u != dead], body["sender"])[0] == url
            return seen, rerouted

        seen, rerouted = asyncio.run(run())
        assert all(seen[s] == 2 for s in SENDERS)  # each message handled once, on one replica
        preferring_dead = [s for s in SENDERS if ranking([*urls, dead], s)[0] == dead]
        assert preferring_dead and rerouted >= 1
    finally:
        for server in servers:
            server.__exit__(None, None, None)


def test_one_replica_keeps_todays_behaviour() -> None:
    async def run() -> None:
        client = RasaClient(f"http://127.0.0.1:{free_port()}")
        with pytest.raises(RasaUnavailable):
            await client.ask("line:U1", "สวัสดี", {})
        await client.aclose()

    asyncio.run(run())


def test_a_draining_replica_gets_no_new_turns() -> None:
    redis_url = os.environ.get("TEST_REDIS_URL", "").strip()
    if not redis_url:
        pytest.skip("Redis not configured (set TEST_REDIS_URL)")
    from bot.nlu_admin.pipeline import _SyncRedis

    prefix = f"t{uuid.uuid4().hex[:10]}"
    fakes = [FakeRasa(), FakeRasa()]
    servers = [ServerThread(f.app).__enter__() for f in fakes]
    red = _SyncRedis(redis_url)
    try:
        urls = [s.url for s in servers]
        red.set(state_key(prefix, urls[0]), DRAINING)

        async def run() -> None:
            client = RasaClient(urls, redis_url=redis_url, key_prefix=prefix)
            for sender in SENDERS[:20]:
                await client.ask(sender, "สวัสดี", {}, message_id=sender)
            await RedisLite(redis_url).execute(("DEL", state_key(prefix, urls[0])))  # serving again: after the cache second its conversations come back
            client._states_at = -1e9  # noqa: SLF001 - skip the 1 s cache instead of waiting for it
            for sender in SENDERS[:20]:
                await client.ask(sender, "ขอบคุณ", {}, message_id=sender + "-2")
            await client.aclose()

        asyncio.run(run())
        assert all(b["message"] == "ขอบคุณ" for b in fakes[0].received)  # nothing while it drained
        back = [s for s in SENDERS[:20] if ranking(urls, s)[0] == urls[0]]
        assert back and sorted(b["sender"] for b in fakes[0].received) == sorted(back)
        assert int(red.get(inflight_key(prefix, urls[0])) or 0) == 0 and int(red.get(inflight_key(prefix, urls[1])) or 0) == 0
    finally:
        for url in urls:
            red.delete(state_key(prefix, url))
            red.delete(inflight_key(prefix, url))
        red.close()
        for server in servers:
            server.__exit__(None, None, None)

"""Talks to the Rasa server's gateway channel (engine/channel.py).

aiohttp (already underneath line-bot-sdk) rather than httpx: under 20-100
concurrent conversations httpx's per-request cost was the gateway's largest
overhead in benchmarks/gateway.py.

The gateway asks for NLU's reading of the message with the answer
(`"include_nlu": true`); a GatewayInput that knows this answers
`{"messages": [...], "nlu": {"intent", "confidence", "entities", "ranking"}}`, an
older one (or Rasa's REST channel) a plain list of messages. Both are read.

Every message carries a `message_id` that stays the same when it is asked again;
asking again is marked `resumed`, and the channel then answers from the tracker
instead of handling the message a second time (see engine/channel.py).

Several Rasa replicas (docs/deploy.md): each conversation (the Rasa sender id) goes to
one replica, chosen by rendezvous hashing over the replicas that serve, so two replicas
never take turns of one conversation at once (Rasa's RedisLockStore races otherwise).
A replica is skipped while it is

- down: a connection to it was refused or reset (skipped for `DOWN_SECONDS`, then tried again);
- draining or loading a model: a Redis key `<prefix>:rasa:state:<url>` says so, written by
  `bot nlu deploy` (bot/nlu_admin/pipeline.py). Gateways read it with a 1 s cache, and before
  each turn increment the replica's in-flight counter and read the state in one Redis
  transaction: the deployer sets the state first and then waits for the counter to reach 0,
  so a turn either sees the replica draining (and goes elsewhere) or is waited for.

A conversation whose replica is skipped moves to the next in its ranking; the tracker
store (PostgreSQL) is shared, so it continues there.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import redis.asyncio as redis_asyncio

from common.shared_secret import HEADER, shared_secret


class RasaUnavailable(Exception):
    """Rasa is down, slow or answered with a server error: try again later."""


class RasaError(Exception):
    """Rasa refused the message (4xx other than 429)."""


class _NotReached(RasaUnavailable):
    """The connection was refused: the message did not reach this replica."""


@dataclass(frozen=True)
class RasaAnswer:
    messages: list[dict[str, Any]]
    nlu: dict[str, Any] | None = None  # {"intent", "confidence", "entities", "ranking"} when Rasa sent it


def read_answer(body: Any) -> RasaAnswer:
    """Either shape: a plain list of messages, or {"messages": [...], "nlu": {...}}."""
    if isinstance(body, dict):
        nlu = body.get("nlu")
        return RasaAnswer(read_answer(body.get("messages")).messages, nlu if isinstance(nlu, dict) else None)
    return RasaAnswer([m for m in body if isinstance(m, dict)] if isinstance(body, list) else [])


SERVING, DRAINING, LOADING = "serving", "draining", "loading"
DOWN_SECONDS = 5.0  # a replica that refused a connection is skipped this long
STATE_CACHE_SECONDS = 1.0


def state_key(prefix: str, url: str) -> str:
    return f"{prefix}:rasa:state:{url}"


def inflight_key(prefix: str, url: str) -> str:
    return f"{prefix}:rasa:inflight:{url}"


def ranking(urls: Sequence[str], sender: str) -> list[str]:
    """Rendezvous (highest random weight) hashing: the replicas in the order this conversation prefers them.

    Removing a replica moves only the conversations it had; each goes to its own second choice.
    """
    def weight(url: str) -> int:
        return int.from_bytes(hashlib.sha256(f"{url}\x00{sender}".encode()).digest()[:8], "big")

    return sorted(urls, key=weight, reverse=True)


class RedisLite:
    """The few Redis commands the replicas' serving state needs, through redis-py's asyncio client.

    `execute` sends its commands in one round trip (a pipeline; `("MULTI",) … ("EXEC",)` around
    them makes it one transaction) and returns their replies in order.
    """

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        self._redis = redis_asyncio.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)

    async def execute(self, *commands: tuple[str | int, ...]) -> list[Any]:
        """Send the commands in one write; their replies in order (a MULTI … EXEC pair: one transaction, its
        replies as Redis gives them: "OK", "QUEUED" … and the list of results)."""
        transaction = bool(commands) and commands[0][:1] == ("MULTI",) and commands[-1][:1] == ("EXEC",)
        body = commands[1:-1] if transaction else commands
        async with self._redis.pipeline(transaction=transaction) as pipe:
            for command in body:
                pipe.execute_command(*command)
            results = await pipe.execute()
        if transaction:
            return ["OK", *(["QUEUED"] * len(body)), results]
        return list(results)

    async def close(self) -> None:
        await self._redis.aclose()


class RasaClient:
    def __init__(self, base_url: str | Sequence[str], timeout: float = 30.0, max_connections: int = 100, token: str = "",
                 redis_url: str = "", key_prefix: str = "thgovbot") -> None:
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.replicas = [u.strip().rstrip("/") for u in urls if u.strip()]
        self._url = self.replicas[0] + "/webhooks/gateway/webhook"
        self._headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=5)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._prefix = key_prefix
        self._redis_url = redis_url if len(self.replicas) > 1 else ""  # one replica: today's path, no Redis round trip
        self._redis: Any = None
        self._states: dict[str, str] = {}
        self._states_at = -1e9
        self._down_until: dict[str, float] = {}
        # per replica: turns sent; turns re-routed because the replica was down or not serving (exported by /metrics)
        self.turns: dict[str, int] = dict.fromkeys(self.replicas, 0)
        self.rerouted = 0

    def _redis_client(self) -> RedisLite:
        if self._redis is None:
            self._redis = RedisLite(self._redis_url)
        return self._redis

    async def states(self) -> dict[str, str]:
        """Each replica's state (serving | draining | loading), read from Redis at most once a second."""
        if not self._redis_url:
            return {}
        now = time.monotonic()
        if now - self._states_at >= STATE_CACHE_SECONDS:
            try:
                (values,) = await self._redis_client().execute(("MGET", *[state_key(self._prefix, u) for u in self.replicas]))
                self._states = {u: (v.decode() if v else SERVING) for u, v in zip(self.replicas, values)}
            except Exception as exc:  # noqa: BLE001 - Redis down: Rasa's lock store is down too
                raise RasaUnavailable(f"redis {type(exc).__name__}") from exc
            self._states_at = now
        return self._states

    def candidates(self, sender: str, states: dict[str, str]) -> list[str]:
        """The replicas this conversation may go to now, best first (serving and not seen down)."""
        now = time.monotonic()
        order = ranking(self.replicas, sender)
        usable = [u for u in order if states.get(u, SERVING) == SERVING and self._down_until.get(u, 0.0) <= now]
        if not usable and len(self.replicas) == 1:
            return order  # one replica: it is the only choice, whatever its state (today's behaviour)
        return usable

    async def _enter(self, url: str) -> bool:
        """Count a turn in flight on `url`; False (and uncounted) when the replica is not serving any more."""
        if not self._redis_url:
            return True
        try:
            *_, (_, state) = await self._redis_client().execute(
                ("MULTI",), ("INCR", inflight_key(self._prefix, url)), ("GET", state_key(self._prefix, url)), ("EXEC",))
            if state and state.decode() != SERVING:
                await self._leave(url)
                self._states[url] = state.decode()
                return False
            return True
        except Exception as exc:  # noqa: BLE001
            raise RasaUnavailable(f"redis {type(exc).__name__}") from exc

    async def _leave(self, url: str) -> None:
        if self._redis_url:
            try:
                await self._redis_client().execute(("DECR", inflight_key(self._prefix, url)))
            except Exception:  # noqa: BLE001 - the deployer's wait is capped: a lost decrement delays a roll-out, no turn
                pass

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, connector=aiohttp.TCPConnector(limit=self._max_connections), trust_env=False,
            )
        return self._session

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        return (await self.ask(sender, text, metadata)).messages

    async def ask(self, sender: str, text: str, metadata: dict[str, Any], message_id: str | None = None,
                  resumed: bool = False) -> RasaAnswer:
        """Rasa's messages for `text`, with NLU's reading of it when the channel provides one.

        `resumed`: this message (`message_id`) may have reached Rasa before; answer it from there if so.
        """
        body: dict[str, Any] = {"sender": sender, "message": text, "metadata": metadata, "include_nlu": True}
        if message_id:
            body["message_id"] = message_id
            body["resumed"] = resumed
        payload = json.dumps(body, ensure_ascii=False).encode()
        states = await self.states()
        tried: set[str] = set()
        while True:
            choices = [u for u in self.candidates(sender, states) if u not in tried]
            if not choices:
                raise RasaUnavailable("no Rasa replica is serving")
            url = choices[0]
            tried.add(url)
            if not await self._enter(url):
                self.rerouted += 1
                continue
            try:
                answer = await self._post(url, payload)
            except _NotReached:
                self._down_until[url] = time.monotonic() + DOWN_SECONDS
                self.rerouted += 1
                continue  # the message never reached it: the next replica in this conversation's ranking
            except RasaUnavailable:
                if len(self.replicas) > 1:
                    self._down_until[url] = time.monotonic() + DOWN_SECONDS
                raise  # it may have reached Rasa: the worker asks again (`resumed`), wherever the ranking says
            finally:
                await self._leave(url)
            self.turns[url] = self.turns.get(url, 0) + 1
            return answer

    async def _post(self, base: str, payload: bytes) -> RasaAnswer:
        try:
            async with self._client().post(base + "/webhooks/gateway/webhook", data=payload, headers=self._headers) as response:
                if response.status >= 500 or response.status == 429:
                    raise RasaUnavailable(f"HTTP {response.status}")
                if response.status >= 400:
                    raise RasaError(f"HTTP {response.status}")
                body = await response.json(content_type=None)
        except aiohttp.ClientConnectorError as exc:
            if len(self.replicas) > 1:
                raise _NotReached(type(exc).__name__) from exc
            raise RasaUnavailable(type(exc).__name__) from exc
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise RasaUnavailable(type(exc).__name__) from exc
        except ValueError as exc:  # not JSON: Rasa is not itself (a proxy error page)
            raise RasaUnavailable("invalid JSON") from exc
        return read_answer(body)

    async def erase(self, channel: str, user_id: str, conversations: list[str]) -> dict[str, int]:
        """Rasa forgets the person in these conversations and any other it finds (PDPA erasure; engine/privacy.py)."""
        return (await self._private("erase", {"channel": channel, "user_id": user_id, "conversations": conversations}))["deleted"]

    async def purge(self, before: float) -> dict[str, int]:
        """Rasa deletes tracker events of closed sessions and idle conversations older than `before` (epoch seconds)."""
        return await self._private("retention", {"before": before})

    async def _private(self, route: str, body: dict[str, Any]) -> Any:
        """Any one replica will do: the tracker store is shared. The first that answers."""
        headers = {"Content-Type": "application/json", HEADER: shared_secret()}
        error: RasaUnavailable | None = None
        for base in self.replicas:
            url = base + "/webhooks/gateway/" + route
            try:
                async with self._client().post(url, data=json.dumps(body, ensure_ascii=False).encode(), headers=headers) as response:
                    if response.status >= 400:
                        raise (RasaUnavailable if response.status >= 500 else RasaError)(f"HTTP {response.status}")
                    return await response.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                error = RasaUnavailable(type(exc).__name__)
        raise error or RasaUnavailable("no replica")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._redis is not None:
            await self._redis.close()

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
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from common.shared_secret import HEADER, shared_secret


class RasaUnavailable(Exception):
    """Rasa is down, slow or answered with a server error: try again later."""


class RasaError(Exception):
    """Rasa refused the message (4xx other than 429)."""


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


class RasaClient:
    def __init__(self, base_url: str, timeout: float = 30.0, max_connections: int = 100, token: str = "") -> None:
        self._url = base_url.rstrip("/") + "/webhooks/gateway/webhook"
        self._headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=5)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

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
        try:
            async with self._client().post(self._url, data=payload, headers=self._headers) as response:
                if response.status >= 500 or response.status == 429:
                    raise RasaUnavailable(f"HTTP {response.status}")
                if response.status >= 400:
                    raise RasaError(f"HTTP {response.status}")
                body = await response.json(content_type=None)
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
        url = self._url.rsplit("/", 1)[0] + "/" + route
        headers = {"Content-Type": "application/json", HEADER: shared_secret()}
        try:
            async with self._client().post(url, data=json.dumps(body, ensure_ascii=False).encode(), headers=headers) as response:
                if response.status >= 400:
                    raise (RasaUnavailable if response.status >= 500 else RasaError)(f"HTTP {response.status}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise RasaUnavailable(type(exc).__name__) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

"""Talks to the Rasa server's gateway channel (bot/rasa_channel.py)."""

from __future__ import annotations

from typing import Any

import httpx


class RasaUnavailable(Exception):
    """Rasa is down, slow or answered with a server error: try again later."""


class RasaClient:
    def __init__(self, base_url: str, timeout: float = 30.0, client: httpx.AsyncClient | None = None) -> None:
        self._url = base_url.rstrip("/") + "/webhooks/gateway/webhook"
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._owns_client = client is None

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            response = await self._client.post(self._url, json={"sender": sender, "message": text, "metadata": metadata})
        except httpx.HTTPError as exc:
            raise RasaUnavailable(type(exc).__name__) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise RasaUnavailable(f"HTTP {response.status_code}")
        response.raise_for_status()
        body = response.json()
        return body if isinstance(body, list) else []

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

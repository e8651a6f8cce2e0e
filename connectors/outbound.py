"""Outbound clients for proactive messages (used by the scheduler process)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from sqlalchemy import Engine

from common.settings import Settings
from connectors.channel import DeliveryError, quiet_loggers
from connectors.dbcall import db
from connectors.line import LineChannel
from connectors.telegram import TelegramChannel
from storage.db import get_engine
from storage.inbound import is_following, push_web_message


class OutboundClients:
    """`async with OutboundClients(settings) as clients: await clients.send(...)`."""

    def __init__(self, settings: Settings, channels: dict[str, Any] | None = None, engine: Engine | None = None) -> None:
        self.settings = settings
        self.channels = channels if channels is not None else {}
        self._owns = channels is None
        self._engine = engine

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = get_engine()
        return self._engine

    async def __aenter__(self) -> OutboundClients:
        quiet_loggers()  # Telegram URLs carry the bot token
        if self._owns:
            if self.settings.line_enabled:
                line = LineChannel(self.settings)
                await line.start()
                self.channels["line"] = line
            if self.settings.telegram_enabled:
                channel = TelegramChannel(self.settings, engine=self.engine, inbound=False)
                await channel.start()
                self.channels["telegram"] = channel
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._owns:
            for channel in self.channels.values():
                await channel.aclose()

    @property
    def local_only(self) -> bool:
        """No platform configured at all and the local chat on: the embedded try-out."""
        return self.settings.local_chat_enabled and not self.settings.line_enabled and not self.settings.telegram_enabled

    def supports(self, channel: str) -> bool:
        return channel == "web" or channel in self.channels or self.local_only

    async def send(self, channel: str, recipient: str, payload: dict[str, Any], *, retry_key: str, resend: bool = True) -> None:
        """Deliver one proactive message; raises DeliveryError (permanent or not) when it cannot.

        `resend`: this message was attempted before under the same key (a platform's "already
        accepted" then means delivered); a first attempt that meets one is an error, not silence.
        """
        if channel == "web":
            await db(self.engine, push_web_message, self.engine, recipient, dict(payload, buttons=payload.get("buttons") or []), retry_key)
            return
        client = self.channels.get(channel)
        if client is None:
            if self.local_only:
                # Trying the product without accounts: what would go to a LINE user or a
                # Telegram group appears in the local chat of that id (`bot shell --chat ID`).
                await db(self.engine, push_web_message, self.engine, recipient, dict(payload, buttons=payload.get("buttons") or []), retry_key)
                return
            raise DeliveryError(f"channel {channel} is not configured", permanent=True)
        if not await db(self.engine, is_following, self.engine, channel, recipient):
            raise DeliveryError("recipient unfollowed or the bot left the chat", permanent=True)
        await client.send(recipient, payload, retry_key, resend=resend)

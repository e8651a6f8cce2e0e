"""Outbound delivery for the scheduler: hands each message to the channel's client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from bot.scheduler.delivery import DeliveryError, OutgoingMessage, Sender
from common.settings import Settings
from connectors.outbound import OutboundClients

if TYPE_CHECKING:
    from sqlalchemy import Engine


@asynccontextmanager
async def build_sender(settings: Settings, engine: Engine | None = None) -> AsyncIterator[Sender]:
    """A sender backed by the gateway's outbound clients (connectors.outbound); `engine`: the store (default: settings')."""
    async with OutboundClients(settings, engine=engine) as clients:

        async def send(message: OutgoingMessage) -> None:
            if not clients.supports(message.channel):
                raise DeliveryError(f"channel {message.channel} is not configured", permanent=True)
            await clients.send(message.channel, message.recipient, message.payload, retry_key=message.retry_key,
                               resend=message.attempts > 1)

        yield send

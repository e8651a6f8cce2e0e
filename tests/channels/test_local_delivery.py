"""Without any platform account, proactive messages for LINE users and Telegram groups land in the local chat."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from connectors.channel import DeliveryError
from connectors.outbound import OutboundClients
from storage.db import make_engine
from storage.inbound import web_messages
from storage.migrate import upgrade
from tests.channels.conftest import make_settings


def test_local_try_out_delivers_to_the_local_chat_and_production_does_not(tmp_path) -> None:
    settings = make_settings(tmp_path, line_channel_secret="", line_channel_access_token="", telegram_bot_token="")
    engine = make_engine(settings.database_url)
    upgrade(engine)

    async def send(s) -> None:  # type: ignore[no-untyped-def]
        async with OutboundClients(s, channels={}, engine=engine) as clients:
            await clients.send("telegram", "-1005", {"text": "📥 คำร้องใหม่ REQ-000001"}, retry_key="k1")

    asyncio.run(send(settings))
    assert [p["text"] for _, p in web_messages(engine, "-1005", 0)] == ["📥 คำร้องใหม่ REQ-000001"]
    production = dataclasses.replace(settings, line_channel_secret="s", line_channel_access_token="t")
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(send(production))
    assert caught.value.permanent
    engine.dispose()

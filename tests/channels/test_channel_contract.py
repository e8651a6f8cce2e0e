"""Every adapter implements the one channel contract (connectors.channel.Channel)."""

from __future__ import annotations

import inspect

import pytest

from connectors.channel import Channel
from connectors.line import LineChannel
from connectors.telegram import TelegramChannel


@pytest.mark.parametrize("adapter", [LineChannel, TelegramChannel])
def test_adapter_implements_the_channel_protocol(adapter: type) -> None:
    assert issubclass(adapter, Channel)
    for name in ("start", "aclose", "webhook", "waiting", "deliver", "send"):
        assert inspect.iscoroutinefunction(getattr(adapter, name)), name
    assert list(inspect.signature(adapter.deliver).parameters) == ["self", "event", "replies", "tag"]


def test_a_class_missing_a_method_is_not_a_channel() -> None:
    class Half:
        async def deliver(self, event, replies, tag="reply"):  # type: ignore[no-untyped-def]
            return None

    assert not issubclass(Half, Channel)


def test_an_inbound_message_carries_the_speaker_and_its_conversation() -> None:
    from connectors.channel import InboundMessage

    inbound = InboundMessage(channel="line", kind="message", chat_id="Cgroup", chat_type="group", user_id="U1", text="สวัสดี",
                             extra={"postback": True})
    assert inbound.conversation == "line-group:Cgroup"
    assert inbound.metadata() == {"channel": "line", "user_id": "U1", "chat_id": "Cgroup", "chat_type": "group", "display_name": "",
                                  "postback": True}

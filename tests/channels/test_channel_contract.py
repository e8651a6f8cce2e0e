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
    assert inbound.conversation == "line-group:Cgroup:U1"  # each member of a group has a conversation of their own
    assert inbound.metadata() == {"channel": "line", "user_id": "U1", "chat_id": "Cgroup", "chat_type": "group", "display_name": "",
                                  "postback": True}


def test_line_events_are_read_with_the_sdks_typed_models() -> None:
    import json
    from pathlib import Path

    from linebot.v3.webhooks import GroupSource, MessageEvent, PostbackEvent, TextMessageContent

    from connectors.line import read_event

    payloads = Path(__file__).parent / "payloads"
    group = read_event(json.loads((payloads / "line_group_text.json").read_text(encoding="utf-8"))["events"][0])
    assert isinstance(group, MessageEvent) and isinstance(group.message, TextMessageContent) and isinstance(group.source, GroupSource)
    assert group.message.mention.mentionees[0].is_self is True
    postback = read_event(json.loads((payloads / "line_postback.json").read_text(encoding="utf-8"))["events"][0])
    assert isinstance(postback, PostbackEvent)


def test_a_line_message_the_sdk_cannot_validate_keeps_its_event() -> None:
    """An image without quoteToken (older platform payloads): the event stays, its content is generic."""
    import json
    from pathlib import Path

    from linebot.v3.webhooks import MessageEvent

    from connectors.line import read_event

    raw = json.loads((Path(__file__).parent / "payloads" / "line_image.json").read_text(encoding="utf-8"))["events"][0]
    event = read_event(raw)
    assert isinstance(event, MessageEvent) and event.message.type == "image" and event.reply_token == raw["replyToken"]
    assert read_event({"type": "message", "message": {"type": "text"}}) is None  # no source, no id: nothing to answer


def _line_events() -> list[dict]:
    import json
    from pathlib import Path

    return [raw for path in sorted((Path(__file__).parent / "payloads").glob("line_*.json"))
            for raw in json.loads(path.read_text(encoding="utf-8"))["events"]]


def test_the_quick_line_parser_builds_what_the_sdk_builds() -> None:
    """Plain texts and button presses skip pydantic's second pass; the objects equal the SDK's own, field by field."""
    from linebot.v3.webhooks import Event

    from connectors.line import _plain_event

    quick = 0
    for raw in _line_events():
        built = _plain_event(raw)
        if built is None:
            continue
        quick += 1
        full = Event.from_dict(raw)
        assert type(built) is type(full) and type(built.source) is type(full.source)
        assert built == full and built.to_dict() == full.to_dict()
    assert quick >= 4  # texts from a person, a batch, a room trigger and a postback take the quick path


@pytest.mark.parametrize("spoil", [
    lambda e: e.update(timestamp="1700000000000"),
    lambda e: e.update(timestamp=True),
    lambda e: e["deliveryContext"].update(isRedelivery="no"),
    lambda e: e["message"].update(text=42),
    lambda e: e["message"].pop("quoteToken"),
    lambda e: e["source"].update(type="unknown"),
    lambda e: e["source"].update(userId=7),
    lambda e: e.update(mode="sleeping"),
    lambda e: e["message"].update(emojis=[{"index": 0, "length": 6, "productId": "p", "emojiId": "e"}]),
])
def test_a_line_event_off_the_plain_shape_is_left_to_the_sdk(spoil, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import copy

    from connectors import line
    from connectors.line import _plain_event, read_event

    raw = copy.deepcopy(next(e for e in _line_events() if e["type"] == "message" and e["message"]["type"] == "text"
                             and e["source"]["type"] == "user"))
    assert _plain_event(raw) is not None
    spoil(raw)
    assert _plain_event(raw) is None
    read = read_event(raw)
    monkeypatch.setattr(line, "_plain_event", lambda raw: None)  # what the SDK alone makes of it
    assert read == read_event(raw)

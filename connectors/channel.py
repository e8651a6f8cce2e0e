"""The one contract every chat channel adapter implements (as Rasa's InputChannel/OutputChannel).

The gateway app and the scheduler only talk to adapters through `Channel`; a failed send is
always a `DeliveryError`, whatever the platform said.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from common.ids import sender_id
from connectors.text import clean_text

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from storage.inbound import Event


def quiet_loggers() -> None:
    """Telegram URLs carry the bot token; request logs would carry citizens' words."""
    for name in ("httpx", "httpcore", "telegram", "linebot", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)


@dataclass(frozen=True)
class InboundMessage:
    """One platform event read for the bot, before it is stored: the same shape from every adapter.

    `kind`: message | admin_command | unsupported | expired_button | follow | unfollow | join | leave.
    """

    channel: str
    kind: str
    chat_id: str
    chat_type: str  # private | group | room | supergroup
    user_id: str
    text: str = ""
    display_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # location, postback, callback, edited, reply_to_* ...

    @property
    def conversation(self) -> str:
        """The Rasa sender id of the conversation (common.ids.sender_id): per member in groups."""
        return sender_id(self.channel, self.chat_id, self.chat_type, self.user_id)

    def metadata(self) -> dict[str, Any]:
        """What travels with the message to Rasa and the actions (DESIGN.md: who spoke, where)."""
        return {"channel": self.channel, "user_id": self.user_id, "chat_id": self.chat_id, "chat_type": self.chat_type,
                "display_name": clean_text(self.display_name, 80)[0], **self.extra}  # names reach officials' groups too


class DeliveryError(Exception):
    """A failed send. `permanent` errors are not retried (4xx other than 429)."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float | None = None, unknown: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.unknown = unknown  # the platform may or may not have delivered it (the send was cut off)


@runtime_checkable
class Channel(Protocol):
    """A chat platform the gateway receives from and answers on (LINE, Telegram)."""

    async def start(self, state: Any = None) -> None:
        """Open clients (and, for polling channels, start receiving)."""

    async def aclose(self) -> None:
        """Close whatever `start` opened."""

    async def webhook(self, request: Request) -> Response:
        """Verify, store and acknowledge one platform webhook call."""

    async def waiting(self, event: Event) -> None:
        """Show that the bot is working on `event` (a typing or loading indicator)."""

    async def deliver(self, event: Event, replies: list[dict[str, Any]], tag: str = "reply") -> None:
        """Send channel-neutral replies (connectors.replies) in answer to `event`; raises DeliveryError.

        What went out is kept in `event.progress` and stored before each send (docs/delivery.md), so a
        retry or a restart resumes after the last part sent and never sends one twice.
        """

    async def send(self, recipient: str, payload: dict[str, Any], retry_key: str, *, resend: bool = True) -> None:
        """Send one follow-up (the scheduler's outbox row) to a conversation; raises DeliveryError.

        `resend`: the row was attempted before under `retry_key` (a platform's "already accepted" is then ours).
        """

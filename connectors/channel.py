"""The one contract every chat channel adapter implements (as Rasa's InputChannel/OutputChannel).

The gateway app and the scheduler only talk to adapters through `Channel`; a failed send is
always a `DeliveryError`, whatever the platform said.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from storage.inbound import Event


class DeliveryError(Exception):
    """A failed send. `permanent` errors are not retried (4xx other than 429)."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


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
        """Send channel-neutral replies (connectors.replies) in answer to `event`; raises DeliveryError."""

    async def send(self, recipient: str, payload: dict[str, Any], retry_key: str) -> None:
        """Send one follow-up (the scheduler's outbox row) to a conversation; raises DeliveryError."""

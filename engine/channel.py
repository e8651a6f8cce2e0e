"""Rasa input channel used by the gateway (engine runtime only; imports no app package).

Rasa's REST channel drops the request's `metadata`; this one passes it on, so
actions know who spoke in a group (`user_id`, `display_name`, ...). Enabled in
`credentials.yml`; the gateway posts to `/webhooks/gateway/webhook`.

When the request says `"include_nlu": true` the answer is
`{"messages": [...bot messages...], "nlu": {"intent", "confidence", "entities", "ranking"}}`
instead of the plain list, so the gateway can record what NLU made of the message
without a second round trip. The message is parsed once, here, with the loaded
model's own `parse_message`, and the result is handed to Rasa with the message
(`UserMessage.parse_data`), so Rasa does not parse it again. Without the flag the
answer is the REST channel's list, as before. Message text is never logged.

Exactly once: the gateway gives every message a `message_id` that stays the same
when it asks again. Asking again is marked `"resumed": true` (after a gateway
restart, or when an earlier attempt timed out and Rasa may have handled it
anyway); then, if the conversation's tracker already holds a user message with
that id, nothing is handled again: the bot messages that followed it are sent
back as they were (and its parse as `nlu`). The look happens under the
conversation's lock, so an attempt still in progress is waited for.

An action server lost during a turn: when the call to the action server breaks off (the
connection refused, reset or timed out), the action may have committed its work without
Rasa ever hearing back. Rasa would log it and carry on without the action's events,
saving a conversation that disagrees with storage. For a message with a `message_id`
the turn is abandoned instead, before anything is saved, and the gateway is answered
503: it asks again later, Rasa handles the message afresh, and the action (idempotent on
the message id, actions/idempotency.py) answers as it did, without acting twice.

Private routes for the gateway and scheduler (header `X-Gateway-Secret`, common.shared_secret):
`POST /webhooks/gateway/erase` forgets a person in the tracker store (PDPA erasure) and
`POST /webhooks/gateway/retention` purges old sessions (engine/privacy.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import logging
import os
from typing import Any

import aiohttp

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.request import Request

logger = logging.getLogger(__name__)

RANKING_SIZE = 3


def nlu_summary(parse_data: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of Rasa's parse result the gateway keeps: intent, confidence, entities, top alternatives."""
    if not isinstance(parse_data, dict):
        return None
    intent = parse_data.get("intent") or {}
    entities = []
    for entity in parse_data.get("entities") or []:
        if isinstance(entity, dict) and entity.get("entity"):
            value = entity.get("value")
            entities.append({
                "entity": entity.get("entity"),
                "start": entity.get("start"),
                "end": entity.get("end"),
                "value": value if isinstance(value, (str, int, float, bool)) else None,
                "extractor": entity.get("extractor"),
            })
    ranking = [
        {"name": r.get("name"), "confidence": float(r.get("confidence") or 0.0)}
        for r in (parse_data.get("intent_ranking") or [])[:RANKING_SIZE]
        if isinstance(r, dict)
    ]
    return {
        "intent": intent.get("name"),
        "confidence": float(intent.get("confidence") or 0.0),
        "entities": entities,
        "ranking": ranking,
    }


CHANNEL_TOKEN_ENV = "GATEWAY_CHANNEL_TOKEN"

# Set while a message the gateway will ask again (it has a message_id) is handled.
_ABANDON_ON_LOST_ACTION: contextvars.ContextVar[bool] = contextvars.ContextVar("abandon_on_lost_action", default=False)


class ActionServerLost(BaseException):
    """The action server broke off during an action: abandon the turn unsaved.

    A BaseException so that Rasa's `except Exception` around an action run (which would
    carry on without the action's events) lets it through, as it lets a cancellation
    through: the conversation's lock is released and the tracker is not saved.
    """


class TurnAbandoned(Exception):
    """The message was not handled (see ActionServerLost): the gateway should ask again."""


KEEPALIVE_SECONDS = 2.0  # under the action server's (Sanic's default 5 s): a kept connection is never one it just closed


class WatchedActionEndpoint:
    """Rasa's action endpoint over one kept-alive HTTP session, raising ActionServerLost when a call
    breaks off during a gateway message.

    Rasa 3.6 (`EndpointConfig.request`) opens a new `aiohttp.ClientSession`, so a new TCP
    connection, for every action call; here one session is kept per event loop (issue #20: the
    connection set-up on both sides, per action, for nothing). The request is Rasa's: the same
    headers, parameters, timeout, errors (`ClientResponseError` on an HTTP error) and JSON
    answer. An endpoint with basic auth or its own CA file keeps Rasa's own request.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        try:
            if self._can_keep_alive():
                return await self._kept_alive_request(*args, **kwargs)
            return await self.inner.request(*args, **kwargs)
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
            # (ClientConnectionError covers refused, reset and disconnected; a 4xx/5xx answer is not lost)
            if _ABANDON_ON_LOST_ACTION.get():
                raise ActionServerLost(type(exc).__name__) from exc
            raise

    async def aclose(self) -> None:
        """Close the kept-alive session (Rasa's server stopping): its connections end cleanly."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _can_keep_alive(self) -> bool:
        from rasa.utils.endpoints import EndpointConfig

        return isinstance(self.inner, EndpointConfig) and not self.inner.basic_auth and not self.inner.cafile

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                headers=self.inner.headers, connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS),
            )
            self._loop = loop
        return self._session

    async def _kept_alive_request(self, method: str = "post", subpath: str | None = None,
                                  content_type: str | None = "application/json", compress: bool = False, **kwargs: Any) -> Any:
        from aiohttp import ContentTypeError
        from rasa.utils.endpoints import ClientResponseError, concat_url

        headers: dict[str, str] = {}
        if content_type:
            headers["Content-Type"] = content_type
        headers.update(kwargs.pop("headers", None) or {})
        headers.update(self.inner.headers or {})
        params = self.inner.combine_parameters(kwargs)
        async with self._client().request(method, concat_url(self.inner.url, subpath), headers=headers, params=params,
                                          compress=compress, **kwargs) as answer:
            if answer.status >= 400:
                raise ClientResponseError(answer.status, answer.reason, await answer.content.read())
            try:
                return await answer.json()
            except ContentTypeError:
                return None


async def close_action_endpoint(agent: Any) -> None:
    """Close the watched action endpoint's session, if the agent has one."""
    endpoint = getattr(getattr(agent, "processor", None), "action_endpoint", None)
    if isinstance(endpoint, WatchedActionEndpoint):
        await endpoint.aclose()


def watch_action_endpoint(agent: Any) -> None:
    """Wrap the loaded processor's action endpoint once (a model reload brings a new processor)."""
    processor = getattr(agent, "processor", None)
    endpoint = getattr(processor, "action_endpoint", None)
    if endpoint is not None and not isinstance(endpoint, WatchedActionEndpoint):
        processor.action_endpoint = WatchedActionEndpoint(endpoint)


class GatewayInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "gateway"

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        body = request.json or {}
        metadata = body.get("metadata")
        return metadata if isinstance(metadata, dict) else None

    @staticmethod
    async def pre_parse(agent: Any, message: UserMessage) -> dict[str, Any] | None:
        """Parse with the agent's processor (None when no model is loaded or parsing fails: Rasa parses as usual)."""
        processor = getattr(agent, "processor", None)
        if processor is None or not message.text:
            return None
        try:
            return await processor.parse_message(message)
        except Exception as exc:  # noqa: BLE001 - never fail a message for the sake of the capture
            logger.warning("gateway channel: parse for capture failed (%s)", type(exc).__name__)
            return None

    @staticmethod
    async def earlier_answer(agent: Any, sender: str, message_id: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None] | None:
        """(bot messages, parse) Rasa gave when it handled `message_id` before; None if it never did."""
        tracker_store = getattr(agent, "tracker_store", None)
        if tracker_store is None:
            return None

        async def look() -> tuple[list[dict[str, Any]], dict[str, Any] | None] | None:
            tracker = await tracker_store.retrieve(sender)
            if tracker is None:
                return None
            found: UserUttered | None = None
            collector = CollectingOutputChannel()
            for event in tracker.events:
                if isinstance(event, UserUttered):
                    if found is not None:
                        break
                    if event.message_id == message_id:
                        found = event
                elif found is not None and isinstance(event, BotUttered):
                    await collector.send_response(sender, {"text": event.text, **(event.data or {})})
            if found is None:
                return None
            return collector.messages, found.parse_data

        lock_store = getattr(agent, "lock_store", None)
        if lock_store is None:
            return await look()
        async with lock_store.lock(sender):
            return await look()

    async def answer(self, body: dict[str, Any], metadata: dict[str, Any] | None, agent: Any, on_new_message: Any) -> Any:
        """Handle one message; the plain list of bot messages, or with `include_nlu` the dict shape."""
        with_nlu = body.get("include_nlu") is True
        message_id = body.get("message_id") if isinstance(body.get("message_id"), str) and body.get("message_id") else None
        if message_id is not None and body.get("resumed") is True and agent is not None:
            try:
                earlier = await self.earlier_answer(agent, body.get("sender"), message_id)
            except Exception as exc:  # noqa: BLE001 - cannot tell: handle it as a new message
                logger.warning("gateway channel: could not look for an earlier answer (%s)", type(exc).__name__)
                earlier = None
            if earlier is not None:
                messages, parse_data = earlier
                return {"messages": messages, "nlu": nlu_summary(parse_data)} if with_nlu else messages
        collector = CollectingOutputChannel()
        message = UserMessage(
            body.get("message"), collector, body.get("sender"), input_channel=body.get("input_channel") or self.name(),
            message_id=message_id, metadata=metadata,
        )
        parse_data = await self.pre_parse(agent, message) if with_nlu else None
        if parse_data is not None:
            message.parse_data = parse_data
        if message_id is not None and agent is not None:
            watch_action_endpoint(agent)
        token = _ABANDON_ON_LOST_ACTION.set(message_id is not None)
        try:
            await on_new_message(message)
        except ActionServerLost as lost:
            logger.error("gateway channel: the action server broke off (%s); turn abandoned, the gateway asks again", lost)
            raise TurnAbandoned(str(lost)) from None
        except asyncio.CancelledError:
            logger.error("gateway channel: message handling timed out")
        except Exception:  # noqa: BLE001 - as the REST channel: answer with what was collected
            logger.exception("gateway channel: message handling failed")
        finally:
            _ABANDON_ON_LOST_ACTION.reset(token)
        if not with_nlu:
            return collector.messages
        return {"messages": collector.messages, "nlu": nlu_summary(parse_data)}

    def blueprint(self, on_new_message: Any) -> Blueprint:
        gateway = Blueprint("custom_webhook_GatewayInput", __name__)

        @gateway.route("/", methods=["GET"])
        async def health(request: Request) -> Any:
            return response.json({"status": "ok"})

        # Channel blueprints are outside Rasa's HTTP API auth: the gateway proves itself with
        # its own key (common/internal_auth.py), passed to Rasa's process by `bot run`.
        # Without a configured key every message is refused (fail closed).
        token = os.environ.get(CHANNEL_TOKEN_ENV, "")

        @gateway.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> Any:
            if not token or not hmac.compare_digest(request.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()):
                return response.json({"error": "unauthorized"}, status=401)
            body = request.json or {}
            if request.args.get("stream", "").lower() == "true":
                return response.stream(
                    self.stream_response(on_new_message, body.get("message"), body.get("sender"), self.name(), self.get_metadata(request)),
                    content_type="text/event-stream",
                )
            agent = getattr(request.app.ctx, "agent", None)
            try:
                return response.json(await self.answer(body, self.get_metadata(request), agent, on_new_message))
            except TurnAbandoned:
                return response.json({"error": "action server unavailable; ask again"}, status=503)

        @gateway.route("/erase", methods=["POST"])
        async def erase(request: Request) -> Any:
            """PDPA erasure of one person in Rasa's tracker store (engine/privacy.py); the gateway's use-case calls it."""
            from engine.privacy import NoErasableStore, erase_person

            refused = _refused(request)
            if refused is not None:
                return refused
            body = request.json if isinstance(request.json, dict) else {}
            channel, user_id = body.get("channel"), body.get("user_id")
            if not isinstance(channel, str) or not channel or not isinstance(user_id, str) or not user_id:
                return response.json({"error": "channel and user_id are required"}, status=400)
            try:
                deleted = await erase_person(request.app.ctx.agent, channel, user_id, body.get("conversations") or [])
            except NoErasableStore as exc:
                return response.json({"error": f"tracker store {exc} cannot delete"}, status=501)
            return response.json({"deleted": deleted})

        @gateway.route("/retention", methods=["POST"])
        async def retention(request: Request) -> Any:
            """Purge tracker events past retention (`before`: epoch seconds); the scheduler calls it."""
            from engine.privacy import NoErasableStore, purge

            refused = _refused(request)
            if refused is not None:
                return refused
            body = request.json if isinstance(request.json, dict) else {}
            before = body.get("before")
            if not isinstance(before, (int, float)) or isinstance(before, bool):
                return response.json({"error": "before (epoch seconds) is required"}, status=400)
            try:
                return response.json(await purge(request.app.ctx.agent, float(before)))
            except NoErasableStore as exc:
                return response.json({"error": f"tracker store {exc} cannot delete"}, status=501)

        return gateway


def _refused(request: Request) -> Any:
    """403 unless the request carries the secret the gateway and Rasa share (constant-time compare)."""
    from common.shared_secret import HEADER, matches, shared_secret

    if not matches(request.headers.get(HEADER), shared_secret()):
        return response.json({"error": "forbidden"}, status=403)
    if getattr(request.app.ctx, "agent", None) is None:
        return response.json({"error": "no agent loaded"}, status=503)
    return None

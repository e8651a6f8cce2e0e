"""LINE Messaging API adapter (line-bot-sdk 3, async client).

Thin: verify the signature over the raw body, turn webhook events into stored
inbound events, and turn neutral replies into LINE messages (reply token first,
push when the token is used up or expired). No business logic here.
"""

from __future__ import annotations

import logging
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import Engine

from linebot.v3 import SignatureValidator
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    PushMessageRequest,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
)
from linebot.v3.webhooks import (
    DeliveryContext,
    Event as LineEvent,
    EventMode,
    FollowEvent,
    GroupSource,
    JoinEvent,
    LeaveEvent,
    LocationMessageContent,
    MessageContent,
    MessageEvent,
    PostbackContent,
    PostbackEvent,
    RoomSource,
    Source,
    TextMessageContent,
    UnfollowEvent,
    UserMentionee,
    UserSource,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from common.settings import Settings
from connectors.body import BodyTooLarge, load_json, read_body
from connectors.channel import DeliveryError, InboundMessage
from connectors import progress as progress_
from connectors.dbcall import db
from connectors.gateway_state import GatewayState
from connectors.render_line import to_line_messages
from connectors.text import clean_text
from storage.inbound import Event, set_following, store_new_event
from storage.installation import installation_id, salted_key

logger = logging.getLogger(__name__)

MAX_PER_REQUEST = 5
WELCOME = ("สวัสดีครับ ขอบคุณที่เพิ่มเพื่อนนะครับ 🙏 ผมเป็นผู้ช่วยบริการภาครัฐ ช่วยค้นหากฎหมาย บอกเอกสารและขั้นตอนของบริการ "
           "รับเรื่องร้องเรียน และติดตามคำร้องให้ได้ พิมพ์ถามได้เลย หรือพิมพ์ \"เมนู\" เพื่อดูสิ่งที่ช่วยได้ครับ\n"
           "ข้อความและข้อมูลที่คุณให้ไว้ใช้เพื่อให้บริการและส่งเรื่องถึงหน่วยงานที่รับผิดชอบเท่านั้น "
           "ขอดูหรือลบข้อมูลของคุณได้ทุกเมื่อด้วยการพิมพ์ \"ขอดูข้อมูลของฉัน\" หรือ \"ลบข้อมูลของฉัน\" (ตาม พ.ร.บ.คุ้มครองข้อมูลส่วนบุคคล)")
PHOTO_PAYLOAD = "/share_photo"
UNSUPPORTED = ("ขออภัยครับ ตอนนี้ผมอ่านได้เฉพาะข้อความ ตำแหน่งที่ตั้ง (แชร์โลเคชัน) และการกดปุ่มเมนูเท่านั้น "
               "รบกวนพิมพ์เป็นข้อความแทนนะครับ 🙏")


def read_event(raw: dict[str, Any]) -> LineEvent | None:
    """One webhook event as line-bot-sdk's typed model (what its WebhookParser yields); None when unreadable.

    A message whose content this SDK version cannot validate (payloads from before a field it
    requires, such as an image's quoteToken) keeps its event, with the content reduced to the
    SDK's generic MessageContent (type and id): the person still gets an answer.
    """
    common = _plain_event(raw)
    if common is not None:
        return common
    try:
        return LineEvent.from_dict(raw)
    except (ValueError, TypeError, KeyError) as exc:  # pydantic's ValidationError is a ValueError
        content = raw.get("message")
        if raw.get("type") != "message" or not isinstance(content, dict):
            logger.warning("LINE event of type %s not readable (%s); skipped", raw.get("type"), type(exc).__name__)
            return None
    try:
        return MessageEvent(
            source=Source.from_dict(raw["source"]) if raw.get("source") else None, timestamp=raw["timestamp"], mode=raw["mode"],
            webhookEventId=raw["webhookEventId"], deliveryContext=DeliveryContext.from_dict(raw["deliveryContext"]),
            replyToken=raw.get("replyToken"), message=MessageContent(type=str(content.get("type")), id=str(content.get("id") or "")),
        )
    except (ValueError, TypeError, KeyError) as exc:
        logger.warning("LINE message event not readable (%s); skipped", type(exc).__name__)
        return None


# Source type -> (SDK model, the field holding the chat id, that field's JSON name).
_SOURCES: dict[str, tuple[type[Source], str, str]] = {
    "user": (UserSource, "user_id", "userId"), "group": (GroupSource, "group_id", "groupId"), "room": (RoomSource, "room_id", "roomId"),
}


def _strings(raw: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...] = ()) -> bool:
    """Whether the required keys hold strings and the optional ones strings or null (pydantic's StrictStr)."""
    return all(isinstance(raw.get(key), str) for key in required) and all(
        raw.get(key) is None or isinstance(raw[key], str) for key in optional)


def _plain_event(raw: dict[str, Any]) -> MessageEvent | PostbackEvent | None:
    """The two events nearly every webhook carries (a plain text message, a button press) as the SDK's models, built directly.

    `LineEvent.from_dict` validates each nested model and then again, copying it, inside its
    parent: about 70 µs for one text message, a third of what the gateway spends on a message
    besides Rasa (profiled with `benchmarks.gateway --profile`). Here each field gets the
    same strict type check the SDK's model declares and the models are put together
    without a second pass (pydantic's `construct`), so the objects are equal to what
    `from_dict` returns (a test compares them). Anything else (mentions, emojis, other events,
    a field of an unexpected type) returns None and goes through the SDK's full validation.
    """
    kind = raw.get("type")
    if kind not in ("message", "postback"):
        return None
    source, context, content = raw.get("source"), raw.get("deliveryContext"), raw.get(kind)  # type: ignore[call-overload]
    if not isinstance(source, dict) or not isinstance(context, dict) \
            or not isinstance(content, dict) or type(raw.get("timestamp")) is not int or type(context.get("isRedelivery")) is not bool \
            or not _strings(raw, ("webhookEventId", "mode"), ("replyToken",)):
        return None
    source_model = _SOURCES.get(source.get("type"))  # type: ignore[arg-type]
    if source_model is None:
        return None
    model, id_field, id_key = source_model
    if not _strings(source, (id_key,) if id_key != "userId" else (), ("userId",)):
        return None
    try:
        mode = EventMode(raw["mode"])
    except ValueError:
        return None
    if kind == "message":
        if content.get("type") != "text" or "emojis" in content or "mention" in content \
                or not _strings(content, ("id", "text", "quoteToken"), ("quotedMessageId", "markAsReadToken")):
            return None
        body: dict[str, Any] = {"message": TextMessageContent.construct(
            type="text", id=content["id"], text=content["text"], emojis=None, mention=None, quote_token=content["quoteToken"],
            quoted_message_id=content.get("quotedMessageId"), mark_as_read_token=content.get("markAsReadToken"))}
    else:
        if "params" in content or not _strings(content, ("data",)):
            return None
        body = {"postback": PostbackContent.construct(data=content["data"], params=None)}
    ids = {"user_id": source.get("userId")} | ({id_field: source[id_key]} if id_field != "user_id" else {})
    return (MessageEvent if kind == "message" else PostbackEvent).construct(
        type=kind, source=model.construct(type=source["type"], **ids), timestamp=raw["timestamp"], mode=mode,
        webhook_event_id=raw["webhookEventId"], delivery_context=DeliveryContext.construct(is_redelivery=context["isRedelivery"]),
        reply_token=raw.get("replyToken"), **body)


def _is_redelivery(event: LineEvent) -> bool:
    return bool(event.delivery_context and event.delivery_context.is_redelivery)


def _is_group(chat_type: str) -> bool:
    return chat_type in ("group", "room")


def _source(event: LineEvent) -> tuple[str, str, str]:
    """(chat type, chat id, user id) of a LINE event source."""
    source = event.source
    user_id = getattr(source, "user_id", None) or ""
    if isinstance(source, GroupSource):
        return "group", source.group_id or "", user_id
    if isinstance(source, RoomSource):
        return "room", source.room_id or "", user_id
    return "private", user_id, user_id


def _without_self_mentions(message: TextMessageContent) -> tuple[str, bool]:
    """The text with @mentions of the bot cut out, and whether there was one."""
    text = message.text or ""
    mentionees = message.mention.mentionees if message.mention else []
    spans = [(m.index, m.length) for m in mentionees if isinstance(m, UserMentionee) and m.is_self]
    for index, length in sorted(spans, reverse=True):
        text = text[:index] + text[index + length:]
    return text.strip(), bool(spans)


def _addressed(text: str, triggers: list[str]) -> str | None:
    """Text that starts with a trigger word, without it; None when the bot is not addressed."""
    for word in triggers:
        if word and text.startswith(word):
            return text[len(word):].lstrip(" ,:：-") or text
    return None


def retry_key(salt: uuid.UUID, event_id: int, tag: str, offset: int) -> str:
    """A stable X-Line-Retry-Key for one push of one event's reply: a retried push is accepted once.

    Salted with the installation id (storage.installation): another database on the same LINE
    channel numbers its events from 1 too, and must not hit this installation's keys.
    """
    return salted_key(salt, f"line-event:{event_id}:{tag}:{offset}")


def request_timeout(settings: Settings) -> aiohttp.ClientTimeout:
    """Seconds for one call to LINE's API (line-bot-sdk's default is five minutes)."""
    connect, read = settings.outbound_connect_timeout, settings.outbound_read_timeout
    return aiohttp.ClientTimeout(total=connect + read, connect=connect, sock_read=read)


class LineChannel:
    """Inbound webhook handling and outbound messages for one LINE channel."""

    def __init__(self, settings: Settings, api_client: AsyncApiClient | None = None) -> None:
        if not settings.line_channel_secret or not settings.line_channel_access_token:
            raise ValueError("LINE needs LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN")
        self.settings = settings
        self.validator = SignatureValidator(settings.line_channel_secret)
        self.configuration = Configuration(access_token=settings.line_channel_access_token, host=settings.line_api_base_url)
        self.api_client = api_client
        self.api: AsyncMessagingApi | None = AsyncMessagingApi(api_client) if api_client else None
        self.timeout = request_timeout(settings)
        self.engine: Engine | None = None  # where reply progress is kept (set by start(state); None: memory only)
        self.salt = uuid.uuid4()  # replaced by the installation id when started with the gateway's store
        self.triggers = [w.strip() for w in settings.line_group_triggers.split(",") if w.strip()]

    async def start(self, state: object = None) -> None:
        """Open the API client (aiohttp needs a running event loop); with the gateway's state, use its store."""
        engine = getattr(state, "engine", None)
        if engine is not None:
            self.engine = engine
            self.salt = await db(engine, installation_id, engine)
        if self.api is None:
            self.api_client = AsyncApiClient(self.configuration)
            settle_environment(self.api_client, self.configuration.host)
            self.api = AsyncMessagingApi(self.api_client)

    async def aclose(self) -> None:
        if self.api_client is not None:
            await self.api_client.close()

    # ---------------------------------------------------------------- inbound
    async def webhook(self, request: Request) -> Response:
        state: GatewayState = request.app.state.gateway
        signature = request.headers.get("x-line-signature")
        if not signature:
            return JSONResponse({"error": "missing signature"}, status_code=400)
        try:
            body = await read_body(request, self.settings.max_body_bytes)
        except BodyTooLarge:
            return JSONResponse({"error": "body too large"}, status_code=413)
        if not self.validator.validate(body.decode("utf-8", errors="replace"), signature):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        if state.worker.overloaded:
            logger.warning("LINE webhook refused: backlog full")
            return JSONResponse({"error": "busy"}, status_code=503, headers={"Retry-After": "10"})
        try:
            payload = load_json(body)
            events = payload["events"]
            assert isinstance(events, list)
        except (ValueError, KeyError, AssertionError, TypeError):
            return JSONResponse({"error": "malformed body"}, status_code=400)
        stored: list[Event] = []
        for raw in events:
            event = read_event(raw) if isinstance(raw, dict) else None
            if event is not None and (new := await self._store(state, event)):
                stored.append(new)
        state.worker.stored(stored)
        return JSONResponse({"stored": len(stored)})

    async def _store(self, state: GatewayState, event: LineEvent) -> Event | None:
        """Store one event; the stored event when it is new, else None."""
        event_id = event.webhook_event_id or ""
        if not event_id:
            return None
        inbound = self._read(event)
        if inbound is None:
            return None
        kind, chat_type, chat_id, user_id = inbound.kind, inbound.chat_type, inbound.chat_id, inbound.user_id
        metadata = inbound.metadata()
        text, truncated = clean_text(inbound.text, self.settings.max_message_chars)
        if truncated:
            metadata["truncated"] = True
        conversation = inbound.conversation
        stored = await db(state.engine, store_new_event, state.engine, lane="ingest", quick=True, channel="line", external_id=event_id,
                          conversation=conversation, text=text, metadata=metadata, kind=kind, reply_token=getattr(event, "reply_token", None))
        if stored is None:
            logger.info("LINE event %s already stored (redelivery=%s)", event_id, _is_redelivery(event))
            return None
        logger.info("LINE event %s stored as %d (%s, %s)", event_id, stored.id, kind, chat_type)
        if kind in ("follow", "unfollow"):
            await db(state.engine, set_following, state.engine, "line", user_id, kind == "follow", lane="ingest")
        elif kind in ("join", "leave"):
            await db(state.engine, set_following, state.engine, "line", chat_id, kind == "join", lane="ingest")
        return stored

    def _read(self, event: LineEvent) -> InboundMessage | None:
        """One LINE event as an inbound message; None when it is not for the bot."""
        chat_type, chat_id, user_id = _source(event)
        if not chat_id:
            return None
        kind, text, extra = self._kind_text(event, chat_type)
        if kind is None:
            return None
        return InboundMessage(channel="line", kind=kind, chat_id=chat_id, chat_type=chat_type, user_id=user_id, text=text, extra=extra)

    def _kind_text(self, event: LineEvent, chat_type: str) -> tuple[str | None, str, dict[str, Any]]:
        """(kind, text for Rasa, extra metadata) of one LINE event; kind None = not for the bot.

        In groups and rooms only what addresses the bot goes on: an @mention of the
        bot, a text starting with a trigger word, a button press or a shared location.
        """
        group = _is_group(chat_type)
        if isinstance(event, MessageEvent):
            message = event.message
            if isinstance(message, TextMessageContent):
                text, mentioned = _without_self_mentions(message)
                if group and not mentioned:
                    addressed = _addressed(text, self.triggers)
                    if addressed is None:
                        return None, "", {}
                    text = addressed
                return "message", text, {}
            if isinstance(message, LocationMessageContent):
                location = {"latitude": message.latitude, "longitude": message.longitude,
                            "address": message.address or "", "title": message.title or ""}
                return "message", location["address"] or "ตำแหน่งที่ตั้ง", {"location": location}
            if group:
                return None, "", {}  # stickers and photos in a group are for the people there
            if message.type == "image" and message.id:
                # a photo goes to the bot as the share_photo intent with its LINE content id (evidence for a request,
                # fetched from LINE's content API by whoever needs it; the image itself is not stored here)
                return "message", PHOTO_PAYLOAD, {"photo": {"provider": "line", "message_id": str(message.id)}}
            return "unsupported", "", {"message_type": message.type}
        if isinstance(event, PostbackEvent):
            return "message", str(event.postback.data or "") if event.postback else "", {"postback": True}
        for typed, kind in ((FollowEvent, "follow"), (UnfollowEvent, "unfollow"), (JoinEvent, "join"), (LeaveEvent, "leave")):
            if isinstance(event, typed):
                return kind, "", {}
        return None, "", {}

    async def waiting(self, event: Event) -> None:
        """Rasa is slow to answer: LINE's loading animation (1:1 chats only; LINE has none for groups)."""
        if event.metadata.get("chat_type") == "private":
            await self.show_loading(str(event.metadata.get("chat_id")))

    async def show_loading(self, user_id: str) -> None:
        try:
            await self.api.show_loading_animation(ShowLoadingAnimationRequest(chat_id=user_id, loading_seconds=20),
                                                  _request_timeout=self.timeout)
        except Exception:  # noqa: BLE001 - a loading animation is a courtesy
            logger.debug("loading animation failed")

    # ---------------------------------------------------------------- outbound
    async def deliver(self, event: Event, replies: list[dict[str, Any]], tag: str = "reply") -> None:
        """Answer one stored event: its replies, or the fixed text for non-message events.

        The reply token carries the first 5 messages; the rest, or everything when the token is
        used up or expired, is pushed with retry keys salted per installation. What went out is
        stored before each call (event.progress, connectors.progress), so a retry, in this process
        or after a restart, resumes after the last part sent and never sends one twice.
        """
        if event.kind in ("follow", "join"):
            replies = [{"text": WELCOME, "buttons": [{"title": "ดูเมนู", "payload": "/help"}], "custom": None}]
        elif event.kind == "unsupported":
            replies = [{"text": UNSUPPORTED, "buttons": [], "custom": None}]
        elif event.kind in ("unfollow", "leave"):
            return
        messages = to_line_messages(replies)
        if not messages:
            return
        target = str(event.metadata.get("chat_id"))
        if tag != "reply":
            await self._courtesy(event, messages, target, tag)
            return
        progress = event.progress
        while progress.sent < len(messages):
            start = progress.sent
            end = min(len(messages), start + MAX_PER_REQUEST)
            if event.reply_token and progress.token != "used":
                if await self._reply_part(event, messages[start:end], end):
                    continue
            resend = await progress_.begin(self.engine, event, end)
            await self.push(target, messages[start:end], retry_key=retry_key(self.salt, event.id, tag, start), ours=resend)
            progress_.confirm(event, end)

    async def _reply_part(self, event: Event, messages: list[Any], end: int) -> bool:
        """Send messages with the reply token; True when they are settled, False to push them instead."""
        in_flight = await progress_.begin(self.engine, event, end, token=True)
        try:
            await self.api.reply_message(ReplyMessageRequest(reply_token=event.reply_token, messages=messages),
                                         _request_timeout=self.timeout)
        except ApiException as exc:
            if exc.status != 400:
                event.progress.token = None  # refused: the token is still unused
                progress_.not_sent(event)
                await progress_.write(self.engine, event)
                raise _delivery_error(exc) from exc
            # 400: the token is used up or expired
            event.progress.token = "used"
            if in_flight:  # an earlier call with it was cut off: it may have carried these messages
                progress_.skip_unknown(event, end)
                return True
            progress_.not_sent(event)
            return False
        except Exception as exc:  # noqa: BLE001 - cut off (timeout, connection lost): it may have arrived
            raise DeliveryError(f"LINE reply {type(exc).__name__}", unknown=True) from exc
        progress_.confirm(event, end, token=True)
        return True

    async def _courtesy(self, event: Event, messages: list[Any], target: str, tag: str) -> None:
        """A note while the person waits (tag "busy"): the reply token if unused, else a push."""
        progress = event.progress
        if event.reply_token and progress.token is None:
            progress.token = "trying"
            await progress_.write(self.engine, event)
            try:
                await self.api.reply_message(ReplyMessageRequest(reply_token=event.reply_token, messages=messages[:MAX_PER_REQUEST]),
                                             _request_timeout=self.timeout)
                progress.token = "used"
                await progress_.write(self.engine, event)
                messages = messages[MAX_PER_REQUEST:]
            except ApiException as exc:
                progress.token = "used" if exc.status == 400 else None
                await progress_.write(self.engine, event)
                if exc.status != 400:
                    raise _delivery_error(exc) from exc
            except Exception as exc:  # noqa: BLE001 - cut off: the token stays "trying" (the answer finds out)
                raise DeliveryError(f"LINE reply {type(exc).__name__}", unknown=True) from exc
        for start in range(0, len(messages), MAX_PER_REQUEST):
            await self.push(target, messages[start : start + MAX_PER_REQUEST], retry_key=retry_key(self.salt, event.id, tag, start))

    async def push(self, to: str, messages: list[Any], retry_key: str | None, *, ours: bool = True) -> None:
        """Push with LINE's retry key. A 409 (the key was accepted before) counts as delivered only when
        `ours`: this installation sent that key before; otherwise it is an error, never silence."""
        try:
            await self.api.push_message(PushMessageRequest(to=to, messages=messages), x_line_retry_key=retry_key,
                                        _request_timeout=self.timeout)
        except ApiException as exc:
            if exc.status == 409:
                if ours:
                    return  # our earlier attempt with this key was accepted: delivered once
                raise DeliveryError("LINE HTTP 409 for a retry key this installation had not sent", permanent=True) from exc
            raise _delivery_error(exc) from exc
        except Exception as exc:  # noqa: BLE001 - network trouble or a timeout: retried by the caller (same key)
            raise DeliveryError(f"LINE push {type(exc).__name__}") from exc

    async def send(self, recipient: str, payload: dict[str, Any], retry_key: str, *, resend: bool = True) -> None:
        """Proactive message (scheduler): push with LINE's retry key (a UUID from the outbox row).

        `resend`: the row was attempted before, so a 409 means that attempt was accepted.
        """
        reply = {"text": payload.get("text"), "buttons": payload.get("buttons") or [], "custom": payload.get("custom")}
        messages = to_line_messages([reply])
        for start in range(0, len(messages), MAX_PER_REQUEST):
            key = retry_key if start == 0 else str(uuid.uuid5(uuid.UUID(retry_key), str(start)))
            await self.push(recipient, messages[start : start + MAX_PER_REQUEST], retry_key=key, ours=resend)


def settle_environment(api_client: AsyncApiClient, host: str) -> None:
    """Read the proxy settings once instead of on every request.

    line-bot-sdk's aiohttp session trusts the environment, so aiohttp looks up the
    proxy variables and ~/.netrc again for every call, in a worker thread: two thread
    hops per reply, measurable in benchmarks.gateway. The session is replaced by one
    that does not, and a proxy that applies to the LINE API host (HTTPS_PROXY and
    NO_PROXY, as before) is set on the client once. Left as it is when the SDK's
    internals are not what this expects.
    """
    rest = getattr(api_client, "rest_client", None)
    session = getattr(rest, "pool_manager", None)
    if rest is None or not isinstance(session, aiohttp.ClientSession) or not hasattr(rest, "proxy"):
        return
    connector = session.connector
    session.detach()
    rest.pool_manager = aiohttp.ClientSession(connector=connector, trust_env=False)
    if not rest.proxy:
        parts = urlsplit(host)
        proxy = urllib.request.getproxies().get(parts.scheme or "https")
        if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
            rest.proxy = proxy


def _delivery_error(exc: ApiException) -> DeliveryError:
    """429 and 5xx are retried (after Retry-After when LINE gives one); other 4xx are dropped."""
    status = exc.status or 0
    headers = exc.headers or {}
    raw = headers.get("Retry-After") or headers.get("retry-after") or ""
    try:
        retry_after = float(raw) if raw else None
    except ValueError:
        retry_after = None
    permanent = 400 <= status < 500 and status != 429
    return DeliveryError(f"LINE HTTP {status}", permanent=permanent, retry_after=retry_after)

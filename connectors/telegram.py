"""Telegram Bot API adapter (python-telegram-bot 22).

Thin: turn updates into stored inbound events and neutral replies into Bot API
calls. Webhook mode checks `X-Telegram-Bot-Api-Secret-Token` in constant time
before reading the body; polling mode (no public URL needed) asks Telegram for
updates itself and confirms an offset only after the updates are stored. Either
way each update is stored once (by `update_id`) and answered by the worker.

Groups: the person who spoke travels in the metadata (user_id = from_user.id,
chat_id = chat.id) and has a conversation of their own (`telegram:<chat>:<user>`,
common.ids.sender_id); answers go to the group. The gateway takes what addresses the
bot (a command, an @mention, a reply to the bot, a button) and a message that names a
request or task ("REQ-000123 รับเรื่องแล้ว", "T-5 เสร็จแล้ว"), so officials can update
a request as they would tell a colleague; other group chatter is never answered.
Telegram only delivers the plain messages when the bot is a group admin or its
privacy mode is off (BotFather: /setprivacy -> Disable, then re-add the bot to the
group); with privacy mode on, commands, mentions and replies still work.
Anonymous group admins and channel posts (`sender_chat`, sent "from" a bot account)
are not a person: they are not read, so they can do nothing privileged.
Edited messages are read again as new text (the assistant answers the
correction). Callback data is limited to 64 bytes: longer button payloads go
through a short stored key.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

import httpx
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from telegram import Bot, BotCommand, LinkPreviewOptions, Message, Update, User
from telegram.constants import ChatAction, ChatMemberStatus, ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application

from common.ids import names_record, record_ids
from common.settings import Settings
from connectors.body import BodyTooLarge, load_json, read_body
from connectors.channel import DeliveryError, InboundMessage
from connectors import progress as progress_
from connectors.dbcall import db
from connectors.gateway_state import GatewayState
from connectors.payloads import COMMAND_INTENTS
from connectors.render_telegram import button_payloads, to_telegram_messages
from connectors.text import clean_text
from storage.inbound import Event, expand_payload, set_following, short_payload, store_new_event
from usecases.admin_commands import is_admin_command

logger = logging.getLogger(__name__)

COMMANDS = [
    ("help", "สิ่งที่บอทช่วยได้"),
    ("tasks", "ดูงานที่ยังไม่เสร็จ"),
    ("newtask", "สร้างงานใหม่ เช่น /newtask ร่างหนังสือ ภายในศุกร์หน้า"),
    ("remind", "ตั้งเตือน เช่น /remind พรุ่งนี้ 9 โมง ประชุม"),
    ("requests", "คำร้องของประชาชนที่รอหน่วยงานของฉัน"),
    ("reply", "ตอบประชาชน เช่น /reply REQ-000123 ข้อความ"),
    ("flag", "ให้ผู้ดูแลตรวจข้อความที่บอทเข้าใจผิด (ตอบกลับข้อความนั้น)"),
    ("obstacle", "แจ้งกฎหมายหรือขั้นตอนที่เป็นอุปสรรค เช่น /obstacle ใบอนุญาตก่อสร้าง : เหตุผล"),
    ("whoami", "ดูสิทธิ์ของฉัน"),
]
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
UNSUPPORTED = "ขออภัยครับ ผมอ่านได้เฉพาะข้อความ ตำแหน่งที่ตั้ง และการกดปุ่มเท่านั้น รบกวนพิมพ์เป็นข้อความนะครับ"
WELCOME_GROUP = ("สวัสดีครับ ผมเป็นผู้ช่วยประสานงานข้ามหน่วยงาน ช่วยติดตามงาน ตั้งเตือน และส่งต่อคำร้องของประชาชนให้กลุ่มนี้ได้ "
                 "พิมพ์ /help เพื่อดูคำสั่ง หรือ /tasks เพื่อดูงานที่ยังไม่เสร็จครับ")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
EXPIRED_BUTTON = "ปุ่มนี้หมดอายุแล้วครับ รบกวนพิมพ์สิ่งที่ต้องการอีกครั้งนะครับ"


def command_to_text(text: str) -> str:
    """Bot commands as the gateway reads them. /start, /help and /menu are the help payload; an officials'
    command stays a command, without the bot's name ("/newtask@thgov_bot ร่าง TOR" -> "/newtask ร่าง TOR"),
    and the gateway sends it to Rasa as its intent (connectors.payloads.rasa_message: never the classifier)."""
    if not text.startswith("/"):
        return text
    head, *more = text.split(maxsplit=1)
    command = head[1:].split("@")[0].lower()
    rest = more[0].strip() if more else ""
    if command in ("start", "help", "menu"):
        return "/help"
    if command in COMMAND_INTENTS:
        return f"/{command} {rest}".strip()
    return rest or text  # an unknown command: let the assistant read its words


def _is_group(chat_type: str) -> bool:
    return chat_type in ("group", "supergroup")


def _is_command(text: str) -> bool:
    return text.startswith("/")


def _is_reply_to_bot(message: Message, bot_id: int | None) -> bool:
    replied = message.reply_to_message
    return bool(replied and replied.from_user and bot_id is not None and replied.from_user.id == bot_id)


GROUP_ANONYMOUS_BOT_ID = 1087968824  # Telegram's stand-in user for an anonymous group admin
CHANNEL_BOT_ID = 136817688  # ... and for a message sent on behalf of a channel


def _is_anonymous(message: Message) -> bool:
    """Sent on behalf of a chat (an anonymous admin, a channel), not by a person."""
    user = message.from_user
    return message.sender_chat is not None or (user is not None and user.id in (GROUP_ANONYMOUS_BOT_ID, CHANNEL_BOT_ID))


def _with_quoted_record(text: str, message: Message, bot_id: int | None) -> str:
    """A reply to the bot's card that names no request or task ("รับครับ", "เสร็จแล้ว 🙏") is about the one
    the card names: the ID goes in front, as the official would have typed it ("REQ-000123 รับครับ")."""
    if not _is_reply_to_bot(message, bot_id) or names_record(text) or text.startswith("/"):
        return text
    replied = message.reply_to_message
    ids = record_ids((replied.text or replied.caption or "") if replied else "")
    return f"{ids[0]} {text}" if len(ids) == 1 else text


def _mentions(text: str, username: str | None) -> bool:
    return bool(username) and f"@{username}".lower() in text.lower()


def _retry_after_seconds(exc: RetryAfter) -> float:
    value = exc.retry_after
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)


def _inbound(kind: str, chat_id: int, chat_type: str, user: User | None, text: str, extra: dict[str, Any]) -> InboundMessage:
    return InboundMessage(channel="telegram", kind=kind, chat_id=str(chat_id), chat_type=chat_type, user_id=str(user.id) if user else "",
                          text=text, display_name=(user.full_name if user else "")[:80], extra=extra)


class TelegramChannel:
    def __init__(self, settings: Settings, engine: Engine | None = None, *, inbound: bool = True) -> None:
        """`inbound=False` for senders only (the scheduler): no webhook, no polling, no secret needed."""
        if not settings.telegram_bot_token:
            raise ValueError("Telegram needs TELEGRAM_BOT_TOKEN")
        if inbound and settings.telegram_mode not in ("polling", "webhook"):
            raise ValueError("TELEGRAM_MODE must be polling or webhook")
        if inbound and settings.telegram_mode == "webhook" and not settings.telegram_webhook_secret:
            raise ValueError("Telegram webhook mode needs TELEGRAM_WEBHOOK_SECRET")
        self.settings = settings
        self.engine = engine
        self.inbound = inbound
        # As in python-telegram-bot's custom-webhook example: no Updater; updates are handed over here.
        # timeouts of seconds for every Bot API call (getUpdates adds its long-poll time to the read timeout)
        connect, read = settings.outbound_connect_timeout, settings.outbound_read_timeout
        self.application = (Application.builder().token(settings.telegram_bot_token).base_url(settings.telegram_api_base_url)
                            .connect_timeout(connect).read_timeout(read).write_timeout(read).pool_timeout(connect)
                            .updater(None).build())
        self.bot: Bot = self.application.bot
        self._poller: asyncio.Task[None] | None = None
        self._started = False

    @property
    def username(self) -> str | None:
        return self.bot.username if self._started else None

    @property
    def bot_id(self) -> int | None:
        return self.bot.id if self._started else None

    async def start(self, state: GatewayState | None = None) -> None:
        if state is not None:
            self.engine = state.engine
        await self.application.initialize()  # getMe: checks the token
        self._started = True
        if state is not None and self.inbound and self.settings.telegram_mode == "polling":
            self._poller = asyncio.create_task(self._poll(state), name="telegram-polling")

    async def aclose(self) -> None:
        if self._poller:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        if self._started:
            await self.application.shutdown()

    # ---------------------------------------------------------------- inbound
    async def webhook(self, request: Request) -> Response:
        state: GatewayState = request.app.state.gateway
        secret = request.headers.get("x-telegram-bot-api-secret-token")
        if not self.settings.telegram_webhook_secret:
            return JSONResponse({"error": "webhook not configured"}, status_code=403)
        if secret is None:
            return JSONResponse({"error": "missing secret token"}, status_code=401)
        if not hmac.compare_digest(secret.encode(), self.settings.telegram_webhook_secret.encode()):
            return JSONResponse({"error": "bad secret token"}, status_code=403)
        try:
            body = await read_body(request, self.settings.max_body_bytes)
        except BodyTooLarge:
            return JSONResponse({"error": "body too large"}, status_code=413)
        if state.worker.overloaded:
            return JSONResponse({"error": "busy"}, status_code=503, headers={"Retry-After": "10"})  # Telegram retries
        try:
            update = Update.de_json(load_json(body), self.bot)
        except Exception:  # noqa: BLE001 - any malformed update is the sender's problem
            return JSONResponse({"error": "malformed update"}, status_code=400)
        if update is None:
            return JSONResponse({"error": "malformed update"}, status_code=400)
        stored = await self.store(state, update)
        if stored:
            state.worker.stored([stored])
        return JSONResponse({"stored": int(stored is not None)})

    async def _poll(self, state: GatewayState) -> None:
        """getUpdates in a loop; an offset is confirmed (next call) only once its updates are stored."""
        offset: int | None = None
        delay = 1.0
        while True:
            try:
                updates = await self.bot.get_updates(offset=offset, timeout=25, allowed_updates=ALLOWED_UPDATES)
                for update in updates:
                    stored = await self.store(state, update)
                    if stored:
                        state.worker.stored([stored])
                    offset = update.update_id + 1
                delay = 1.0
            except asyncio.CancelledError:
                raise
            except Conflict:
                logger.warning("Telegram polling refused: a webhook is set (run `bot telegram delete-webhook`) or another poller runs")
                await asyncio.sleep(30)
            except RetryAfter as exc:
                await asyncio.sleep(_retry_after_seconds(exc))
            except Exception as exc:  # noqa: BLE001 - network or storage trouble: nothing confirmed, try again
                logger.warning("Telegram polling error: %s", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(60.0, delay * 2)

    async def store(self, state: GatewayState, update: Update) -> Event | None:
        """Store one update; the stored event when it is new and for the bot, else None."""
        inbound = await self._read(state, update)
        if inbound is None:
            return None
        kind, chat_type = inbound.kind, inbound.chat_type
        text, truncated = clean_text(inbound.text, self.settings.max_message_chars)
        metadata = inbound.metadata()
        if truncated:
            metadata["truncated"] = True
        conversation = inbound.conversation
        stored = await db(state.engine, store_new_event, state.engine, lane="ingest", quick=True, channel="telegram",
                          external_id=str(update.update_id), conversation=conversation, text=text, metadata=metadata, kind=kind)
        if stored is None:
            logger.info("Telegram update %s already stored", update.update_id)
            return None
        logger.info("Telegram update %s stored as %d (%s, %s)", update.update_id, stored.id, kind, chat_type)
        return stored

    async def _read(self, state: GatewayState, update: Update) -> InboundMessage | None:
        """The update as an inbound message, or None when it is not for the bot."""
        if update.my_chat_member is not None:
            return await self._membership(state, update)
        callback = update.callback_query
        if callback is not None:
            if callback.message is None:
                return None
            try:
                await callback.answer()
            except TelegramError:
                pass
            text = await db(state.engine, expand_payload, state.engine, callback.data or "")
            chat = callback.message.chat
            kind = "message" if text else "expired_button"
            return _inbound(kind, chat.id, _chat_type(chat.type), callback.from_user, text, {"callback": True})
        message = update.message or update.edited_message
        if message is not None and _is_anonymous(message):
            return self._anonymous(message)
        if message is None or message.from_user is None or message.from_user.is_bot:
            return None
        chat_type = _chat_type(message.chat.type)
        extra: dict[str, Any] = {"edited": update.edited_message is not None}
        raw = message.text or ""
        if _is_group(chat_type) and not (_is_command(raw) or _mentions(raw, self.username) or _is_reply_to_bot(message, self.bot_id)
                                         or names_record(raw)):
            return None
        if message.location is not None:
            extra["location"] = {"latitude": message.location.latitude, "longitude": message.location.longitude, "address": "", "title": ""}
            venue = message.venue
            if venue is not None:
                extra["location"].update(address=venue.address or "", title=venue.title or "")
            return _inbound("message", message.chat.id, chat_type, message.from_user, extra["location"]["address"] or "ตำแหน่งที่ตั้ง", extra)
        if not raw:
            if _is_group(chat_type):
                return None  # photos and stickers in a group are for the people there
            return _inbound("unsupported", message.chat.id, chat_type, message.from_user, "", extra)
        text = raw.replace(f"@{self.username}", "").strip() if self.username else raw
        if is_admin_command(text):
            replied = message.reply_to_message.from_user if message.reply_to_message else None
            extra["reply_to_user_id"] = str(replied.id) if replied else None
            extra["reply_to_name"] = clean_text(replied.full_name, 80)[0] if replied else ""
            return _inbound("admin_command", message.chat.id, chat_type, message.from_user, text, extra)
        text = _with_quoted_record(text, message, self.bot_id)
        return _inbound("message", message.chat.id, chat_type, message.from_user, command_to_text(text), extra)

    def _anonymous(self, message: Message) -> InboundMessage | None:
        """An anonymous admin (or a channel) addressing the bot: a command that usecases refuse with an explanation.

        Telegram shows such a sender as GroupAnonymousBot with `sender_chat` set: there is no person whose
        rights could be checked, so nothing it sends may run as anyone's command or reach Rasa as a citizen.
        """
        raw = message.text or ""
        if not (_is_command(raw) or _mentions(raw, self.username) or _is_reply_to_bot(message, self.bot_id)):
            return None  # not for the bot
        text = raw.replace(f"@{self.username}", "").strip() if self.username else raw
        sender = message.sender_chat
        user = message.from_user
        return InboundMessage(channel="telegram", kind="admin_command", chat_id=str(message.chat.id), chat_type=_chat_type(message.chat.type),
                              user_id=str(user.id) if user else "", text=text or "/anonymous",
                              display_name=(sender.title or "") if sender else "", extra={"anonymous_admin": True})

    async def _membership(self, state: GatewayState, update: Update) -> InboundMessage | None:
        change = update.my_chat_member
        chat = change.chat
        joined = change.new_chat_member.status in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR)
        was_in = change.old_chat_member.status in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
        await db(state.engine, set_following, state.engine, "telegram", str(chat.id), joined, lane="ingest")
        if joined and not was_in and _is_group(_chat_type(chat.type)):
            return _inbound("join", chat.id, _chat_type(chat.type), change.from_user, "", {})
        return None

    # ---------------------------------------------------------------- outbound
    async def waiting(self, event: Event) -> None:
        """Rasa is slow to answer: show "typing…"."""
        await self.bot.send_chat_action(chat_id=str(event.metadata.get("chat_id")), action=ChatAction.TYPING)

    async def deliver(self, event: Event, replies: list[dict[str, Any]], tag: str = "reply") -> None:
        """Answer one stored event. Each message is recorded before it is sent (event.progress): a retry,
        here or after a restart, goes on after the last one sent; one cut off is not sent again."""
        if event.kind == "unsupported":
            replies = [{"text": UNSUPPORTED, "buttons": [], "custom": None}]
        elif event.kind == "expired_button":
            replies = [{"text": EXPIRED_BUTTON, "buttons": [], "custom": None}]
        elif event.kind == "join":
            replies = [{"text": WELCOME_GROUP, "buttons": [], "custom": None}]
        chat_type = str(event.metadata.get("chat_type") or "private")
        chat_id = str(event.metadata.get("chat_id"))
        messages = await self._render(replies, private=chat_type == "private")
        if tag != "reply":  # a courtesy note: no progress kept
            for text, markup in messages:
                await self._send_one(chat_id, text, markup)
            return
        progress = event.progress
        while progress.sent < len(messages):
            index = progress.sent
            if progress.trying > index:  # cut off earlier: Telegram has no idempotency key, so it is not sent twice
                progress_.skip_unknown(event, index + 1)
                continue
            await progress_.begin(self.engine, event, index + 1)
            text, markup = messages[index]
            try:
                await self._send_one(chat_id, text, markup)
            except DeliveryError as exc:
                if not exc.unknown:
                    progress_.not_sent(event)  # refused or never connected: it did not arrive
                raise
            progress_.confirm(event, index + 1)

    async def send(self, recipient: str, payload: dict[str, Any], retry_key: str, *, resend: bool = True) -> None:
        """Proactive message (scheduler). Telegram has no idempotency key; the outbox sends each row once."""
        reply = {"text": payload.get("text"), "buttons": payload.get("buttons") or [], "custom": payload.get("custom")}
        for text, markup in await self._render([reply], private=not recipient.startswith("-")):
            await self._send_one(recipient, text, markup)

    async def _short_keys(self, replies: list[dict[str, Any]]) -> dict[str, str]:
        """Stored short keys for button payloads over Telegram's 64-byte callback limit."""
        long = {p for p in button_payloads(replies) if len(p.encode()) > 64}
        if not long or self.engine is None:
            return {}
        return {p: await db(self.engine, short_payload, self.engine, p) for p in long}

    async def _render(self, replies: list[dict[str, Any]], private: bool) -> list[tuple[str, Any]]:
        keys = await self._short_keys(replies)
        return list(to_telegram_messages(replies, shorten=lambda p: keys.get(p, p), private=private))

    async def _send_one(self, chat_id: str, text: str, markup: Any) -> None:
        try:
            await self.bot.send_message(chat_id=chat_id, text=text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                        link_preview_options=NO_PREVIEW)
        except RetryAfter as exc:
            raise DeliveryError("Telegram 429", retry_after=_retry_after_seconds(exc)) from exc
        except (Forbidden, BadRequest) as exc:
            raise DeliveryError(f"Telegram {type(exc).__name__}", permanent=True) from exc
        except NetworkError as exc:  # includes timeouts and 5xx
            raise DeliveryError(f"Telegram {type(exc).__name__}", unknown=_cut_off(exc)) from exc

    async def set_commands(self) -> None:
        await self.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])


def _cut_off(exc: NetworkError) -> bool:
    """Did the request reach Telegram and lose its answer (it may have been delivered)?

    A refused or failed connection, or a wait for a pooled connection, never reached it; an
    error answer (5xx) reached it and was refused; a timed-out or broken read may have arrived.
    """
    cause = exc.__cause__
    if isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return False
    return isinstance(cause, httpx.TransportError)


def _chat_type(kind: str) -> str:
    return kind if kind in ("private", "group", "supergroup") else "group"

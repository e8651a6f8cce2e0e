"""Telegram Bot API adapter (python-telegram-bot 22).

Webhook mode checks `X-Telegram-Bot-Api-Secret-Token` in constant time; polling
mode asks Telegram for updates itself (no public URL needed). Either way each
update is stored once (by `update_id`) and answered by the worker. In groups the
person who spoke travels in the metadata; with privacy mode on (BotFather's
/setprivacy, the default) only commands, mentions and replies to the bot reach it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from telegram import Bot, BotCommand, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.scheduler.delivery import DeliveryError
from bot.settings import Settings
from connectors.dbcall import db
from connectors.admin_commands import is_admin_command
from connectors.gateway_state import GatewayState
from connectors.render_telegram import to_telegram_messages
from connectors.text import clean_text
from storage.inbound import Event, store_event

logger = logging.getLogger(__name__)

COMMANDS = [
    ("help", "สิ่งที่บอทช่วยได้"),
    ("tasks", "ดูงานที่ยังไม่เสร็จ"),
    ("newtask", "สร้างงานใหม่ เช่น /newtask ร่างหนังสือ ภายในศุกร์หน้า"),
    ("remind", "ตั้งเตือน เช่น /remind พรุ่งนี้ 9 โมง ประชุม"),
    ("whoami", "ดูสิทธิ์ของฉัน"),
]


def command_to_text(text: str) -> str:
    """Bot commands become what the assistant understands (Rasa reads '/x' as an intent name)."""
    if not text.startswith("/"):
        return text
    head, _, rest = text.partition(" ")
    command = head[1:].split("@")[0].lower()
    rest = rest.strip()
    if command in ("start", "help", "menu"):
        return "/help"
    if command == "tasks":
        return f"ดูงาน {rest}".strip() if rest else "/list_tasks"
    if command == "newtask":
        return f"สร้างงาน {rest}".strip()
    if command == "remind":
        return f"ช่วยเตือน {rest}".strip()
    return rest or text  # an unknown command: let the assistant read its words


class TelegramChannel:
    def __init__(self, settings: Settings, bot: Bot | None = None) -> None:
        if not settings.telegram_bot_token:
            raise ValueError("Telegram needs TELEGRAM_BOT_TOKEN")
        if settings.telegram_mode == "webhook" and not settings.telegram_webhook_secret:
            raise ValueError("Telegram webhook mode needs TELEGRAM_WEBHOOK_SECRET")
        self.settings = settings
        self.bot = bot or Bot(settings.telegram_bot_token, base_url=settings.telegram_api_base_url)
        self._poller: asyncio.Task[None] | None = None
        self.username: str | None = None

    async def start(self, state: GatewayState) -> None:
        await self.bot.initialize()
        self.username = self.bot.username if self.bot.bot else None
        if self.settings.telegram_mode == "polling":
            self._poller = asyncio.create_task(self._poll(state), name="telegram-polling")

    async def aclose(self) -> None:
        if self._poller:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        await self.bot.shutdown()

    # ---------------------------------------------------------------- inbound
    async def webhook(self, request: Request) -> Response:
        state: GatewayState = request.app.state.gateway
        secret = request.headers.get("x-telegram-bot-api-secret-token")
        if secret is None:
            return JSONResponse({"error": "missing secret token"}, status_code=401)
        if not hmac.compare_digest(secret.encode(), self.settings.telegram_webhook_secret.encode()):
            return JSONResponse({"error": "bad secret token"}, status_code=403)
        body = await request.body()
        if len(body) > self.settings.max_body_bytes:
            return JSONResponse({"error": "body too large"}, status_code=413)
        try:
            data = json.loads(body)
            update = Update.de_json(data, self.bot)
        except Exception:  # noqa: BLE001 - any malformed update is the sender's problem
            return JSONResponse({"error": "malformed update"}, status_code=400)
        if update is None:
            return JSONResponse({"error": "malformed update"}, status_code=400)
        stored = await self.store(state, update)
        if stored:
            state.worker.wake()
        return JSONResponse({"stored": stored})

    async def _poll(self, state: GatewayState) -> None:
        offset = None
        while True:
            try:
                updates = await self.bot.get_updates(offset=offset, timeout=25, allowed_updates=Update.ALL_TYPES)
                for update in updates:
                    if await self.store(state, update):
                        state.worker.wake()
                    offset = update.update_id + 1
            except asyncio.CancelledError:
                raise
            except TelegramError as exc:
                logger.warning("Telegram polling error: %s", type(exc).__name__)
                await asyncio.sleep(5)

    async def store(self, state: GatewayState, update: Update) -> int:
        message = update.message or update.edited_message
        callback = update.callback_query
        if callback is not None and callback.message is not None:
            chat, user = callback.message.chat, callback.from_user
            from storage.inbound import expand_payload

            text = await db(state.engine, expand_payload, state.engine, callback.data or "")
            extra: dict[str, Any] = {"callback": True}
            try:
                await callback.answer()
            except TelegramError:
                pass
        elif message is not None and message.from_user is not None:
            chat, user = message.chat, message.from_user
            extra = {"edited": update.edited_message is not None}
            if message.text:
                text = message.text
            elif message.location is not None:
                text = "ตำแหน่งที่ตั้ง"
                extra["location"] = {"latitude": message.location.latitude, "longitude": message.location.longitude, "address": "", "title": ""}
            else:
                text = ""
                extra["unsupported"] = True
        else:
            return 0
        if self.username:
            text = text.replace(f"@{self.username}", "").strip()
        kind = "unsupported" if extra.get("unsupported") else "message"
        if kind == "message" and is_admin_command(text):
            kind = "admin_command"
            extra["reply_to_user_id"] = (
                str(message.reply_to_message.from_user.id)
                if message is not None and message.reply_to_message is not None and message.reply_to_message.from_user
                else None
            )
            extra["reply_to_name"] = (
                message.reply_to_message.from_user.full_name
                if message is not None and message.reply_to_message is not None and message.reply_to_message.from_user
                else ""
            )
        elif kind == "message":
            text = command_to_text(text)
        text, _ = clean_text(text, self.settings.max_message_chars)
        chat_type = chat.type if chat.type in ("private", "group", "supergroup") else "group"
        metadata = {"channel": "telegram", "user_id": str(user.id), "chat_id": str(chat.id), "chat_type": chat_type,
                    "display_name": (user.full_name or "")[:80], **extra}
        stored = await db(state.engine, store_event, state.engine, lane="ingest", channel="telegram", external_id=str(update.update_id), conversation=f"telegram:{chat.id}",
            text=text, metadata=metadata, kind=kind,
        )
        return 0 if stored is None else 1

    # ---------------------------------------------------------------- outbound
    async def deliver(self, event: Event, replies: list[dict[str, Any]]) -> None:
        if event.kind == "unsupported":
            replies = [{"text": "ขออภัยครับ ผมอ่านได้เฉพาะข้อความ ตำแหน่งที่ตั้ง และการกดปุ่มเท่านั้น", "buttons": [], "custom": None}]
        await self._send(str(event.metadata.get("chat_id")), replies)

    async def send(self, recipient: str, payload: dict[str, Any], retry_key: str) -> None:
        reply = {"text": payload.get("text"), "buttons": payload.get("buttons") or [], "custom": payload.get("custom")}
        await self._send(recipient, [reply], trusted_html="text_html" in payload)

    async def _send(self, chat_id: str, replies: list[dict[str, Any]], trusted_html: bool = False) -> None:
        for text, markup in to_telegram_messages(replies):
            try:
                await self.bot.send_message(chat_id=chat_id, text=text, parse_mode="HTML", reply_markup=markup,
                                            disable_web_page_preview=True)
            except RetryAfter as exc:
                raise DeliveryError("Telegram 429", retry_after=float(exc.retry_after if isinstance(exc.retry_after, int | float) else exc.retry_after.total_seconds())) from exc
            except (Forbidden, BadRequest) as exc:
                raise DeliveryError(f"Telegram {type(exc).__name__}", permanent=True) from exc
            except NetworkError as exc:
                raise DeliveryError(f"Telegram {type(exc).__name__}") from exc

    async def set_commands(self) -> None:
        await self.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])

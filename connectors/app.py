"""The gateway web app (Starlette): webhooks, web chat, health, the admins' page.

`create_app()` wires settings, the database, the Rasa client and the channels
whose credentials are set; tests inject their own. Webhooks answer only after the
event is stored; the worker answers the person in the background.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from common import internal_auth
from common.settings import Settings, get_settings
from connectors import public_pages, webchat
from connectors.channel import Channel, quiet_loggers
from connectors.dbcall import db
from connectors.gateway_state import GatewayState
from connectors.line import LineChannel
from connectors.rasa_client import RasaClient
from connectors.telegram import TelegramChannel
from connectors.worker import Worker
from storage.db import get_engine, is_sqlite
from storage.inbound import Event, count_undelivered, counts_by_state
from storage.migrate import upgrade
from storage.pseudonyms import pseudonym_secret
from storage.ratelimits import parse_limits

logger = logging.getLogger(__name__)


def make_deliver(state_holder: dict[str, GatewayState]):  # type: ignore[no-untyped-def]
    async def deliver(event: Event, replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        state = state_holder["state"]  # only sends: commands ran where the message was handled (connectors.worker)
        if event.channel == "local":
            return replies  # web chat and `bot shell`: stored with the event, read by the page
        channel = state.channels.get(event.channel)
        if channel is None:
            logger.warning("event %d: channel %s is not enabled; reply dropped", event.id, event.channel)
            return []
        await channel.deliver(event, replies)
        return []

    return deliver


def make_busy_notice(state_holder: dict[str, GatewayState]):  # type: ignore[no-untyped-def]
    async def notify(event: Event, note: str) -> None:
        state = state_holder["state"]
        channel = state.channels.get(event.channel)
        if channel is not None and event.kind == "message":
            await channel.deliver(dataclasses.replace(event, text=""), [{"text": note, "buttons": [], "custom": None}], tag="busy")

    return notify


def make_waiting(state_holder: dict[str, GatewayState]):  # type: ignore[no-untyped-def]
    async def waiting(event: Event) -> None:
        channel = state_holder["state"].channels.get(event.channel)
        if channel is not None:
            await channel.waiting(event)

    return waiting


async def health(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway

    def ping() -> bool:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    try:
        await db(state.engine, ping)
    except Exception:  # noqa: BLE001 - health reports, never raises
        return JSONResponse({"status": "degraded", "database": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok", "backlog": state.worker.backlog})


async def metrics(request: Request) -> Response:
    """Prometheus text: counts only (no ids, no text, no names)."""
    state: GatewayState = request.app.state.gateway
    lines = ["# TYPE gateway_events gauge"]
    for name, value in sorted((await db(state.engine, counts_by_state, state.engine)).items()):
        lines.append(f'gateway_events{{state="{name}"}} {value}')
    lines.append("# TYPE gateway_worker_total counter")
    for name, value in sorted(state.worker.stats.items()):
        lines.append(f'gateway_worker_total{{what="{name}"}} {value}')
    lines.append("# HELP gateway_replies_undelivered Answers that did not (failed) or may not (unknown) reach the person.")
    lines.append("# TYPE gateway_replies_undelivered gauge")
    for outcome, value in sorted((await db(state.engine, count_undelivered, state.engine)).items()):
        lines.append(f'gateway_replies_undelivered{{outcome="{outcome}"}} {value}')
    lines.append("# TYPE gateway_channel_enabled gauge")
    for name in ("line", "telegram"):
        lines.append(f'gateway_channel_enabled{{channel="{name}"}} {int(name in state.channels)}')
    import json
    import re

    try:  # written by `bot run`'s supervisor (bot/commands/run.py); absent when the gateway runs alone
        parts = json.loads((state.settings.var_dir / "supervisor.json").read_text(encoding="utf-8")).get("parts") or {}
    except (OSError, ValueError, AttributeError):
        parts = {}
    lines.append("# TYPE supervisor_restarts_total counter")
    for name, part in sorted(parts.items()):
        if re.fullmatch(r"[a-z0-9_-]{1,40}", str(name)) and isinstance(part, dict):
            lines.append(f'supervisor_restarts_total{{part="{name}"}} {int(part.get("restarts") or 0)}')
    rasa = getattr(state.worker, "rasa", None)
    if isinstance(rasa, RasaClient):  # per Rasa replica (numbered in RASA_URLS order): turns sent, state seen
        lines.append("# TYPE gateway_rasa_turns_total counter")
        for n, url in enumerate(rasa.replicas, 1):
            lines.append(f'gateway_rasa_turns_total{{replica="{n}"}} {rasa.turns.get(url, 0)}')
        lines.append("# TYPE gateway_rasa_rerouted_total counter")
        lines.append(f"gateway_rasa_rerouted_total {rasa.rerouted}")
        try:
            seen = await rasa.states()
        except Exception:  # noqa: BLE001 - Redis down: reported by the absence of the gauge
            seen = {}
        lines.append("# TYPE gateway_rasa_replica_serving gauge")
        for n, url in enumerate(rasa.replicas, 1):
            lines.append(f'gateway_rasa_replica_serving{{replica="{n}",state="{seen.get(url, "serving")}"}} 1')
    return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


def enabled_channels(settings: Settings) -> dict[str, Channel]:
    """The adapters whose credentials are complete; a half-configured channel stays off, loudly."""
    channels: dict[str, Channel] = {}
    if settings.line_enabled:
        channels["line"] = LineChannel(settings)
    elif settings.line_channel_access_token or settings.line_channel_secret:
        logger.warning("LINE is off: both LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN are needed")
    if settings.telegram_enabled:
        channels["telegram"] = TelegramChannel(settings)  # raises in webhook mode without TELEGRAM_WEBHOOK_SECRET
    return channels


def uses_claims(settings: Settings, engine: Engine) -> bool:
    """Per-conversation claims (several gateways, docs/gateways.md): GATEWAY_CLAIMS on/off, or auto:
    on with PostgreSQL (any number of gateways may share it), off with SQLite (one gateway per database)."""
    if settings.gateway_claims in ("on", "true", "1", "yes"):
        return True
    if settings.gateway_claims in ("off", "false", "0", "no"):
        return False
    return not is_sqlite(engine)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    rasa: RasaClient | None = None,
    channels: dict[str, Channel] | None = None,
    poll_interval: float = 0.5,
    slow_after: float = 8.0,
    loading_after: float = 1.0,
    max_pending: int = 5000,
    concurrency: int = 32,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The gateway app; `extra_routes` come from the layer above (the admins' page, bot/nlu_admin/page.py)."""
    settings = settings or get_settings()
    quiet_loggers()
    if engine is None:
        engine = get_engine(settings.database_url)
        upgrade(engine)
    if channels is None:
        channels = enabled_channels(settings)
    holder: dict[str, GatewayState] = {}
    rasa = rasa or RasaClient(settings.rasa_urls if len(settings.rasa_urls) > 1 else settings.rasa_url,
                              token=internal_auth.service_key(settings.var_dir, internal_auth.GATEWAY_CHANNEL),
                              redis_url=settings.redis_url, key_prefix=settings.redis_key_prefix)
    capture_secret = None
    if settings.nlu_capture_retention_days > 0:  # 0 days: capture nothing

        try:
            capture_secret = pseudonym_secret(settings.var_dir)
        except OSError as exc:  # e.g. a read-only var/: answer people, capture nothing
            logger.warning("NLU capture is off: no pseudonym key (%s); set NLU_PSEUDONYM_SECRET", type(exc).__name__)
    worker = Worker(engine, rasa, make_deliver(holder), notify_busy=make_busy_notice(holder), waiting=make_waiting(holder),
                    poll_interval=poll_interval, loading_after=loading_after,
                    max_text=settings.max_message_chars, slow_after=slow_after, max_pending=max_pending,
                    log_text=settings.log_message_text, capture_secret=capture_secret,
                    capture_retention_days=settings.nlu_capture_retention_days, concurrency=concurrency,
                    channel_concurrency=settings.outbound_channel_concurrency, give_up_after=settings.reply_give_up_seconds,
                    rate_limits=parse_limits(settings.rate_limits), claims=uses_claims(settings, engine))
    state = GatewayState(settings=settings, engine=engine, worker=worker, channels=channels)
    holder["state"] = state

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for channel in channels.values():
            await channel.start(state)
        worker.start()
        try:
            yield
        finally:
            await worker.stop()
            for channel in channels.values():
                await channel.aclose()
            await rasa.aclose()

    routes = [
        Route("/healthz", health),
        Route("/metrics", metrics),
        *public_pages.routes(),  # /stats, /open-data/*, /laws: public, read-only, no personal data (issue #24)
        *extra_routes,
    ]
    if settings.local_chat_enabled:
        routes += [
            Route("/chat", webchat.page),
            Route("/api/chat/messages", webchat.post_message, methods=["POST"]),
            Route("/api/chat/messages", webchat.get_messages, methods=["GET"]),
            Mount("/static", StaticFiles(directory=str(webchat.STATIC)), name="static"),
        ]
    if "line" in channels:
        routes.append(Route("/webhooks/line", channels["line"].webhook, methods=["POST"]))
    if "telegram" in channels and settings.telegram_mode == "webhook":  # polling mode takes no webhook at all
        routes.append(Route("/webhooks/telegram", channels["telegram"].webhook, methods=["POST"]))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.gateway = state
    return app



"""`bot telegram set-webhook|delete-webhook|set-commands`: register the bot with Telegram."""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import asyncio

import click


def _bot():  # type: ignore[no-untyped-def]
    from telegram import Bot

    from common.settings import get_settings

    settings = get_settings()
    if not settings.telegram_bot_token:
        raise click.ClickException("TELEGRAM_BOT_TOKEN is not set")
    return settings, Bot(settings.telegram_bot_token, base_url=settings.telegram_api_base_url)


@click.group(name="telegram")
def cli() -> None:
    """Telegram bot set-up."""


@cli.command(name="set-webhook")
@click.option("--url", default=None, help="Public HTTPS base URL (default PUBLIC_BASE_URL).")
def set_webhook(url: str | None) -> None:
    """Point Telegram at /webhooks/telegram with the secret token (TELEGRAM_MODE=webhook)."""
    settings, bot = _bot()
    base = (url or settings.public_base_url).rstrip("/")
    if not base.startswith("https://"):
        raise click.ClickException("a public https:// URL is needed (PUBLIC_BASE_URL or --url)")
    if not settings.telegram_webhook_secret:
        raise click.ClickException("TELEGRAM_WEBHOOK_SECRET is not set")

    from connectors.telegram import ALLOWED_UPDATES

    async def run() -> None:
        async with bot:
            await bot.set_webhook(f"{base}/webhooks/telegram", secret_token=settings.telegram_webhook_secret,
                                  allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)

    asyncio.run(run())
    click.echo(f"webhook set to {base}/webhooks/telegram")


@cli.command(name="delete-webhook")
def delete_webhook() -> None:
    """Remove the webhook (for polling mode)."""
    _, bot = _bot()

    async def run() -> None:
        async with bot:
            await bot.delete_webhook()

    asyncio.run(run())
    click.echo("webhook removed")


@cli.command(name="set-commands")
def set_commands() -> None:
    """Register /help, /tasks, /newtask, /remind, /whoami with setMyCommands."""
    from telegram import BotCommand

    from connectors.telegram import COMMANDS

    _, bot = _bot()

    async def run() -> None:
        async with bot:
            await bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])

    asyncio.run(run())
    click.echo("commands registered: " + ", ".join(f"/{c}" for c, _ in COMMANDS))

"""`bot gateway`: run the gateway web app (webhooks, web chat, worker)."""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import click


@click.command(name="gateway")
@click.option("--host", default=None, help="Bind address (default GATEWAY_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default GATEWAY_PORT, 8080).")
def cli(host: str | None, port: int | None) -> None:
    """Serve the LINE/Telegram webhooks, the web chat at /chat and the chat API."""
    import uvicorn

    from bot.nlu_admin import page
    from common.settings import get_settings
    from connectors.app import create_app

    settings = get_settings()
    uvicorn.run(create_app(settings, extra_routes=page.routes()),  # the admins' page: 404 while ADMIN_TOKEN is empty
                host=host or settings.gateway_host, port=port or settings.gateway_port,
                log_level="warning", access_log=False, limit_concurrency=1000)

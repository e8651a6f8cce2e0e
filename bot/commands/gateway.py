"""`bot gateway`: run the gateway web app (webhooks, web chat, worker)."""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import click


def reuse_port_socket(host: str, port: int):  # type: ignore[no-untyped-def]
    """A listening socket bound with SO_REUSEPORT: several gateway processes share one port and the
    kernel spreads new connections between them (docs/gateways.md)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@click.command(name="gateway")
@click.option("--host", default=None, help="Bind address (default GATEWAY_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default GATEWAY_PORT, 8080).")
@click.option("--reuse-port", is_flag=True, help="Share the port with other gateway processes (SO_REUSEPORT; `bot run --gateways N`).")
def cli(host: str | None, port: int | None, reuse_port: bool) -> None:
    """Serve the LINE/Telegram webhooks, the web chat at /chat and the chat API."""
    import uvicorn

    from bot.nlu_admin import page
    from common.settings import get_settings
    from connectors.app import create_app

    settings = get_settings()
    app = create_app(settings, extra_routes=page.routes())  # the admins' page: 404 while ADMIN_TOKEN is empty
    host, port = host or settings.gateway_host, port or settings.gateway_port
    options = {"log_level": "warning", "access_log": False, "limit_concurrency": 1000}
    if not reuse_port:
        uvicorn.run(app, host=host, port=port, **options)
        return
    sock = reuse_port_socket(host, port)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, **options)).run(sockets=[sock])

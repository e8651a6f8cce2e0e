"""`bot run --gateways N`: N gateway processes on one port (SO_REUSEPORT); more than one needs PostgreSQL."""

from __future__ import annotations

import socket
from pathlib import Path

import click
import pytest


def test_several_gateways_need_postgresql_and_share_the_port(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bot.commands.run import build_services, check_gateways
    from common.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'one.db'}")
    get_settings.cache_clear()
    settings = get_settings()
    check_gateways(settings, 1)
    with pytest.raises(click.ClickException, match="PostgreSQL"):
        check_gateways(settings, 2)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    single = [s for s in build_services(settings, 5005, 1) if s.name.startswith("gateway")]
    assert [(s.name, s.command[-1]) for s in single] == [("gateway", "gateway")], "the default is unchanged"
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@127.0.0.1:5432/bot")
    get_settings.cache_clear()
    settings = get_settings()
    check_gateways(settings, 3)
    gateways = [s for s in build_services(settings, 5005, 1, 3) if s.name.startswith("gateway")]
    assert [s.name for s in gateways] == ["gateway-1", "gateway-2", "gateway-3"]
    assert all(s.command[-2:] == ["gateway", "--reuse-port"] for s in gateways)
    assert len({s.health_url for s in gateways}) == 1


def test_reuse_port_sockets_bind_the_same_port_twice() -> None:
    from bot.commands.gateway import reuse_port_socket

    first = reuse_port_socket("127.0.0.1", 0)
    try:
        port = first.getsockname()[1]
        second = reuse_port_socket("127.0.0.1", port)
        second.close()
        plain = socket.socket()
        with pytest.raises(OSError):
            plain.bind(("127.0.0.1", port))  # without SO_REUSEPORT the port is taken
        plain.close()
    finally:
        first.close()

"""`bot run --rasa N --actions N`: N Rasa replicas, each with its own action server; more than one needs PostgreSQL and Redis."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click
import pytest


def test_replicas_need_postgresql_and_redis_and_one_action_server_each(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bot.commands.run import check_replicas
    from common.settings import load_settings

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'one.db'}")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    check_replicas(load_settings(), 1, 1)
    with pytest.raises(click.ClickException, match="PostgreSQL"):
        check_replicas(load_settings(), 2, 2)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@127.0.0.1:5432/bot")
    monkeypatch.setenv("REDIS_URL", "")
    with pytest.raises(click.ClickException, match="Redis"):
        check_replicas(load_settings(), 2, 2)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    check_replicas(load_settings(), 2, 2)
    with pytest.raises(click.ClickException, match="must equal"):
        check_replicas(load_settings(), 2, 1)


def test_each_replica_has_its_own_action_server_and_the_gateways_know_them_all(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bot.commands.run import REPLICAS_FILE, build_services
    from common.settings import load_settings

    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@127.0.0.1:5432/bot")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("REDIS_KEY_PREFIX", "thgovtest")
    settings = dataclasses.replace(load_settings(), var_dir=tmp_path, action_server_port=6055)
    services = {s.name: s for s in build_services(settings, 6005, schedulers=0, gateways=1, replicas=2)}
    assert set(services) == {"rasa-1", "actions-1", "rasa-2", "actions-2", "gateway"}
    for n, (rasa_port, action_port) in enumerate([(6005, 6055), (6006, 6056)], 1):
        rasa = services[f"rasa-{n}"]
        assert rasa.command[rasa.command.index("--port") + 1] == str(rasa_port)
        endpoints = Path(rasa.command[rasa.command.index("--endpoints") + 1]).read_text(encoding="utf-8")
        assert f"http://127.0.0.1:{action_port}/webhook" in endpoints
        assert 'key_prefix: "thgovtest"' in endpoints
        assert int(rasa.env["TICKET_LOCK_LIFETIME"]) > float(rasa.env["ACTION_TIMEOUT"])
        assert services[f"actions-{n}"].command[-1] == str(action_port)
    assert services["gateway"].env["RASA_URLS"] == "http://127.0.0.1:6005,http://127.0.0.1:6006"
    assert json.loads((tmp_path / REPLICAS_FILE).read_text())["rasa_urls"] == ["http://127.0.0.1:6005", "http://127.0.0.1:6006"]
    single = {s.name: s for s in build_services(settings, 6105, schedulers=0, gateways=1)}
    assert set(single) == {"rasa", "actions", "gateway"}, "the default is unchanged"
    assert single["gateway"].env["RASA_URLS"] == "http://127.0.0.1:6105", "the gateway asks the Rasa this run started (--rasa-port)"
    assert json.loads((tmp_path / REPLICAS_FILE).read_text())["rasa_urls"] == ["http://127.0.0.1:6105"]


def test_status_shows_the_rasa_this_run_started_on_its_port(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`bot run --rasa-port N`: `bot status` printed replica 1 at RASA_URL's 5005 (the gateway already asked N)."""
    import os
    import socket

    from click.testing import CliRunner

    from bot.commands import status
    from bot.commands.run import STATUS_FILE, build_services
    from common.settings import get_settings, load_settings

    with socket.socket() as probe:  # a port nothing listens on: the replica shows as down, without a Rasa
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("RASA_URL", "http://127.0.0.1:5005")
    monkeypatch.delenv("RASA_URLS", raising=False)
    get_settings.cache_clear()
    try:
        settings = dataclasses.replace(load_settings(), var_dir=tmp_path)
        build_services(settings, port, schedulers=0, gateways=1)
        (tmp_path / STATUS_FILE).write_text(json.dumps({"running": True, "supervisor_pid": os.getpid(), "parts": {}}), encoding="utf-8")
        printed = CliRunner().invoke(status.cli, [])
        assert printed.exit_code == 0, printed.output
        assert f"rasa replica 1: http://127.0.0.1:{port} down" in printed.output and ":5005" not in printed.output
        shown = json.loads(CliRunner().invoke(status.cli, ["--json"]).output)
        assert [r["url"] for r in shown["rasa_replicas"]] == [f"http://127.0.0.1:{port}"]
    finally:
        get_settings.cache_clear()


def test_a_key_prefix_rasa_would_ignore_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from common.settings import load_settings

    monkeypatch.setenv("REDIS_KEY_PREFIX", "thgov-bot")
    with pytest.raises(ValueError, match="letters and digits"):
        load_settings()

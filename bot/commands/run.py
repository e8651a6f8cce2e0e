"""`bot run`: start the whole system locally and stop it cleanly.

Starts, on 127.0.0.1: the Rasa server (engine runtime), the action server and the
gateway (app runtime) and, when present, the follow-up scheduler; waits until each
is healthy, prints where to talk to the bot, and on Ctrl-C (or SIGTERM) stops every
process group it started, so no orphan is left behind.
"""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
import httpx

from bot.rasa_api import rasa_api_token
from common import internal_auth
from common.settings import PROJECT_ROOT, Settings, get_settings

ENGINE_BIN = PROJECT_ROOT / ".venv-rasa" / "bin"
MODEL = PROJECT_ROOT / "models" / "current.tar.gz"


@dataclass
class Service:
    name: str
    command: list[str]
    health_url: str | None
    env: dict[str, str] = field(default_factory=dict)
    health_headers: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None


def rasa_endpoints_yaml(settings: Settings) -> str:
    """Endpoints for the Rasa server: our action server and an SQL tracker store."""
    from sqlalchemy.engine import make_url

    lines = [
        "action_endpoint:",
        f'  url: "http://127.0.0.1:{settings.action_server_port}/webhook"',
        "  headers:",  # Rasa fills ${...} from its environment: the key is never written to disk
        '    Authorization: Bearer ${ACTION_SERVER_TOKEN}',  # unquoted: Rasa fills ${...} in plain YAML scalars only
        "tracker_store:",
        "  type: engine.tracker_store.GatewayTrackerStore",  # Rasa's SQL store plus erasure and retention
    ]
    if settings.database_url.startswith(("postgresql", "postgres")):
        url = make_url(settings.database_url)
        lines += [
            "  dialect: postgresql",
            f'  url: "{url.host or "127.0.0.1"}"',
            f"  port: {url.port or 5432}",
            f'  db: "{url.database}_rasa"' if os.environ.get("RASA_TRACKER_DB") is None else f'  db: "{os.environ["RASA_TRACKER_DB"]}"',
            f'  login_db: "{url.database}"',  # Rasa creates the tracker database through it when missing
            f'  username: "{url.username or ""}"',
            f'  password: "{url.password or ""}"',
        ]
    else:
        lines += ["  dialect: sqlite", f'  db: "{settings.var_dir / "rasa_tracker.db"}"']
    redis_url = os.environ.get("REDIS_URL", "").strip()
    if redis_url:
        redis = make_url(redis_url)
        lines += ["lock_store:", "  type: redis", f'  url: "{redis.host}"', f"  port: {redis.port or 6379}", f"  db: {redis.database or 0}"]
        if redis.password:
            lines.append(f'  password: "{redis.password}"')
    return "\n".join(lines) + "\n"


def internal_keys(settings: Settings) -> dict[str, str]:
    """The derived keys of the internal services (common/internal_auth.py)."""
    secret = internal_auth.installation_secret(settings.var_dir)
    purposes = (internal_auth.ACTION_SERVER, internal_auth.RASA_API, internal_auth.GATEWAY_CHANNEL)
    return {purpose: internal_auth.derive(secret, purpose) for purpose in purposes}


def build_services(settings: Settings, rasa_port: int, schedulers: int = 1) -> list[Service]:
    app_bin = Path(sys.executable).parent
    endpoints = settings.var_dir / "endpoints.yml"
    endpoints.write_text(rasa_endpoints_yaml(settings), encoding="utf-8")
    keys = internal_keys(settings)
    engine_env = {
        "RASA_JWT_SECRET": keys[internal_auth.RASA_API],
        "ACTION_SERVER_TOKEN": keys[internal_auth.ACTION_SERVER],
        "GATEWAY_CHANNEL_TOKEN": keys[internal_auth.GATEWAY_CHANNEL],
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    services = [
        Service(
            "rasa",
            [
                str(ENGINE_BIN / "python"), "-m", "engine.serve", "run", "--enable-api",
                "--interface", "127.0.0.1", "--port", str(rasa_port),
                "--model", str(MODEL), "--endpoints", str(endpoints), "--credentials", str(PROJECT_ROOT / "credentials.yml"),
            ],
            f"http://127.0.0.1:{rasa_port}/status",
            engine_env,
            health_headers={"Authorization": f"Bearer {rasa_api_token(keys[internal_auth.RASA_API])}"},
        ),
        Service(
            "actions",
            [str(app_bin / "python"), "-m", "actions.server", "--port", str(settings.action_server_port)],
            f"http://127.0.0.1:{settings.action_server_port}/health",
        ),
        Service(
            "gateway",
            [str(app_bin / "bot"), "gateway"],
            f"http://127.0.0.1:{settings.gateway_port}/healthz",
        ),
    ]
    import importlib.util

    if importlib.util.find_spec("bot.commands.scheduler") is not None:
        for n in range(1, schedulers + 1):
            name = "scheduler" if schedulers == 1 else f"scheduler-{n}"
            services.append(Service(name, [str(app_bin / "bot"), "scheduler", "run"], None))
    return services


def check_schedulers(settings: Settings, schedulers: int) -> None:
    """Several schedulers need PostgreSQL: SQLite has a single writer (one scheduler per database)."""
    from storage.db import is_sqlite

    if schedulers > 1 and is_sqlite(settings.database_url):
        raise click.ClickException(
            f"--schedulers {schedulers} needs PostgreSQL (set DATABASE_URL=postgresql://...): "
            "SQLite has a single writer, so one scheduler delivers for a SQLite database."
        )


def _start(service: Service, log_dir: Path) -> None:
    env = dict(os.environ)
    env.update(service.env)
    service.log_path = log_dir / f"{service.name}.log"
    log = service.log_path.open("ab")
    service.process = subprocess.Popen(  # noqa: S603 (fixed argument lists)
        service.command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # own process group: stopped as a whole
    )
    log.close()


def _healthy(service: Service) -> bool:
    if service.health_url is None:
        return True
    try:
        return httpx.get(service.health_url, headers=service.health_headers, timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(services: list[Service], grace: float = 15.0) -> None:
    running = [s for s in services if s.process and s.process.poll() is None]
    for s in running:
        try:
            os.killpg(s.process.pid, signal.SIGTERM)  # type: ignore[union-attr]
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    for s in running:
        try:
            s.process.wait(timeout=max(0.1, deadline - time.monotonic()))  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            try:
                os.killpg(s.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
            except ProcessLookupError:
                pass
            s.process.wait()  # type: ignore[union-attr]


def _tail(path: Path | None, lines: int = 15) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@click.command(name="run")
@click.option("--rasa-port", default=5005, show_default=True, help="Port of the Rasa server.")
@click.option("--timeout", default=300, show_default=True, help="Seconds to wait for all services to be healthy.")
@click.option("--schedulers", default=1, show_default=True, type=click.IntRange(0, 32),
              help="Follow-up schedulers to start (more than one needs PostgreSQL; 0: none, e.g. they run elsewhere).")
def cli(rasa_port: int, timeout: int, schedulers: int) -> None:
    """Start Rasa, the action server, the gateway (and schedulers) on 127.0.0.1."""
    settings = get_settings()
    check_schedulers(settings, schedulers)
    if not (ENGINE_BIN / "rasa").exists():
        raise click.ClickException("the engine runtime (.venv-rasa) is missing: run `make run` or `make engine`.")
    if not MODEL.exists():
        raise click.ClickException("no trained model: run `make model` (or `make run`, which trains when needed).")
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    try:
        internal_keys(settings)  # before any slow start-up work: production mode without its secret stops here
    except internal_auth.MissingSecret as exc:
        raise click.ClickException(str(exc)) from None
    log_dir = settings.var_dir / "logs"
    log_dir.mkdir(exist_ok=True)

    from storage.db import get_engine
    from storage.migrate import upgrade

    upgrade(get_engine())
    from storage.db import session_scope
    from storage.services import load_catalog

    with session_scope(get_engine()) as session:
        load_catalog(session)  # the shipped service catalog, refreshed in place
    from storage.laws.corpus import ensure_corpus_at_startup

    ensure_corpus_at_startup(get_engine(), echo=click.echo)  # the shipped law corpus, once per archive sha256, before "ready"

    try:
        services = build_services(settings, rasa_port, schedulers)
    except internal_auth.MissingSecret as exc:
        raise click.ClickException(str(exc)) from None
    stopping = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        for service in services:
            _start(service, log_dir)
        click.echo("starting: " + ", ".join(s.name for s in services) + f" (logs in {log_dir})")
        pending = list(services)
        deadline = time.monotonic() + timeout
        while pending and not stopping:
            for service in list(pending):
                if service.process and service.process.poll() is not None:
                    raise click.ClickException(f"{service.name} exited during start-up:\n{_tail(service.log_path)}")
                if _healthy(service):
                    click.echo(f"  {service.name} is up")
                    pending.remove(service)
            if time.monotonic() > deadline:
                names = ", ".join(s.name for s in pending)
                raise click.ClickException(f"not healthy after {timeout} s: {names}")
            time.sleep(0.5)
        if stopping:
            return
        base = f"http://{settings.gateway_host}:{settings.gateway_port}"
        click.echo("")
        click.echo("The assistant is running.")
        click.echo(f"  web chat:      {base}/chat")
        click.echo("  terminal chat: .venv/bin/bot shell   (in another terminal; --help for group/user options)")
        channels = [name for name, on in (("LINE", settings.line_enabled), ("Telegram", settings.telegram_enabled)) if on]
        click.echo(f"  channels:      {', '.join(channels) if channels else 'none configured (web chat and shell only)'}")
        click.echo("Press Ctrl-C to stop.")
        while not stopping:
            for service in services:
                if service.process and service.process.poll() is not None:
                    raise click.ClickException(f"{service.name} stopped unexpectedly:\n{_tail(service.log_path)}")
            time.sleep(0.5)
    finally:
        click.echo("stopping ...")
        _stop(services)
        click.echo("stopped.")

"""`bot run`: start the whole system locally and stop it cleanly.

Starts, on 127.0.0.1: the Rasa server (engine runtime), the action server and the
gateway (app runtime) and, when present, the follow-up scheduler; waits until each
is healthy, prints where to talk to the bot, and on Ctrl-C (or SIGTERM) stops every
process group it started, so no orphan is left behind.

Supervision (`Supervisor`): a part that exits is restarted with exponential backoff
(1 s, 2 s, 4 s ... capped at 30 s; back to 1 s once it stayed healthy for 60 s) while the
others keep running; it counts as back only when its health check passes. Restarts are
written to `var/supervisor.json`, shown by `bot status` and exported by the gateway's
/metrics. A part failing during start-up more than 5 times in a row stops `bot run`.
"""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import click
import httpx

from bot.rasa_api import rasa_api_token
from common import internal_auth
from common.clock import now as clock_now
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
    ready_key: str | None = None  # the health answer is JSON and this key must be set (Rasa: the model is loaded)


def rasa_endpoints_yaml(settings: Settings, action_port: int | None = None) -> str:
    """Endpoints for a Rasa server: its action server, an SQL tracker store and (with REDIS_URL) the Redis lock store.

    Several replicas (`--rasa N`): each has its own endpoints file naming its own action server
    (`action_port`; Rasa has one action endpoint URL per process), all share the tracker store and
    the lock store, whose keys carry the alphanumeric REDIS_KEY_PREFIX.
    """
    from sqlalchemy.engine import make_url

    lines = [
        "action_endpoint:",
        f'  url: "http://127.0.0.1:{action_port or settings.action_server_port}/webhook"',
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
        lines += ["lock_store:", "  type: redis", f'  url: "{redis.host}"', f"  port: {redis.port or 6379}", f"  db: {redis.database or 0}",
                  f'  key_prefix: "{settings.redis_key_prefix}"']
        if redis.password:
            lines.append(f'  password: "{redis.password}"')
    return "\n".join(lines) + "\n"


def internal_keys(settings: Settings) -> dict[str, str]:
    """The derived keys of the internal services (common/internal_auth.py)."""
    secret = internal_auth.installation_secret(settings.var_dir)
    purposes = (internal_auth.ACTION_SERVER, internal_auth.RASA_API, internal_auth.GATEWAY_CHANNEL)
    return {purpose: internal_auth.derive(secret, purpose) for purpose in purposes}


REPLICAS_FILE = "rasa_replicas.json"  # under settings.var_dir: the Rasa URLs the running `bot run` started (read by `bot nlu deploy`, `bot status`)


def replica_urls(rasa_port: int, replicas: int) -> list[str]:
    return [f"http://127.0.0.1:{rasa_port + n}" for n in range(replicas)]


def build_services(settings: Settings, rasa_port: int, schedulers: int = 1, gateways: int = 1, replicas: int = 1) -> list[Service]:
    """The parts of `bot run`. `replicas` Rasa servers on rasa_port, rasa_port+1, ..., each paired with its
    own action server on ACTION_SERVER_PORT, +1, ... (docs/deploy.md)."""
    app_bin = Path(sys.executable).parent
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
    # The lock lifetime must exceed the longest turn; the action timeout bounds a turn (engine/serve.py).
    engine_env["ACTION_TIMEOUT"] = f"{settings.action_timeout:g}"
    engine_env["TICKET_LOCK_LIFETIME"] = str(max(settings.lock_lifetime, int(settings.action_timeout * 2) + 10))
    services: list[Service] = []
    urls = replica_urls(rasa_port, replicas)
    for n in range(replicas):
        suffix = "" if replicas == 1 else f"-{n + 1}"
        action_port = settings.action_server_port + n
        endpoints = settings.var_dir / f"endpoints{suffix}.yml"
        endpoints.write_text(rasa_endpoints_yaml(settings, action_port), encoding="utf-8")
        services += [
            Service(
                f"rasa{suffix}",
                [
                    str(ENGINE_BIN / "python"), "-m", "engine.serve", "run", "--enable-api",
                    "--interface", "127.0.0.1", "--port", str(rasa_port + n),
                    "--model", str(MODEL), "--endpoints", str(endpoints), "--credentials", str(PROJECT_ROOT / "credentials.yml"),
                ],
                f"{urls[n]}/status",
                dict(engine_env),
                health_headers={"Authorization": f"Bearer {rasa_api_token(keys[internal_auth.RASA_API])}"},
                ready_key="model_file",  # Rasa answers /status before its model is loaded
            ),
            Service(
                f"actions{suffix}",
                [str(app_bin / "python"), "-m", "actions.server", "--port", str(action_port)],
                f"http://127.0.0.1:{action_port}/health",
            ),
        ]
    # one or several: `bot status` and `bot nlu deploy` ask the Rasa this run started (`--rasa-port`), not RASA_URL
    (settings.var_dir / REPLICAS_FILE).write_text(json.dumps({"rasa_urls": urls}), encoding="utf-8")
    gateway_parts = gateway_services(settings, gateways, app_bin)
    for part in gateway_parts:  # the Rasa this run starts (`--rasa-port`), whatever RASA_URL says
        part.env["RASA_URLS"] = ",".join(urls)
    services += gateway_parts
    import importlib.util

    if importlib.util.find_spec("bot.commands.scheduler") is not None:
        for n in range(1, schedulers + 1):
            name = "scheduler" if schedulers == 1 else f"scheduler-{n}"
            services.append(Service(name, [str(app_bin / "bot"), "scheduler", "run"], None))
    return services


def gateway_services(settings: Settings, gateways: int, app_bin: Path) -> list[Service]:
    """One gateway, or N sharing the port through SO_REUSEPORT (`bot gateway --reuse-port`, docs/gateways.md).

    Each one's health check goes to the shared port, so it may be answered by another: a gateway
    that exits is still noticed (and restarted) by the supervisor through its process.
    """
    health = f"http://127.0.0.1:{settings.gateway_port}/healthz"
    if gateways == 1:
        return [Service("gateway", [str(app_bin / "bot"), "gateway"], health)]
    return [Service(f"gateway-{n}", [str(app_bin / "bot"), "gateway", "--reuse-port"], health) for n in range(1, gateways + 1)]


def check_gateways(settings: Settings, gateways: int) -> None:
    """Several gateways need PostgreSQL: with SQLite one gateway handles a database's events."""
    from storage.db import is_sqlite

    if gateways > 1 and is_sqlite(settings.database_url):
        raise click.ClickException(
            f"--gateways {gateways} needs PostgreSQL (set DATABASE_URL=postgresql://...): "
            "SQLite has a single writer, so one gateway handles a SQLite database's messages."
        )


def check_schedulers(settings: Settings, schedulers: int) -> None:
    """Several schedulers need PostgreSQL: SQLite has a single writer (one scheduler per database)."""
    from storage.db import is_sqlite

    if schedulers > 1 and is_sqlite(settings.database_url):
        raise click.ClickException(
            f"--schedulers {schedulers} needs PostgreSQL (set DATABASE_URL=postgresql://...): "
            "SQLite has a single writer, so one scheduler delivers for a SQLite database."
        )


def check_replicas(settings: Settings, rasa: int, actions: int) -> None:
    """Several Rasa replicas share PostgreSQL (trackers) and Redis (conversation locks, serving state)."""
    from storage.db import is_sqlite

    if actions != rasa:
        raise click.ClickException(f"--actions {actions} must equal --rasa {rasa}: each Rasa replica has its own action server "
                                   "(Rasa has one action endpoint URL per process).")
    if rasa > 1 and (is_sqlite(settings.database_url) or not settings.redis_url):
        raise click.ClickException(
            f"--rasa {rasa} needs PostgreSQL (DATABASE_URL=postgresql://...) and Redis (REDIS_URL=redis://...): "
            "the replicas share the conversations' trackers in PostgreSQL and their locks and serving state in Redis."
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
        response = httpx.get(service.health_url, headers=service.health_headers, timeout=2, trust_env=False)
        if response.status_code != 200:
            return False
        return service.ready_key is None or bool(response.json().get(service.ready_key))
    except (httpx.HTTPError, ValueError, AttributeError):
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


STATUS_FILE = "supervisor.json"  # under settings.var_dir; read by `bot status` and the gateway's /metrics


class SupervisorGaveUp(click.ClickException):
    """A part kept failing during start-up: `bot run` stops, as it did before supervision."""


@dataclass
class PartState:
    """What the supervisor knows about one part (the JSON status file shows it)."""

    state: str = "starting"  # starting | up | waiting (for its restart) | stopped
    restarts: int = 0
    startup_failures: int = 0  # in a row, since the part was last healthy
    backoff_level: int = 0  # the next restart waits base * 2**level (capped); reset after `reset_after` s healthy
    last_exit: str | None = None  # "exit 1" / "signal SIGKILL"
    last_exit_at: str | None = None
    last_restart_at: str | None = None
    started: float = 0.0  # monotonic
    healthy_since: float | None = None  # monotonic
    next_start: float = 0.0  # monotonic
    down_since: float | None = None  # monotonic: when the part was last seen dead


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit {returncode}"


class Supervisor:
    """Keeps every part of `bot run` running: a part that exits is restarted with exponential backoff.

    `step()` looks at each part once (poll, health check, due restarts) and writes the status file
    when something changed; `run()` repeats it until asked to stop. A restarted part counts as back
    only once its health check passes (Rasa: with its model loaded). A part that fails during start-up
    more than `max_startup_failures` times in a row raises `SupervisorGaveUp` with the tail of its log.
    Logs name the part, its exit code or signal and its log file, never what the log says (it may hold
    message text). Time: `monotonic` for delays, `clock` (common/clock.py) for the instants shown.
    """

    def __init__(
        self,
        services: list[Service],
        log_dir: Path,
        status_path: Path | None = None,
        *,
        clock: Callable[[], datetime] = clock_now,
        monotonic: Callable[[], float] = time.monotonic,
        start: Callable[[Service], None] | None = None,
        healthy: Callable[[Service], bool] = lambda s: _healthy(s),
        echo: Callable[[str], None] = lambda m: click.echo(m, err=True),
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        reset_after: float = 60.0,
        max_startup_failures: int = 5,
        startup_timeout: float = 300.0,
        settle: float = 2.0,
    ) -> None:
        self.services = services
        self.log_dir = log_dir
        self.status_path = status_path
        self.clock = clock
        self.monotonic = monotonic
        self._start = start or (lambda s: _start(s, log_dir))
        self._healthy = healthy
        self.echo = echo
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.reset_after = reset_after
        self.max_startup_failures = max_startup_failures
        self.startup_timeout = startup_timeout
        self.settle = settle  # a part without a health check counts as up once it stayed alive this long
        self.parts = {s.name: PartState() for s in services}
        self.recoveries: list[tuple[str, float]] = []  # (part, seconds from its exit seen to healthy again)

    # ------------------------------------------------------------------ life cycle
    def start_all(self) -> None:
        """Start every part not running yet (a running one, e.g. started by a test harness, is adopted)."""
        now = self.monotonic()
        for service in self.services:
            part = self.parts[service.name]
            if service.process is None or service.process.poll() is not None:
                self._start(service)
            part.state, part.started = "starting", now
        self.write_status()

    def all_healthy(self) -> bool:
        return all(p.state == "up" for p in self.parts.values())

    def backoff(self, level: int) -> float:
        return min(self.backoff_cap, self.backoff_base * 2**level)

    def step(self) -> None:
        changed = False
        for service in self.services:
            changed |= self._step_part(service, self.parts[service.name], self.monotonic())
        if changed:
            self.write_status()

    def run(self, stopping: Callable[[], bool], interval: float = 0.5, sleep: Callable[[float], None] = time.sleep) -> None:
        while not stopping():
            self.step()
            sleep(interval)

    def stop(self) -> None:
        _stop(self.services)
        for part in self.parts.values():
            part.state = "stopped"
        self.write_status(running=False)

    # ------------------------------------------------------------------ one part
    def _step_part(self, service: Service, part: PartState, now: float) -> bool:
        process = service.process
        if part.state == "waiting":
            if now < part.next_start:
                return False
            self._start(service)
            part.state, part.started = "starting", now
            part.restarts += 1
            part.last_restart_at = self.clock().isoformat()
            self.echo(f"supervisor: {service.name} restarted (restart {part.restarts}, pid {self._pid(service)})")
            return True
        returncode = process.poll() if process is not None else -1
        if part.state == "up":
            if returncode is None:
                if part.healthy_since is not None and part.backoff_level and now - part.healthy_since >= self.reset_after:
                    part.backoff_level = 0  # healthy long enough: the next crash restarts quickly again
                return False
            if part.healthy_since is not None and now - part.healthy_since >= self.reset_after:
                part.backoff_level = 0
            self._exited(service, part, returncode, now, during_startup=False)
            return True
        # starting
        if returncode is not None:
            self._exited(service, part, returncode, now, during_startup=True)
            return True
        if service.health_url is None and now - part.started < self.settle:
            return False
        if self._healthy(service):
            part.state, part.healthy_since = "up", now
            part.startup_failures = 0
            if part.down_since is not None:
                took = now - part.down_since
                self.recoveries.append((service.name, took))
                self.echo(f"supervisor: {service.name} is healthy again ({took:.1f} s after it stopped)")
                part.down_since = None
            return True
        if now - part.started > self.startup_timeout:
            self.echo(f"supervisor: {service.name} not healthy after {self.startup_timeout:.0f} s; stopping it")
            _stop([service])
            self._exited(service, part, service.process.poll() if service.process else -1, now, during_startup=True)
            return True
        return False

    def _exited(self, service: Service, part: PartState, returncode: int, now: float, *, during_startup: bool) -> None:
        part.last_exit = describe_exit(returncode)
        part.last_exit_at = self.clock().isoformat()
        part.healthy_since = None
        if part.down_since is None:
            part.down_since = now
        if during_startup:
            part.startup_failures += 1
            if part.startup_failures > self.max_startup_failures:
                part.state = "stopped"
                self.write_status()
                raise SupervisorGaveUp(
                    f"{service.name} failed during start-up {part.startup_failures} times in a row "
                    f"({part.last_exit}):\n{_tail(service.log_path)}"
                )
        delay = self.backoff(part.backoff_level)
        part.backoff_level += 1
        part.state, part.next_start = "waiting", now + delay
        where = f"during start-up, failure {part.startup_failures} in a row" if during_startup else "while running"
        self.echo(f"supervisor: {service.name} stopped ({part.last_exit}, {where}); restart in {delay:g} s; log: {service.log_path}")

    @staticmethod
    def _pid(service: Service) -> int | None:
        return service.process.pid if service.process is not None else None

    # ------------------------------------------------------------------ status file
    def status(self, *, running: bool = True) -> dict[str, object]:
        parts = {}
        for service in self.services:
            part = self.parts[service.name]
            alive = service.process is not None and service.process.poll() is None
            parts[service.name] = {
                "pid": self._pid(service) if alive else None,
                "state": part.state,
                "healthy": part.state == "up" and alive,
                "restarts": part.restarts,
                "last_exit": part.last_exit,
                "last_exit_at": part.last_exit_at,
                "last_restart_at": part.last_restart_at,
                "log": str(service.log_path) if service.log_path else None,
            }
        return {"supervisor_pid": os.getpid(), "running": running, "updated_at": self.clock().isoformat(), "parts": parts}

    def write_status(self, *, running: bool = True) -> None:
        if self.status_path is None:
            return
        tmp = self.status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status(running=running), indent=2), encoding="utf-8")
        os.replace(tmp, self.status_path)  # readers never see half a file


@click.command(name="run")
@click.option("--rasa-port", default=5005, show_default=True, help="Port of the Rasa server.")
@click.option("--timeout", default=300, show_default=True, help="Seconds to wait for all services to be healthy.")
@click.option("--schedulers", default=1, show_default=True, type=click.IntRange(0, 32),
              help="Follow-up schedulers to start (more than one needs PostgreSQL; 0: none, e.g. they run elsewhere).")
@click.option("--gateways", default=1, show_default=True, type=click.IntRange(1, 32),
              help="Gateway processes sharing the gateway port (SO_REUSEPORT; more than one needs PostgreSQL).")
@click.option("--rasa", "rasa", default=1, show_default=True, type=click.IntRange(1, 16),
              help="Rasa replicas on --rasa-port, +1, ... (more than one needs PostgreSQL and Redis; docs/deploy.md).")
@click.option("--actions", default=None, type=click.IntRange(1, 16),
              help="Action servers, one per Rasa replica (default: as many as --rasa).")
def cli(rasa_port: int, timeout: int, schedulers: int, gateways: int, rasa: int, actions: int | None) -> None:
    """Start Rasa, the action server, the gateway(s) (and schedulers) on 127.0.0.1."""
    settings = get_settings()
    check_replicas(settings, rasa, actions or rasa)
    check_schedulers(settings, schedulers)
    check_gateways(settings, gateways)
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
        services = build_services(settings, rasa_port, schedulers, gateways, replicas=rasa)
    except internal_auth.MissingSecret as exc:
        raise click.ClickException(str(exc)) from None
    stopping = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    supervisor = Supervisor(services, log_dir, settings.var_dir / STATUS_FILE, startup_timeout=timeout)
    try:
        supervisor.start_all()
        click.echo("starting: " + ", ".join(s.name for s in services) + f" (logs in {log_dir})")
        announced: set[str] = set()
        deadline = time.monotonic() + timeout
        while not stopping and not supervisor.all_healthy():
            supervisor.step()  # a part failing during start-up is retried; too many failures in a row stop here
            for name, part in supervisor.parts.items():
                if part.state == "up" and name not in announced:
                    click.echo(f"  {name} is up")
                    announced.add(name)
            if time.monotonic() > deadline:
                names = ", ".join(n for n, p in supervisor.parts.items() if p.state != "up")
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
        click.echo("  supervision:   a part that stops is restarted (`bot status` shows restarts)")
        click.echo("Press Ctrl-C to stop.")
        supervisor.run(lambda: stopping)
    finally:
        click.echo("stopping ...")
        supervisor.stop()
        (settings.var_dir / REPLICAS_FILE).unlink(missing_ok=True)  # nothing of this run serves any more
        click.echo("stopped.")

"""Rasa replicas with their action servers and a gateway, started as `bot run --rasa N --actions N` does.

Used by tests/replicas/test_two_replicas.py and `python -m benchmarks.scale --part rasa`. The parts
are built by `bot.commands.run.build_services` (so the harness cannot drift from the deployment
path) on a fresh PostgreSQL database and a unique Redis key prefix, each in its own process group;
everything is stopped, the database dropped and the Redis keys deleted on exit.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.channels.fakes import ServerThread, free_port
from tests.live.stack import LINE_SECRET, LINE_TOKEN, MODEL, fresh_postgres_database

ROOT = Path(__file__).resolve().parents[2]


def two_free_ports() -> int:
    """A free port whose next one is free too (replica n listens on base + n)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
    raise RuntimeError("no two consecutive free ports")


def start_service(service: Any, env: dict[str, str], log_dir: Path) -> None:
    service.log_path = log_dir / f"{service.name}.log"
    with service.log_path.open("ab") as log:
        service.process = subprocess.Popen(service.command, cwd=ROOT, env={**os.environ, **env, **service.env},  # noqa: S603
                                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def healthy(service: Any) -> bool:
    if service.health_url is None:
        return True
    try:
        response = httpx.get(service.health_url, headers=service.health_headers, timeout=3, trust_env=False)
        return response.status_code == 200 and (service.ready_key is None or bool(response.json().get(service.ready_key)))
    except (httpx.HTTPError, ValueError):
        return False


def wait_healthy(services: list[Any], timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    pending = list(services)
    while pending:
        for service in list(pending):
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited during start-up:\n{service.log_path.read_text(errors='replace')[-3000:]}")
            if healthy(service):
                pending.remove(service)
        if time.monotonic() > deadline:
            raise RuntimeError("not healthy in time: " + ", ".join(s.name for s in pending))
        time.sleep(0.5)


def stop_services(services: list[Any]) -> None:
    for service in services:
        if service.process is not None and service.process.poll() is None:
            try:
                os.killpg(service.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for service in services:
        if service.process is not None:
            try:
                service.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(service.process.pid, signal.SIGKILL)
                service.process.wait()


@dataclasses.dataclass
class Topology:
    dir: Path
    env: dict[str, str]
    services: list[Any]
    urls: list[str]
    gateway_url: str
    database_url: str
    line: Any
    extra: list[Any] = dataclasses.field(default_factory=list)

    @property
    def gateway_service(self) -> Any:
        return next(s for s in self.services if s.name.startswith("gateway"))

    def wait(self, services: list[Any]) -> None:
        wait_healthy(services)


@contextmanager
def replica_topology(postgres_base: str, redis_url: str, line: Any, replicas: int = 2) -> Iterator[Topology]:
    """`replicas` Rasa replicas + as many action servers + one gateway; this process's environment points at them
    meanwhile (so `bot.nlu_admin.pipeline` and `get_settings()` here see the same settings)."""
    from bot.commands.run import build_services
    from bot.nlu_admin.pipeline import _SyncRedis
    from common.settings import get_settings, load_settings
    from connectors.rasa_client import inflight_key, state_key
    from storage.db import make_engine, session_scope
    from storage.migrate import upgrade
    from storage.services import load_catalog

    if not MODEL.exists():
        raise RuntimeError(f"no trained model at {MODEL}")
    directory = Path(tempfile.mkdtemp(prefix="replicas-"))
    var = directory / "var"
    (var / "logs").mkdir(parents=True)
    database_url, drop = fresh_postgres_database(postgres_base)
    line_server = ServerThread(line.app).__enter__()
    rasa_port, action_port, gateway_port = two_free_ports(), two_free_ports(), free_port()
    env = {
        "PYTHONPATH": str(ROOT), "BOT_ENV_FILE": str(directory / "no.env"), "BOT_VAR_DIR": str(var),
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": f"t{uuid.uuid4().hex[:10]}",
        "RASA_URL": f"http://127.0.0.1:{rasa_port}", "RASA_URLS": "", "ACTION_SERVER_PORT": str(action_port),
        "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(gateway_port),
        "LINE_CHANNEL_SECRET": LINE_SECRET, "LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN,
        "LINE_API_BASE_URL": line_server.url, "LINE_DATA_API_BASE_URL": line_server.url,
        "TELEGRAM_BOT_TOKEN": "", "PUBLIC_BASE_URL": f"http://127.0.0.1:{gateway_port}", "LOCAL_CHAT_ENABLED": "false",
        "ADMIN_TOKEN": "", "RASA_TELEMETRY_ENABLED": "false", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        "RATE_LIMITS": "off",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    services: list[Any] = []
    urls = [f"http://127.0.0.1:{rasa_port + n}" for n in range(replicas)]
    topology = None
    try:
        engine = make_engine(database_url)
        upgrade(engine)
        with session_scope(engine) as session:
            load_catalog(session)
        engine.dispose()
        services = build_services(load_settings(), rasa_port, schedulers=0, gateways=1, replicas=replicas)
        for service in services:
            start_service(service, env, var / "logs")
        wait_healthy(services)
        topology = Topology(directory, env, services, urls, f"http://127.0.0.1:{gateway_port}", database_url, line)
        yield topology
    finally:
        stop_services(services + (topology.extra if topology else []))
        line_server.__exit__(None, None, None)
        try:
            red = _SyncRedis(redis_url)
            for url in urls:
                red.delete(state_key(env["REDIS_KEY_PREFIX"], url))
                red.delete(inflight_key(env["REDIS_KEY_PREFIX"], url))
            red.close()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            get_settings.cache_clear()
            drop()
            shutil.rmtree(directory, ignore_errors=True)

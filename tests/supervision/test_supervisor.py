"""`bot run`'s supervisor: a part that dies is restarted with backoff, the others keep running.

Driven with cheap fake parts (small Python processes serving /health on 127.0.0.1) and, for
the backoff schedule, with fake processes on a fake monotonic clock. Nothing asserts a
duration; the recovery time is printed.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from bot.commands.run import STATUS_FILE, Service, Supervisor, SupervisorGaveUp
from tests.channels.fakes import ServerThread, free_port
from tests.clock import START

ROOT = Path(__file__).resolve().parents[2]


def fake_service(name: str, crash: bool = False) -> Service:
    port = free_port()
    arg = "crash" if crash else str(port)
    return Service(name, [sys.executable, "-m", "tests.supervision.fake_part", arg],
                   f"http://127.0.0.1:{port}/health", env={"PYTHONPATH": str(ROOT)})


def drive(supervisor: Supervisor, until, limit: float = 60.0) -> None:
    """Step the supervisor until `until()` holds (a safety limit only, not a timing assertion)."""
    end = time.monotonic() + limit
    while not until():
        assert time.monotonic() < end, f"supervisor never got there: {supervisor.status()}"
        supervisor.step()
        time.sleep(0.05)


@pytest.mark.kill
def test_a_killed_part_is_restarted_and_the_others_keep_running(tmp_path: Path) -> None:
    var = tmp_path / "var"
    (var / "logs").mkdir(parents=True)
    services = [fake_service(name) for name in ("rasa", "actions", "gateway")]
    supervisor = Supervisor(services, var / "logs", var / STATUS_FILE, clock=lambda: START, backoff_base=0.2)
    try:
        supervisor.start_all()
        drive(supervisor, supervisor.all_healthy)
        before = {s.name: s.process.pid for s in services}
        os.killpg(before["actions"], signal.SIGKILL)
        killed_at = time.monotonic()
        drive(supervisor, lambda: supervisor.parts["actions"].restarts == 1 and supervisor.all_healthy())
        print(f"\nactions back and healthy {time.monotonic() - killed_at:.2f} s after SIGKILL")
        after = {s.name: s.process.pid for s in services}
        assert after["rasa"] == before["rasa"] and after["gateway"] == before["gateway"]
        assert after["actions"] != before["actions"]
        assert httpx.get(services[1].health_url, trust_env=False).status_code == 200
        status = json.loads((var / STATUS_FILE).read_text())
        part = status["parts"]["actions"]
        assert part["restarts"] == 1 and part["healthy"] is True and part["pid"] == after["actions"]
        assert part["last_exit"] == "signal SIGKILL" and part["last_restart_at"] == START.isoformat()
        assert status["parts"]["rasa"]["restarts"] == 0 and status["parts"]["gateway"]["last_exit"] is None
        assert [name for name, _ in supervisor.recoveries] == ["actions"]

        result = CliRunner().invoke(_bot_status(), [])  # BOT_VAR_DIR is tmp_path/var (tests/conftest.py)
        assert result.exit_code == 0, result.output
        line = next(row for row in result.output.splitlines() if row.startswith("actions"))
        assert line.split()[1:5] == ["up", "yes", str(after["actions"]), "1"] and "SIGKILL" in line
    finally:
        supervisor.stop()
    assert all(s.process.poll() is not None for s in services)
    assert json.loads((var / STATUS_FILE).read_text())["running"] is False


def _bot_status():
    from bot.commands.status import cli

    return cli


@pytest.mark.kill
def test_a_part_failing_at_every_start_stops_everything_with_its_log(tmp_path: Path) -> None:
    var = tmp_path / "var"
    (var / "logs").mkdir(parents=True)
    good, bad = fake_service("gateway"), fake_service("scheduler", crash=True)
    bad.health_url = None
    messages: list[str] = []
    supervisor = Supervisor([good, bad], var / "logs", var / STATUS_FILE, clock=lambda: START, backoff_base=0.01,
                            echo=messages.append, settle=0.5, max_startup_failures=5)
    try:
        supervisor.start_all()
        with pytest.raises(SupervisorGaveUp) as raised:
            drive(supervisor, lambda: False)
    finally:
        supervisor.stop()
    assert "scheduler failed during start-up 6 times in a row (exit 3)" in str(raised.value.message)
    assert "cannot start (configuration error)" in raised.value.message  # the tail of its log, as before
    assert supervisor.parts["scheduler"].restarts == 5
    restarts = [m for m in messages if m.startswith("supervisor: scheduler stopped")]
    assert len(restarts) == 5 and all(f"log: {bad.log_path}" in m for m in restarts)
    assert not any("configuration error" in m for m in messages)  # logs name the log file, never its content


class FakeProcess:
    def __init__(self, pid: int) -> None:
        self.pid, self.returncode = pid, None

    def poll(self) -> int | None:
        return self.returncode


def test_backoff_doubles_up_to_its_cap_and_resets_after_a_healthy_minute(tmp_path: Path) -> None:
    now = [0.0]
    pids = iter(range(1000, 2000))
    service = Service("rasa", ["unused"], "http://unused/health")

    def start(s: Service) -> None:
        s.process = FakeProcess(next(pids))  # type: ignore[assignment]

    supervisor = Supervisor([service], tmp_path, None, clock=lambda: START, monotonic=lambda: now[0],
                            start=start, healthy=lambda s: True, echo=lambda m: None)
    supervisor.start_all()
    supervisor.step()
    part = supervisor.parts["rasa"]

    def crash_after(healthy_for: float) -> float:
        """Let the part run healthily, kill it, and return the delay the supervisor chose."""
        now[0] += healthy_for
        supervisor.step()
        service.process.returncode = -9  # type: ignore[union-attr]
        supervisor.step()
        assert part.state == "waiting" and part.last_exit == "signal SIGKILL"
        delay = part.next_start - now[0]
        now[0] = part.next_start
        supervisor.step()  # restarted
        supervisor.step()  # healthy again
        assert part.state == "up"
        return delay

    assert supervisor.parts["rasa"].state == "up"
    delays = [crash_after(5.0) for _ in range(7)]
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert crash_after(60.0) == 1  # a minute healthy: the backoff starts over
    assert crash_after(5.0) == 2
    assert part.restarts == 9


def test_metrics_export_the_supervisors_restarts(tmp_path: Path) -> None:
    from connectors.app import create_app
    from storage.db import make_engine
    from storage.migrate import upgrade
    from tests.channels.conftest import make_settings

    settings = make_settings(tmp_path)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    try:
        with ServerThread(create_app(settings, engine=engine)) as server:
            assert "supervisor_restarts_total" not in httpx.get(f"{server.url}/metrics").text.replace("# TYPE supervisor_restarts_total counter", "")
            status = {"parts": {"rasa": {"restarts": 2}, "actions": {"restarts": 0}, 'x"}': {"restarts": 1}}}
            (settings.var_dir / STATUS_FILE).write_text(json.dumps(status))
            metrics = httpx.get(f"{server.url}/metrics").text
    finally:
        engine.dispose()
    assert 'supervisor_restarts_total{part="rasa"} 2' in metrics
    assert 'supervisor_restarts_total{part="actions"} 0' in metrics
    assert 'x"}' not in metrics  # a name that is not a plain part name is left out

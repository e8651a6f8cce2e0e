"""The action server (actions/server.py): loopback only, a key for every call, nothing in errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from common import internal_auth

ROOT = Path(__file__).resolve().parents[2]
CANARY = "0898765432"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_addresses(port: int) -> set[str]:
    """Local addresses listening on `port`, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    var = tmp_path_factory.mktemp("var")
    port = _free_port()
    log_path = var / "actions.log"
    env = dict(os.environ, BOT_VAR_DIR=str(var), PYTHONPATH=str(ROOT))
    env.pop("ACTION_SERVER_HOST", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "actions.server", "--port", str(port)], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("action server did not start:\n" + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        key = internal_auth.derive((var / internal_auth.FILE_NAME).read_bytes().strip(), internal_auth.ACTION_SERVER)
        yield base, port, key, log_path
    finally:
        process.terminate()
        process.wait(timeout=30)


def _call(base: str, key: str | None, action: str, tracker: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return httpx.post(base + "/webhook", json={"next_action": action, "tracker": tracker, "domain": {}, "version": "3.6.21"},
                      headers=headers, timeout=10, trust_env=False)


def test_it_listens_on_loopback_only(server) -> None:  # type: ignore[no-untyped-def]
    _base, port, _key, _log = server
    assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else


def test_calls_without_the_key_are_refused_and_run_nothing(server) -> None:  # type: ignore[no-untyped-def]
    base, _port, key, _log = server
    tracker = {"sender_id": "line:Uvictim", "latest_message": {"text": "ลบข้อมูลของฉัน"}, "events": [], "slots": {}}
    assert _call(base, None, "action_erase_my_data", tracker).status_code == 401
    assert _call(base, "x" * len(key), "action_erase_my_data", tracker).status_code == 401
    assert _call(base, key[:-1], "action_erase_my_data", tracker).status_code == 401
    assert httpx.get(base + "/actions", timeout=5, trust_env=False).status_code == 401
    names = httpx.get(base + "/actions", headers={"Authorization": f"Bearer {key}"}, timeout=5, trust_env=False)
    assert names.status_code == 200 and any(a["name"] == "action_human_handoff" for a in names.json())


def test_an_error_answers_without_the_request_and_logs_no_personal_data(server) -> None:  # type: ignore[no-untyped-def]
    base, _port, key, log_path = server
    response = _call(base, key, "action_human_handoff", f"เบอร์ผม {CANARY}")  # a tracker that is not one: the action fails
    assert response.status_code == 500
    assert CANARY not in response.text and "request_body" not in response.text
    time.sleep(0.3)
    assert CANARY not in log_path.read_text(errors="replace")

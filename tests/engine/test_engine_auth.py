"""Rasa's HTTP API and the gateway channel refuse callers without their keys (engine runtime).

Starts `python -m engine.serve run --enable-api` (what `bot run` starts) on a free
loopback port, without a model (authentication does not depend on one).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import jwt
import pytest

ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "j" * 64
CHANNEL_TOKEN = "c" * 64


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(url: str, headers: dict[str, str] | None = None, body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError):
        return 0  # not listening (yet)


@pytest.fixture(scope="module")
def rasa(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    port = _free_port()
    tmp = tmp_path_factory.mktemp("rasa")
    env = dict(os.environ, RASA_JWT_SECRET=JWT_SECRET, GATEWAY_CHANNEL_TOKEN=CHANNEL_TOKEN, PYTHONPATH=str(ROOT),
               RASA_TELEMETRY_ENABLED="false")
    log = (tmp / "rasa.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.serve", "run", "--enable-api", "--interface", "127.0.0.1", "--port", str(port),
         "--model", str(tmp / "no-model.tar.gz"), "--credentials", str(ROOT / "credentials.yml")],
        cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while _call(base + "/") != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("Rasa did not start:\n" + (tmp / "rasa.log").read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        yield base, tmp / "rasa.log"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_the_secret_is_not_on_the_command_line(rasa) -> None:  # type: ignore[no-untyped-def]
    base, _log = rasa
    port = base.rsplit(":", 1)[1]
    cmdlines = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdlines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                continue
    ours = [c for c in cmdlines if "engine.serve" in c and port in c]
    assert ours and not any(JWT_SECRET in c for c in ours)


def test_rasa_api_needs_a_jwt_in_the_header(rasa) -> None:  # type: ignore[no-untyped-def]
    base, _log = rasa
    tracker = base + "/conversations/line:Uvictim/tracker"
    assert _call(tracker) == 401
    assert _call(tracker + "?token=" + JWT_SECRET) == 401  # no query-string tokens
    forged = jwt.encode({"user": {"username": "x", "role": "admin"}}, "not-the-secret", algorithm="HS256")
    assert _call(tracker, {"Authorization": f"Bearer {forged}"}) == 401
    user_token = jwt.encode({"user": {"username": "line:Uother", "role": "user"}}, JWT_SECRET, algorithm="HS256")
    assert _call(tracker, {"Authorization": f"Bearer {user_token}"}) == 403
    admin = jwt.encode({"user": {"username": "bot", "role": "admin"}}, JWT_SECRET, algorithm="HS256")
    # Authenticated: Rasa now answers for itself (409: no model loaded in this test).
    assert _call(base + "/status", {"Authorization": f"Bearer {admin}"}) in (200, 409)


def test_the_rest_channel_is_off_and_the_gateway_channel_needs_its_key(rasa) -> None:  # type: ignore[no-untyped-def]
    base, _log = rasa
    message = {"sender": "line:Uvictim", "message": "สวัสดี"}
    assert _call(base + "/webhooks/rest/webhook", body=message) == 404
    assert _call(base + "/webhooks/gateway/webhook", body=message) == 401
    assert _call(base + "/webhooks/gateway/webhook", {"Authorization": "Bearer " + "x" * 64}, message) == 401
    assert _call(base + "/webhooks/gateway/webhook", {"Authorization": f"Bearer {CHANNEL_TOKEN}"}, message) == 200


def test_serve_refuses_debug_logging() -> None:
    result = subprocess.run([sys.executable, "-m", "engine.serve", "run", "--debug"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "debug" in result.stderr

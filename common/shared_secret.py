"""The secret the gateway and Rasa share for Rasa's private routes (erasure, retention).

`GATEWAY_SHARED_SECRET` when set (several machines must set the same value); otherwise a
random key generated once in `<var>/gateway_shared.key` (mode 0600) that both processes
on this machine read. Compare with `matches()` (constant time), never with `==`.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from pathlib import Path

ENV_VAR = "GATEWAY_SHARED_SECRET"
FILE_NAME = "gateway_shared.key"
HEADER = "X-Gateway-Secret"


def var_dir() -> Path:
    """Where runtime files live: BOT_VAR_DIR, else `var/` of the project (as bot.settings decides)."""
    configured = os.environ.get("BOT_VAR_DIR", "").strip()
    return Path(configured).resolve() if configured else Path(__file__).resolve().parent.parent / "var"


def shared_secret(directory: Path | None = None) -> str:
    """The shared secret, created on first use (two processes starting together agree on one)."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return configured
    path = Path(directory or var_dir()) / FILE_NAME
    for _ in range(100):
        try:
            key = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue  # the other process is writing it
            key = secrets.token_urlsafe(32)
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(key)
            return key
        if key:
            return key
        time.sleep(0.01)  # created a moment ago, not written yet
    raise RuntimeError(f"{path} is empty")


def matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison; a missing or empty value never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())

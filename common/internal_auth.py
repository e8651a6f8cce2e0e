"""Shared secrets between our own processes (gateway, Rasa, action server, CLI).

One installation secret, `INTERNAL_SECRET` (settings / environment), or, when it is not
set, a random one generated once under var/ (mode 0600). Each internal service gets its
own key derived from it (HMAC-SHA256 with the service's purpose), so one leaked key does
not open the others, and every check is constant-time.

Several hosts must share `INTERNAL_SECRET` (set it explicitly); production mode
(`BOT_ENV=production`) refuses to fall back to a generated file. Imported by both
runtimes: Python 3.10-compatible, standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

ENV_VAR = "INTERNAL_SECRET"
FILE_NAME = "internal_secret"

# Purposes: one derived key each.
ACTION_SERVER = "action-server"
RASA_API = "rasa-http-api"
GATEWAY_CHANNEL = "gateway-channel"
LOCAL_CHAT = "local-chat"


class MissingSecret(RuntimeError):
    """Production mode without an explicit INTERNAL_SECRET."""


def production_mode() -> bool:
    return os.environ.get("BOT_ENV", "").strip().lower() == "production"


def _read_or_create(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(value)
    return value


def installation_secret(var_dir: Path) -> bytes:
    """The installation's secret: INTERNAL_SECRET, else var/internal_secret (created once)."""
    explicit = os.environ.get(ENV_VAR, "").strip()
    if explicit:
        if len(explicit) < 32:
            raise MissingSecret(f"{ENV_VAR} must be at least 32 characters")
        return explicit.encode()
    if production_mode():
        raise MissingSecret(f"BOT_ENV=production needs {ENV_VAR} (at least 32 random characters)")
    return _read_or_create(var_dir / FILE_NAME)


def derive(secret: bytes, purpose: str) -> str:
    """The key of one internal service, derived from the installation secret."""
    return hmac.new(secret, purpose.encode(), hashlib.sha256).hexdigest()


def service_key(var_dir: Path, purpose: str) -> str:
    return derive(installation_secret(var_dir), purpose)


def bearer_matches(header: str | None, key: str) -> bool:
    """Whether an Authorization header carries `Bearer <key>` (constant time)."""
    return hmac.compare_digest((header or "").encode(), f"Bearer {key}".encode())


def token_matches(given: str | None, key: str) -> bool:
    return hmac.compare_digest((given or "").encode(), key.encode())

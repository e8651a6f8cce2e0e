"""The key of Rasa's private routes (erasure, retention) that the gateway and scheduler call.

`GATEWAY_SHARED_SECRET` when set; otherwise a key derived from the installation secret
(common/internal_auth.py), which every process of one installation reads. Compare with
`matches()` (constant time), never with `==`.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path

from common import internal_auth

ENV_VAR = "GATEWAY_SHARED_SECRET"
HEADER = "X-Gateway-Secret"
PURPOSE = "gateway-private-routes"


def var_dir() -> Path:
    """Where runtime files live: BOT_VAR_DIR, else `var/` of the project (as common.settings decides)."""
    configured = os.environ.get("BOT_VAR_DIR", "").strip()
    return Path(configured).resolve() if configured else Path(__file__).resolve().parent.parent / "var"


def shared_secret(directory: Path | None = None) -> str:
    """The private routes' key (the installation secret is created on first use)."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return configured
    return internal_auth.service_key(Path(directory or var_dir()), PURPOSE)


def matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison; a missing or empty value never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())

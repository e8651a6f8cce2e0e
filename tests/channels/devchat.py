"""The local developer token, for tests that speak through the chat API as any channel or user."""

from __future__ import annotations

from common.settings import load_settings
from connectors.webchat import DEV_HEADER, dev_token


def dev_headers() -> dict[str, str]:
    return {DEV_HEADER: dev_token(load_settings().var_dir)}

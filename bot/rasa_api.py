"""Credentials for Rasa's HTTP API (`--enable-api` behind a JWT, see engine/serve.py)."""

from __future__ import annotations

import jwt

from common import internal_auth
from common.settings import Settings


def rasa_api_token(jwt_secret: str) -> str:
    """A JWT for Rasa's HTTP API with the admin role (health checks, loading a model)."""
    return jwt.encode({"user": {"username": "bot", "role": "admin"}}, jwt_secret, algorithm="HS256")


def rasa_api_headers(settings: Settings) -> dict[str, str]:
    secret = internal_auth.service_key(settings.var_dir, internal_auth.RASA_API)
    return {"Authorization": f"Bearer {rasa_api_token(secret)}"}

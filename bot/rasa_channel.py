"""Rasa input channel used by the gateway (engine runtime only; imports no app package).

Rasa's REST channel drops the request's `metadata`; this one passes it on, so
actions know who spoke in a group (`user_id`, `display_name`, ...). Enabled in
`credentials.yml`; the gateway posts to `/webhooks/gateway/webhook`.
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.rest import RestInput
from sanic.request import Request


class GatewayInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "gateway"

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        body = request.json or {}
        metadata = body.get("metadata")
        return metadata if isinstance(metadata, dict) else None

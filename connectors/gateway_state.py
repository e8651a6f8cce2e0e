"""What the gateway's request handlers share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from common.settings import Settings

if TYPE_CHECKING:
    from connectors.channel import Channel
    from connectors.worker import Worker


@dataclass
class GatewayState:
    settings: Settings
    engine: Engine
    worker: Worker
    channels: dict[str, Channel] = field(default_factory=dict)  # "line" / "telegram" adapters that are enabled

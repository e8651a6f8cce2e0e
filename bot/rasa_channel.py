"""Shim: the gateway channel now lives in `engine/channel.py`.

Kept so a `credentials.yml` from before the floor plan (which names
`bot.rasa_channel.GatewayInput`) still starts the Rasa server, e.g. on a rollback.
The current `credentials.yml` names `engine.channel.GatewayInput`.
"""

from engine.channel import GatewayInput, nlu_summary

__all__ = ["GatewayInput", "nlu_summary"]

"""An action server that breaks off during a gateway message: the turn is abandoned unsaved and asked again.

Rasa 3.6 logs a failed action call and carries on without the action's events, saving a
conversation that disagrees with what the action committed. The gateway channel makes the
turn fail instead (engine/channel.py): no tracker save, a 503 the gateway retries, and the
retry is handled afresh (the action, idempotent on the message id, answers as before).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from engine.channel import (
    ActionServerLost,
    GatewayInput,
    TurnAbandoned,
    WatchedActionEndpoint,
    _ABANDON_ON_LOST_ACTION,
    close_action_endpoint,
)

BODY = {"sender": "line:engine-lost", "message": "ต่อใบขับขี่ที่ขนส่ง", "include_nlu": True, "message_id": "line-1-170",
        "metadata": {"channel": "line", "user_id": "engine-lost", "chat_id": "engine-lost", "chat_type": "private"}}


class Endpoint:
    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.url = "http://127.0.0.1:1/webhook"

    async def request(self, **kwargs: Any) -> Any:
        raise self.error


def _call(endpoint: WatchedActionEndpoint, in_gateway_turn: bool) -> None:
    async def go() -> None:
        token = _ABANDON_ON_LOST_ACTION.set(in_gateway_turn)
        try:
            await endpoint.request(json={}, method="post")
        finally:
            _ABANDON_ON_LOST_ACTION.reset(token)

    asyncio.run(go())


def test_a_broken_off_call_abandons_only_a_gateway_turn_and_an_error_answer_does_not() -> None:
    lost = WatchedActionEndpoint(Endpoint(aiohttp.ServerDisconnectedError()))
    assert lost.url.endswith("/webhook")  # everything else is Rasa's endpoint
    with pytest.raises(ActionServerLost):
        _call(lost, in_gateway_turn=True)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        _call(lost, in_gateway_turn=False)  # a REST caller cannot ask again: Rasa's own handling
    with pytest.raises(ActionServerLost):
        _call(WatchedActionEndpoint(Endpoint(asyncio.TimeoutError())), in_gateway_turn=True)
    answered = aiohttp.ClientResponseError(None, (), status=500)  # type: ignore[arg-type]
    with pytest.raises(aiohttp.ClientResponseError):
        _call(WatchedActionEndpoint(Endpoint(answered)), in_gateway_turn=True)  # it answered: not lost
    assert not issubclass(ActionServerLost, Exception)  # passes Rasa's `except Exception` around an action run


class ActionServer:
    """A stand-in action server on loopback: first it hangs up on every call, then it answers."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.hang_up = True
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.calls.append(body.get("next_action", ""))
        if self.hang_up:
            assert request.transport is not None
            request.transport.close()  # killed half way: no answer at all
            await asyncio.sleep(0.2)
            return web.Response(status=500)
        return web.json_response({"events": [], "responses": [{"text": "คำตอบจากแอ็กชัน"}]})

    async def __aenter__(self) -> ActionServer:
        app = web.Application()
        app.router.add_post("/webhook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/webhook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def test_the_trained_assistant_abandons_the_turn_and_handles_the_retry_afresh(trained_model: Path) -> None:
    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints
    from rasa.shared.core.events import UserUttered
    from rasa.utils.endpoints import EndpointConfig

    async def run() -> dict[str, Any]:
        async with ActionServer() as actions:
            agent = await load_agent(model_path=str(trained_model), endpoints=AvailableEndpoints(action=EndpointConfig(actions.url)))
            channel = GatewayInput()
            abandoned = False
            try:
                await channel.answer(dict(BODY), BODY["metadata"], agent, agent.handle_message)
            except TurnAbandoned:
                abandoned = True
            tracker = await agent.tracker_store.retrieve(BODY["sender"])
            saved_after_loss = [e.message_id for e in tracker.events if isinstance(e, UserUttered)] if tracker else []
            calls_while_lost = list(actions.calls)
            actions.hang_up = False  # the action server is back
            retry = await channel.answer(dict(BODY, resumed=True), BODY["metadata"], agent, agent.handle_message)
            tracker = await agent.tracker_store.retrieve(BODY["sender"])
            await close_action_endpoint(agent)  # as Rasa's server does when it stops (engine/serve.py)
            return {"abandoned": abandoned, "saved_after_loss": saved_after_loss, "calls_while_lost": calls_while_lost,
                    "retry": retry, "users": [e.message_id for e in tracker.events if isinstance(e, UserUttered)]}

    out = asyncio.run(run())
    assert out["calls_while_lost"], "the message did not reach a custom action: pick another one"
    assert out["abandoned"] and out["saved_after_loss"] == []  # nothing of the turn was saved
    assert {"recipient_id": BODY["sender"], "text": "คำตอบจากแอ็กชัน"} in out["retry"]["messages"]
    assert out["users"] == [BODY["message_id"]]  # handled once, on the retry
    json.dumps(out["retry"])  # what the gateway receives is plain JSON


def test_action_calls_share_one_kept_alive_connection_and_answer_as_rasas_request() -> None:
    """Rasa opened a connection per action call; the endpoint keeps one (issue #20) with Rasa's request semantics."""
    from rasa.utils.endpoints import ClientResponseError, EndpointConfig

    seen: list[tuple[Any, str | None, dict[str, Any]]] = []

    async def webhook(request: web.Request) -> web.Response:
        seen.append((request.transport, request.headers.get("Authorization"), await request.json()))
        if request.query.get("fail"):
            return web.json_response({"error": "no"}, status=400)
        return web.json_response({"events": [], "responses": [{"text": "รับทราบครับ"}]})

    async def go() -> None:
        app = web.Application()
        app.router.add_post("/webhook", webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        endpoint = WatchedActionEndpoint(EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"Authorization": "Bearer k"}))
        token = _ABANDON_ON_LOST_ACTION.set(True)
        try:
            first = await endpoint.request(json={"next_action": "action_a"}, method="post", timeout=5)
            second = await endpoint.request(json={"next_action": "action_b"}, method="post", timeout=5)
            assert first == second == {"events": [], "responses": [{"text": "รับทราบครับ"}]}
            with pytest.raises(ClientResponseError) as failed:
                await endpoint.request(json={}, method="post", params={"fail": "1"}, timeout=5)
            assert failed.value.status == 400  # an answer, not a lost server
            assert [auth for _, auth, _ in seen] == ["Bearer k"] * 3
            assert [body.get("next_action") for _, _, body in seen[:2]] == ["action_a", "action_b"]
            assert len({id(transport) for transport, _, _ in seen}) == 1  # one connection for all three calls
            kept = endpoint._session
            assert kept is not None and not kept.closed
            agent = type("Agent", (), {"processor": type("Processor", (), {"action_endpoint": endpoint})()})()
            await close_action_endpoint(agent)  # Rasa's server stopping (engine/serve.py)
            assert kept.closed and endpoint._session is None
            await endpoint.request(json={"next_action": "action_c"}, method="post", timeout=5)  # a new session
            assert len({id(transport) for transport, _, _ in seen}) == 2
            await runner.cleanup()  # the action server goes away
            with pytest.raises(ActionServerLost):
                await endpoint.request(json={}, method="post", timeout=5)
        finally:
            _ABANDON_ON_LOST_ACTION.reset(token)
            if endpoint._session is not None:
                await endpoint._session.close()

    asyncio.run(go())

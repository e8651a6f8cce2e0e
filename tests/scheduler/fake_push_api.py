"""A fake push API on 127.0.0.1 that behaves like LINE's for retries.

POST /push with JSON {"to", "text"} and an `X-Line-Retry-Key` header: the first
request with a key is accepted (200), a repeat gets 409 like LINE answers an
already-accepted retry key. Every accepted message is recorded with its arrival
time (`at`, seconds since the epoch). A request cut off in the middle (its sender
was killed) is not accepted, as on LINE.

An aiohttp server on its own event loop in a background thread: keep-alive
connections and no thread per request, so that benchmarks measure the schedulers
rather than the fake. It stops when the `with` block ends.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

from aiohttp import web


class FakePushApi:
    def __init__(self, delay: float = 0.0) -> None:
        self.accepted: list[dict] = []
        self.keys: set[str] = set()
        self.requests = 0
        self.delay = delay
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._started = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    async def _push(self, request: web.Request) -> web.Response:
        try:
            raw = await request.read()
            body = json.loads(raw)
        except (ValueError, ConnectionError, asyncio.IncompleteReadError):
            return web.Response(status=400)
        except Exception:  # noqa: BLE001 - a body cut off by a killed sender: accept nothing
            return web.Response(status=400)
        if not isinstance(body, dict) or "to" not in body:
            return web.Response(status=400)
        if self.delay:
            await asyncio.sleep(self.delay)
        key = request.headers.get("X-Line-Retry-Key", "")
        self.requests += 1  # one event loop: no lock needed
        if key and key in self.keys:
            return web.json_response({}, status=409)
        self.keys.add(key)
        self.accepted.append({"key": key, **body, "at": time.time()})
        return web.json_response({})

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/push", self._push)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
        self._loop.run_until_complete(site.start())
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def __enter__(self) -> FakePushApi:
        self.thread.start()
        self._started.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self.thread.join(30)

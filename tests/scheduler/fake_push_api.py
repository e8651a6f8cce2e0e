"""A fake push API on 127.0.0.1 that behaves like LINE's for retries.

POST /push with JSON {"to", "text"} and an `X-Line-Retry-Key` header: the first
request with a key is accepted (200), a repeat gets 409 like LINE answers an
already-accepted retry key. Every accepted message is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakePushApi:
    def __init__(self, delay: float = 0.0) -> None:
        self.accepted: list[dict] = []
        self.keys: set[str] = set()
        self.requests = 0
        self.delay = delay
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if len(raw) == length else None
                except ValueError:
                    body = None
                if not isinstance(body, dict) or "to" not in body:
                    # a sender killed in the middle of its request: LINE accepts nothing from it
                    self.send_response(400)
                    self.end_headers()
                    return
                key = self.headers.get("X-Line-Retry-Key", "")
                if api.delay:
                    time.sleep(api.delay)
                with api._lock:
                    api.requests += 1
                    duplicate = bool(key) and key in api.keys
                    if not duplicate:
                        api.keys.add(key)
                        api.accepted.append({"key": key, **body})
                self.send_response(409 if duplicate else 200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # the default backlog of 5 drops concurrent connects
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakePushApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

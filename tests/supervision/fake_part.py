"""A cheap stand-in for one part of `bot run`: serves GET /health on 127.0.0.1:<port>.

`python -m tests.supervision.fake_part <port>` serves until killed; `... crash` writes a line
to its log and exits 3 at once (a part that fails during start-up).
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        code = 200 if self.path == "/health" else 404
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *_args: object) -> None:
        pass


def main() -> None:
    if sys.argv[1] == "crash":
        print("fake part: cannot start (configuration error)", flush=True)
        sys.exit(3)
    print("fake part: serving", flush=True)
    HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()


if __name__ == "__main__":
    main()

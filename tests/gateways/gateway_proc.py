"""Run the real gateway (as `bot gateway` does) in its own process, for the kill tests.

usage: python gateway_proc.py PORT [elsewhere]

With "elsewhere" the gateway names itself as if it ran on another machine, so that the others
take its conversations over only when their claims' lease lapses (the path taken when a
machine dies), not at once as for a dead process on this machine.
"""

from __future__ import annotations

import sys
import uuid

import uvicorn

from common.settings import get_settings
from connectors.app import create_app


def main(port: int, elsewhere: bool) -> None:
    app = create_app(get_settings())
    if elsewhere:
        app.state.gateway.worker.owner = f"another-machine:1:1:{uuid.uuid4().hex[:6]}"
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main(int(sys.argv[1]), len(sys.argv) > 2 and sys.argv[2] == "elsewhere")

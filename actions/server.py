"""Our entry point for rasa-sdk's action server: loopback, a shared secret, no data in errors.

rasa-sdk has no authentication option, listens on SANIC_HOST (default 0.0.0.0) and its
500 handler returns the whole request (the tracker: what citizens typed) in the body,
which Rasa then logs. Here the same app is built through rasa-sdk's own `create_app`
and wrapped:

- every route but `/health` needs `Authorization: Bearer <key>` (the action-server key
  derived from the installation secret, see common/internal_auth.py), checked in
  constant time; Rasa sends it through `headers:` in its endpoints file;
- errors answer 500 with a fixed body and are logged without the request;
- it binds to 127.0.0.1 unless ACTION_SERVER_HOST says otherwise (multi-host set-ups);
- no CORS: no browser has any business calling it.

Cold start (issue #20): before it listens (so before `/health` answers and `bot run`
reports it healthy) a law search and a service lookup run once, read-only, loading
what the first citizen's question would otherwise wait for: the law vocabulary built
from the corpus, PyThaiNLP's dictionary and tokenizer, the service catalog.

usage: python -m actions.server [--port 5055]
"""

from __future__ import annotations

import argparse
import logging
import os

from rasa_sdk import endpoint
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request

from common import internal_auth
from common.settings import get_settings

logger = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/health"})


def create_app(key: str, actions_package: str = "actions") -> Sanic:
    executor = ActionExecutor()
    executor.register_package(actions_package)
    app = endpoint.create_app(executor, cors_origins="")

    @app.on_request
    async def require_key(request: Request):  # type: ignore[no-untyped-def]
        if request.path in OPEN_PATHS:
            return None
        if not internal_auth.bearer_matches(request.headers.get("Authorization"), key):
            return response.json({"error": "unauthorized"}, status=401)
        return None

    async def no_body_on_error(request: Request, exception: Exception):  # type: ignore[no-untyped-def]
        # The request body is the tracker: never echo it, never log it.
        logger.error("action server error on %s: %s", request.path, type(exception).__name__)
        return response.json({"error": "internal error"}, status=500)

    # Replace rasa-sdk's handler (it answers with the request body); Sanic refuses a second
    # registration for the same key, so the entry is swapped in place.
    app.error_handler.cached_handlers.pop((Exception, None), None)
    app.error_handler.add(Exception, no_body_on_error)
    return app


WARM_LAW_QUERY = "กฎหมายคุ้มครองแรงงานเรื่องค่าจ้าง"
WARM_SERVICE_QUERY = "ทำบัตรประชาชนใช้อะไรบ้าง"


def warm_up() -> float:
    """One law search and one service card (read-only, nothing sent); seconds taken. A failure only costs the first question time."""
    import time

    from rasa_sdk.executor import CollectingDispatcher

    from actions import db
    from actions.services import utter_service_card
    from storage.laws.search import search_laws
    from storage.laws.sections import best_sections
    from storage.services import find_services

    began = time.perf_counter()
    try:
        with db.session() as session:
            hits = search_laws(session, WARM_LAW_QUERY)
            if hits:
                best_sections(session, hits[0].law_id, WARM_LAW_QUERY)
            match = find_services(session, text=WARM_SERVICE_QUERY)
            if match.single is not None:  # the card too: the agency, the laws it rests on (thrown away)
                utter_service_card(CollectingDispatcher(), session, match.single)
    except Exception as exc:  # noqa: BLE001 - e.g. a database without the corpus yet
        logger.warning("action server warm-up failed (%s)", type(exc).__name__)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    settings = get_settings()
    parser.add_argument("--port", type=int, default=settings.action_server_port)
    parser.add_argument("--host", default=os.environ.get("ACTION_SERVER_HOST", "127.0.0.1"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    key = internal_auth.service_key(settings.var_dir, internal_auth.ACTION_SERVER)
    from actions.idempotency import HOOKS_ENV, PAUSE_ENV

    if os.environ.get(HOOKS_ENV) == "1" and os.environ.get(PAUSE_ENV):
        logger.warning("TEST HOOK ACTIVE: %s pauses after it commits (%s=1); never set this outside tests", os.environ[PAUSE_ENV], HOOKS_ENV)
    app = create_app(key)
    logger.info("action server warmed up in %.1f s", warm_up())
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()

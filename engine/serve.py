"""Start `rasa run` with its HTTP API behind a JWT, without the secret on the command line.

Rasa's `--auth-token` is read from the query string and compared with `==`; its JWT
option takes a header. The JWT secret (derived from the installation secret, see
common/internal_auth.py) is passed here in the environment (RASA_JWT_SECRET) and added
to Rasa's arguments inside this process, so it never shows in `ps`.

Cold start (issue #20): the first message after start used to pay for the first NLU
call (tokenizer dictionaries, TensorFlow tracing) and the first policy prediction. Once
the model is loaded, and before the server accepts connections (so before `/status`
answers and `bot run` reports the engine healthy), a law question, a service question
and a greeting are parsed and predicted on a throwaway tracker (nothing is stored).

Throughput (issue #20, found by profiling the message path): Rasa checks every action
server response with `jsonschema.validate`, which first validates Rasa's own constant
response schema against the JSON Schema metaschema - about 30 times the work of checking
the response (159 ms against 5 ms per custom action call on the loaded test machine, the
largest single cost of a message). Here the schema is checked once at start and each
event is validated against its own branch of the schema: the same verdict, the same error on
a bad response. Rasa also found an event's class by walking every Event subclass for each
event it read (`install_fast_event_lookup`).

usage: python -m engine.serve run --enable-api ... (any `rasa` arguments)
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

JWT_ENV = "RASA_JWT_SECRET"
WARM_TEXTS = ("กฎหมายคุ้มครองแรงงานว่าอย่างไร", "ทำบัตรประชาชนใช้อะไรบ้าง", "สวัสดีครับ")

logger = logging.getLogger(__name__)


async def warm_up(agent: Any) -> float:
    """Parse and predict a few typical messages on a throwaway tracker; seconds taken. Nothing is stored."""
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    began = time.perf_counter()
    processor = getattr(agent, "processor", None)
    if processor is None:
        return 0.0
    for text in WARM_TEXTS:
        parse = await processor.parse_message(UserMessage(text, sender_id="warm-up"))
        tracker = DialogueStateTracker.from_events(
            "warm-up",
            [ActionExecuted(ACTION_LISTEN_NAME), UserUttered(text, parse.get("intent"), parse.get("entities"), parse_data=parse)],
            processor.domain.slots,
        )
        processor.predict_next_with_tracker(tracker)
    return time.perf_counter() - began


def install_fast_action_validation() -> None:
    """Validate action server responses against Rasa's schema with validators built (and the schema checked) once.

    Each event is checked against the one branch of the schema's `oneOf` that its `event` name
    selects: every branch fixes `event` to a different constant, so an event matches exactly one
    branch if and only if it matches that one, and the other 22 need not be tried (the largest
    part of the check). Anything this does not pass goes to Rasa's own check, which gives its
    verdict and its explained error.
    """
    import copy

    import jsonschema
    from rasa.core.actions.action import RemoteAction

    if getattr(RemoteAction._validate_action_result, "_engine_fast", False):
        return
    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    lean = copy.deepcopy(schema)
    branches = lean["properties"]["events"]["items"].pop("oneOf")
    by_event = {branch["properties"]["event"]["const"]: validator_class(branch) for branch in branches}
    if len(by_event) != len(branches):  # a future schema without one constant per branch: check it whole
        by_event, lean = {}, schema
    lean_validator = validator_class(lean)
    rasa_validate = RemoteAction._validate_action_result

    def passes(result: Any) -> bool:
        if not lean_validator.is_valid(result):
            return False
        if lean is schema:
            return True
        for event in result.get("events") or []:
            branch = by_event.get(event.get("event")) if isinstance(event.get("event"), str) else None
            if branch is None or not branch.is_valid(event):
                return False
        return True

    def validate(self: Any, result: dict[str, Any]) -> bool:
        if passes(result):
            return True
        return rasa_validate(self, result)  # Rasa's own check: its verdict, its explained error

    validate._engine_fast = True  # type: ignore[attr-defined]
    RemoteAction._validate_action_result = validate  # type: ignore[method-assign]


def _install_warm_up() -> None:
    """Wrap Rasa's start-up listener: load the agent, then warm it, before the server takes requests."""
    import rasa.core.run as rasa_run

    load = rasa_run.load_agent_on_start

    async def load_and_warm(*args: Any, **kwargs: Any) -> Any:
        agent = await load(*args, **kwargs)
        try:
            logger.info("engine warmed up in %.1f s", await warm_up(agent))
        except Exception as exc:  # noqa: BLE001 - a failed warm-up only costs the first message time
            logger.warning("engine warm-up failed (%s); the first messages will be slower", type(exc).__name__)
        return agent

    rasa_run.load_agent_on_start = load_and_warm


def _install_disconnect() -> None:
    """Wrap Rasa's shut-down listener: its own clean-up, then the action endpoint's kept-alive session."""
    import rasa.core.run as rasa_run

    close = rasa_run.close_resources

    async def close_and_disconnect(app: Any, loop: Any) -> None:
        """Rasa's own clean-up, then the action endpoint's kept-alive session (engine/channel.py)."""
        from engine.channel import close_action_endpoint

        try:
            await close(app, loop)
        finally:
            await close_action_endpoint(getattr(app.ctx, "agent", None))

    rasa_run.close_resources = close_and_disconnect


def install_fast_event_lookup() -> None:
    """Find an event's class by its name in a table instead of walking every Event subclass per event.

    Rasa 3.6's `Event.resolve_by_type` (used by `Event.from_parameters` for every event the
    tracker store loads and every event an action returns) rebuilds the list of all Event
    subclasses on each call: 94 % of the time spent turning stored events back into objects, a
    tenth of Rasa's work per message (profile in benchmarks/engine.py --profile). The table is
    filled from the same walk, keeps the first class per name as Rasa's loop does, and is rebuilt
    when a name is not in it (a subclass defined later); unknown names go to Rasa's own method
    (its `default`, the old "topic" events, its error).
    """
    import rasa.shared.utils.common as common
    from rasa.shared.core.events import Event

    if getattr(Event.resolve_by_type, "_engine_fast", False):
        return
    rasa_resolve = Event.resolve_by_type
    classes: dict[str, type] = {}

    def resolve_by_type(type_name: str, default: type | None = None) -> type | None:
        found = classes.get(type_name)
        if found is None:
            table: dict[str, type] = {}
            for cls in common.all_subclasses(Event):
                table.setdefault(cls.type_name, cls)
            classes.clear()
            classes.update(table)
            found = classes.get(type_name)
        return found if found is not None else rasa_resolve(type_name, default)

    resolve_by_type._engine_fast = True  # type: ignore[attr-defined]
    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign,assignment]


ACTION_TIMEOUT_ENV = "ACTION_TIMEOUT"  # seconds Rasa waits for the action server (Rasa's own default: 300)


def install_action_timeout() -> float | None:
    """Make Rasa give up on the action server after ACTION_TIMEOUT seconds (docs/deploy.md).

    Rasa 3.6 hard-codes 5 minutes; the Redis lock store's ticket lifetime (TICKET_LOCK_LIFETIME)
    must exceed the longest turn, and a turn's longest part is its action calls, so a bounded
    action call is what makes the lock lifetime a true bound (bot run sets both).
    """
    raw = os.environ.get(ACTION_TIMEOUT_ENV, "").strip()
    if not raw:
        return None
    seconds = float(raw)
    import rasa.core.actions.action as action_module

    action_module.DEFAULT_REQUEST_TIMEOUT = seconds  # read at each call of RemoteAction.run
    return seconds


def main() -> None:
    secret = os.environ.pop(JWT_ENV, "").strip()
    args = sys.argv[1:]
    if "--enable-api" in args:
        if not secret:
            sys.exit(f"{JWT_ENV} is required when the HTTP API is enabled")
        args += ["--jwt-secret", secret, "--jwt-method", "HS256"]
    if "--debug" in args or "-vv" in args:
        sys.exit("refusing --debug: Rasa's debug log holds what people typed")
    sys.argv = ["rasa", *args]
    if args[:1] == ["run"]:
        install_fast_action_validation()
        install_fast_event_lookup()
        install_action_timeout()
        _install_warm_up()
        _install_disconnect()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()

"""Which `/intent{...}` texts may reach Rasa as an intent: the shapes our own buttons send, nothing else.

Rasa reads a message `/<intent>{json}` as that intent with those entities, skipping NLU
(rasa/shared/core/training_data/story_reader/yaml_story_reader.py `unpack_regex_message`).
Our buttons use this on purpose (`/search_law{"law_id": "12"}`), but anybody can type it:
`/request_service{"service": {"a": 1}}` would put a dict into a slot that later sessions and
actions read as text. So every text bound for Rasa passes `as_user_text` here, in the gateway,
the one place all channels (LINE, Telegram, web chat, `bot shell`) go through before Rasa:

- a text Rasa would unpack (it starts with "/", and the name before "{" or "@" is an intent of
  the domain) is passed on only when the intent is one a button sends (`BUTTON_PAYLOADS`), with
  only the entities that button carries, each a short string of the expected shape, and without
  Rasa's "@confidence" or trailing words;
- anything else is handed on as words: the leading slashes go, so NLU reads it like any message.

Officials' slash commands ("/newtask ร่าง TOR", "/remind พรุ่งนี้ 9 โมง ประชุม", "/tasks ของฉัน") are
explicit: `rasa_message` sends each as its intent (`/create_task`, `/set_reminder`, `/list_tasks`), never
through the classifier, and the words after the command travel verbatim in the message metadata
(`command_text`, read by actions/officials.py). That payload is built here from the command, after the
allow-list: a typed `/create_task{...}` is still only words.

Why the gateway and not engine/channel.py: the allow-list is built from the app's buttons
(tests/security/test_payloads.py checks it against every payload in actions/, common/, connectors/
and bot/domain/), the app runtime can test it without Rasa, and the NLU capture then records
what Rasa really read.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from datetime import datetime

import yaml

from common.ids import COMMAND_TEXT, parse_request_id, parse_task_id
from common.numbers import parse_number
from common.settings import PROJECT_ROOT
from common.thai_datetime import EARLIEST_YEAR, LATEST_YEAR

DOMAIN_DIR = PROJECT_ROOT / "bot" / "domain"

# Rasa's own pattern (yaml_story_reader.YAMLStoryReader._regex_message_pattern).
_RASA_INTENT_MESSAGE = re.compile(r"^/(?P<intent>[^{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>{.+})?(?P<rest>.*)", re.DOTALL)
_WORD = re.compile(r"^\w+$")
_LEADING = re.compile(r"^[\s/]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f{}]")
_STATUS = re.compile(r"^[a-z_]{1,24}$")
MAX_VALUE = 200


def _text(value: str) -> bool:
    return 0 < len(value) <= MAX_VALUE and not _CONTROL.search(value)


def _iso_time(value: str) -> bool:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return False
    return EARLIEST_YEAR <= moment.year <= LATEST_YEAR


def _law_id(value: str) -> bool:
    return parse_number(value, thai=False) is not None


def _request_id(value: str) -> bool:
    return len(value) <= 16 and parse_request_id(value) is not None


def _task_id(value: str) -> bool:
    return len(value) <= 16 and parse_task_id(value) is not None


def _status(value: str) -> bool:
    return bool(_STATUS.match(value))


def _section(value: str) -> bool:
    return _text(value) and len(value) <= 24


Check = Callable[[str], bool]
ENTITY_CHECKS: dict[str, Check] = {
    "service": _text,
    "law_topic": _text,
    "law_id": _law_id,
    "law_section": _section,
    "agency": _text,  # a name, or "#<agency id>!" (actions/request_handling.py)
    "request_id": _request_id,
    "request_status": _status,
    "task_id": _task_id,
    "task_title": _text,
    "task_status": _status,
    "time": _iso_time,
}

# intent -> the entities its buttons carry (grep: '"payload": "/', "button(..., '/" in actions/,
# common/replies.py, bot/domain/*.yml, connectors/line_rich_menu.json, telegram.command_to_text).
BUTTON_PAYLOADS: dict[str, frozenset[str]] = {
    "affirm": frozenset(),
    "deny": frozenset(),
    "help": frozenset(),
    "human_handoff": frozenset(),
    "list_tasks": frozenset(),
    "search_law": frozenset({"law_id", "law_topic", "law_section"}),
    "ask_service_info": frozenset({"service"}),
    "request_service": frozenset({"service"}),
    "check_request_status": frozenset({"request_id"}),
    "cancel_request": frozenset({"request_id"}),
    "rate_service": frozenset({"request_id"}),
    "report_obstacle": frozenset({"law_topic", "service"}),
    "update_request_status": frozenset({"request_id", "request_status", "agency"}),
    "update_task_status": frozenset({"task_id", "time", "task_status"}),
    "set_reminder": frozenset({"time", "task_title"}),  # task_title: the reminder's words (actions/officials.py reminder_payload)
    "share_photo": frozenset(),  # sent by the gateway for a LINE image (connectors/line.py PHOTO_PAYLOAD); the photo is in metadata
}


@functools.lru_cache(maxsize=1)
def domain_intents() -> frozenset[str] | None:
    """The intents of bot/domain/*.yml; None when the domain cannot be read (then every word counts)."""
    names: set[str] = set()
    try:
        for path in sorted(DOMAIN_DIR.glob("*.yml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for item in data.get("intents") or []:
                names.add(next(iter(item)) if isinstance(item, dict) else str(item))
    except (OSError, yaml.YAMLError, AttributeError):
        return None
    return frozenset(names) or None


def _would_unpack(intent: str) -> bool:
    """Would Rasa read this name as an intent? (only domain intents; others stay words)."""
    known = domain_intents()
    return intent in known if known is not None else bool(_WORD.match(intent))


def is_button_payload(text: str) -> bool:
    """Exactly the shape one of our buttons sends: a known intent, its own entities, short strings."""
    match = _RASA_INTENT_MESSAGE.match(text.strip())
    if match is None or match.group("confidence") or match.group("rest").strip():
        return False
    allowed = BUTTON_PAYLOADS.get(match.group("intent").strip())
    if allowed is None:
        return False
    raw = match.group("entities")
    if raw is None:
        return True
    try:
        entities = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    if not isinstance(entities, dict) or not set(entities) <= allowed:
        return False
    return all(isinstance(value, str) and ENTITY_CHECKS[name](value) for name, value in entities.items())


def as_user_text(text: str) -> str:
    """`text` as Rasa may read it: a button's payload unchanged, any other `/intent{...}` as plain words."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return text
    match = _RASA_INTENT_MESSAGE.match(stripped)
    if match is None or not _would_unpack(match.group("intent").strip()):
        return text  # "/newtask ร่าง TOR": Rasa reads it as words anyway
    if is_button_payload(stripped):
        return stripped
    return _LEADING.sub("", stripped) or text


# officials' slash command -> the intent it stands for (connectors/telegram.py COMMANDS lists them for people)
COMMAND_INTENTS: dict[str, str] = {"newtask": "create_task", "remind": "set_reminder", "tasks": "list_tasks"}
_COMMAND = re.compile(r"^/(?P<name>[A-Za-z]+)(?:@\w+)?(?=\s|$)(?P<rest>.*)", re.DOTALL)


def command_of(text: str) -> tuple[str, str] | None:
    """(intent, the words after the command) for an officials' slash command, else None.

    "/newtask เตรียมข้อมูลผู้เสียภาษี" -> ("create_task", "เตรียมข้อมูลผู้เสียภาษี"); "/newtask@thgov_bot x" too.
    """
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    intent = COMMAND_INTENTS.get(match.group("name").lower())
    return (intent, match.group("rest").strip()) if intent else None


def rasa_message(text: str) -> tuple[str, dict[str, str]]:
    """What Rasa gets for `text`: (message, metadata to add). A command is its intent's payload, its
    words in the metadata; anything else is `as_user_text(text)` with nothing added."""
    command = command_of(text)
    if command is None:
        return as_user_text(text), {}
    intent, words = command
    return f"/{intent}", {COMMAND_TEXT: words}

"""Keyed pseudonyms for the people behind captured messages (HMAC-SHA256 of `<channel>:<user id>`).

Nobody without the key can link a pseudonym back to a person; PDPA access and erasure
compute the pseudonym of the person asking (storage.privacy).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any

from common.ids import parse_sender_id
from common.settings import get_settings

logger = logging.getLogger(__name__)

SECRET_ENV = "NLU_PSEUDONYM_SECRET"
SECRET_FILE = "nlu_pseudonym.key"


def pseudonym_secret(var_dir: Path | None = None, *, create: bool = True) -> bytes | None:
    """The key for pseudonyms: NLU_PSEUDONYM_SECRET, else a random key kept in `<var>/nlu_pseudonym.key`.

    Several machines sharing one database must set NLU_PSEUDONYM_SECRET to the same value.
    """
    configured = os.environ.get(SECRET_ENV, "").strip()
    if configured:
        return configured.encode()
    if var_dir is None:
        var_dir = get_settings().var_dir
    path = Path(var_dir) / SECRET_FILE
    for _ in range(50):
        try:
            key = path.read_bytes().strip()
        except FileNotFoundError:
            if not create:
                return None
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue  # another process is creating it
            key = secrets.token_hex(32).encode()
            with os.fdopen(fd, "wb") as f:
                f.write(key)
            return key
        if key:
            return key
        time.sleep(0.01)  # created a moment ago, not written yet
    raise RuntimeError(f"{path} is empty")


def pseudonym(person_key: str, secret: bytes) -> str:
    """A stable pseudonym for `<channel>:<user id>` that nobody without the secret can link back."""
    return hmac.new(secret, person_key.encode(), hashlib.sha256).hexdigest()[:32]


def person_key(conversation: str, metadata: dict[str, Any]) -> str:
    """`<channel>:<user id>` of the person who spoke, read as actions.identity.speaker_of reads it."""
    parsed = parse_sender_id(conversation)
    channel = str(metadata.get("channel") or parsed.channel)
    chat_id = str(metadata.get("chat_id") or parsed.chat_id or conversation)
    user_id = str(metadata.get("user_id") or parsed.user_id or chat_id)
    return f"{channel}:{user_id}"


def pseudonym_for(person: str, var_dir: Path | None = None) -> str | None:
    """The pseudonym captures of `person` carry; None when no key exists yet (then nothing was captured)."""
    try:
        secret = pseudonym_secret(var_dir, create=False)
    except (OSError, RuntimeError) as exc:  # unreadable key: the caller's other work (e.g. erasure) goes on
        logger.warning("cannot read the NLU pseudonym key (%s)", type(exc).__name__)
        return None
    return pseudonym(person, secret) if secret else None

"""Whole numbers people and clients send: ASCII digits (and Thai digits where people type them), bounded.

`str.isdigit()` is True for "²" and "①", which `int()` refuses, and `int()` accepts any length:
an id of 10**21 overflows the database's integers. Every number read from outside goes through here.
"""

from __future__ import annotations

import re

_ASCII = re.compile(r"[0-9]+")
_THAI_TO_ASCII = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
BIGINT_DIGITS = 18  # fits a signed 64-bit column (SQLite INTEGER, PostgreSQL BIGINT)
INT_DIGITS = 9  # fits a signed 32-bit column


def parse_number(text: object, *, max_digits: int = INT_DIGITS, thai: bool = True) -> int | None:
    """The number `text` spells with ASCII (or, with `thai`, Thai) digits only; None for anything else.

    Ints pass through when within `max_digits`; bools, floats, "²", "-1", "1e3", "" and longer numbers are None.
    """
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if 0 <= text < 10**max_digits else None
    if not isinstance(text, str):
        return None
    if thai:
        text = text.translate(_THAI_TO_ASCII)
    if len(text) > max_digits or not _ASCII.fullmatch(text):
        return None
    return int(text)

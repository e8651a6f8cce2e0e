"""Clean what people send before it goes anywhere."""

from __future__ import annotations

import re
import unicodedata

from common.thai_text import strip_bidi_controls

_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b\u2028\u2029\ufeff]")


def clean_text(text: str, limit: int) -> tuple[str, bool]:
    """Drop control and bidi formatting characters, normalise Unicode (NFC), trim and cut to `limit`; says whether it was cut."""
    text = strip_bidi_controls(_CONTROL.sub("", unicodedata.normalize("NFC", text))).strip()
    if len(text) > limit:
        return text[:limit].rstrip(), True
    return text, False

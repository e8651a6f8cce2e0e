"""Masking of personal data in text kept for review (NLU captures, the admin page).

Thai national ID numbers (13 digits in any grouping), passport numbers (one or two
letters and 7 digits), phone numbers as people really type them ("(02) 123 4567",
"081 - 234 - 5678", "081/234/5678", +66, no-break spaces, en dashes, Thai or
full-width digits), e-mail addresses and other long digit runs are replaced
with Thai placeholders; `Masked.position` maps offsets of the original text onto
the masked text so that entity spans can be moved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Digits as people type them: Arabic, Thai and full-width (phones copied from web pages and IMEs).
_D = "0-9\u0e50-\u0e59\uff10-\uff19"
_ZERO = "0\u0e50\uff10"
# Spaces: ASCII, tab, no-break, figure, narrow no-break, ideographic.
_SP = "[ \t\u00a0\u2007\u202f\u3000]"
# Between two digit groups: spaces alone, or a dash/dot (hyphen, en/em dash, minus, full-width) with up to two spaces each side.
_DASH = "[\\-.\u2010-\u2015\u2212\ufe63\uff0d\uff0e]"
_SEP = f"(?:{_SP}{{0,2}}{_DASH}{_SP}{{0,2}}|{_SP}{{1,2}})"
# Phones also come as 081/234/5678 (never used for other numbers: dates are written that way).
_PSEP = f"(?:{_SEP}|{_SP}{{0,2}}[/\uff0f]{_SP}{{0,2}})"
_PHONE = (
    # +66 81 234 5678, (+66) 2 123 4567, +66 (0) 81 234 5678
    rf"(?:\(?\+?(?:66|๖๖|\uff16\uff16)\)?{_PSEP}?(?:\({_SP}?[{_ZERO}]{_SP}?\){_PSEP}?)?[{_D}](?:{_PSEP}?[{_D}]){{7,8}}"
    # (02) 123 4567, (081) 234-5678, (053) 123 456
    rf"|\({_SP}?[{_ZERO}][{_D}]{{1,2}}{_SP}?\){_PSEP}?[{_D}](?:{_PSEP}?[{_D}]){{5,6}}"
    # 081-234-5678, 081 - 234 - 5678, 02 123 4567, 081/234/5678
    rf"|[{_ZERO}][{_D}](?:{_PSEP}?[{_D}]){{7,8}})"
)
MASKS = {
    "email": "<อีเมล>",
    "national_id": "<เลขบัตรประชาชน>",
    "passport": "<เลขหนังสือเดินทาง>",
    "phone": "<เบอร์โทร>",
    "number": "<ตัวเลข>",
}
_PERSONAL = re.compile(
    rf"""
    (?P<email>[\w\u0e00-\u0e7f.+-]+@[\w\u0e00-\u0e7f-]+(?:\.[\w\u0e00-\u0e7f-]+)+)
  | (?P<national_id>(?<![{_D}])[{_D}](?:{_SEP}?[{_D}]){{12}}(?![{_D}]))
  | (?P<passport>(?<![A-Za-z0-9{_D}])[A-Za-z]{{1,2}}{_SEP}?[{_D}]{{7}}(?![A-Za-z{_D}]))
  | (?P<phone>(?<![A-Za-z{_D}+]){_PHONE}(?![{_D}]))
  | (?P<number>(?<![{_D}])[{_D}](?:{_SEP}?[{_D}]){{8,}}(?![{_D}]))
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Masked:
    text: str
    spans: tuple[tuple[int, int, int, int], ...] = ()  # (original start, original end, masked start, masked end)

    @property
    def changed(self) -> bool:
        return bool(self.spans)

    def position(self, offset: int) -> int | None:
        """`offset` in the original text as an offset in the masked text (None: inside a masked part)."""
        shift = 0
        for o_start, o_end, m_start, m_end in self.spans:
            if offset <= o_start:
                break
            if offset < o_end:
                return None
            shift = m_end - o_end
        return offset + shift


def mask_personal_data(text: str) -> Masked:
    """Replace national ID, passport and phone numbers, e-mail addresses and long digit runs with placeholders."""
    out: list[str] = []
    spans: list[tuple[int, int, int, int]] = []
    last = 0
    length = 0
    for match in _PERSONAL.finditer(text):
        placeholder = MASKS[match.lastgroup or "number"]
        out.append(text[last : match.start()])
        length += match.start() - last
        spans.append((match.start(), match.end(), length, length + len(placeholder)))
        out.append(placeholder)
        length += len(placeholder)
        last = match.end()
    out.append(text[last:])
    return Masked("".join(out), tuple(spans))


def mask_entities(masked: Masked, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entities moved onto the masked text; those inside a masked part are dropped (their value is personal)."""
    moved: list[dict[str, Any]] = []
    for entity in entities:
        start, end = entity.get("start"), entity.get("end")
        if not isinstance(start, int) or not isinstance(end, int) or not entity.get("entity"):
            continue
        new_start, new_end = masked.position(start), masked.position(end)
        if new_start is None or new_end is None or any(o_s < end and start < o_e for o_s, o_e, _, _ in masked.spans):
            continue
        value = entity.get("value")
        moved.append({
            "entity": str(entity["entity"])[:64],
            "start": new_start,
            "end": new_end,
            "value": value if isinstance(value, (str, int, float, bool)) else None,
        })
    return moved


__all__ = ["MASKS", "Masked", "mask_entities", "mask_personal_data"]

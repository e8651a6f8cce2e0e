"""Thai text segmentation with offsets that always point into the original text.

Pure functions shared by the Rasa tokenizer component (engine runtime) and
anything else that needs the same tokens. Imports no app package.

Normalisation helps matching without moving entity spans:
- Thai digits become Arabic digits (one character for one);
- the two-glyph SARA AM (NIKHAHIT + SARA AA) becomes the single ำ;
- a character typed three or more times in a row for emphasis (มากกกก, ค่าาาา)
  counts once;
- Latin letters are lower-cased in the token text.
Each token keeps `start`/`end` in the original string, so `text[start:end]` is
exactly what the user typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

# Bidirectional formatting characters: embeddings and overrides (U+202A-U+202E), isolates
# (U+2066-U+2069), the left-to-right / right-to-left / Arabic letter marks (U+200E, U+200F, U+061C).
# Thai needs none of them, and an override can make "REQ-000123 ยกเลิก" display as something else
# in an officials' group ("Trojan Source"): the gateway drops them from what people send.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


def strip_bidi_controls(text: str) -> str:
    """`text` without bidirectional formatting characters (BIDI_CONTROLS)."""
    return _BIDI.sub("", text)


THAI_DIGITS = "๐๑๒๓๔๕๖๗๘๙"
_DIGIT_MAP = {ord(t): str(i) for i, t in enumerate(THAI_DIGITS)}
_NIKHAHIT = "\u0e4d"
_SARA_AA = "\u0e32"
_SARA_AM = "\u0e33"

# Chunks, tried in order at each position. Whitespace is dropped, everything else kept.
_CHUNK = re.compile(
    r"""
    (?P<url>(?:https?://|www\.)\S+)
  | (?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)
  | (?P<id>(?i:req|t)[-_]?[0-9]+(?![0-9]))
  | (?P<latin>[A-Za-z][A-Za-z0-9_'-]*)
  | (?P<number>[0-9]+(?:[.,:/][0-9]+)*%?)
  | (?P<abbr>(?:[\u0e01-\u0e2e]\.){2,}(?:[\u0e01-\u0e2e](?![\u0e01-\u0e4e]))?)
  | (?P<thai>[\u0e01-\u0e4e\u0e50-\u0e5b]+)
  | (?P<space>\s+)
  | (?P<other>.)
    """,
    re.VERBOSE,
)
_PUNCTUATION = set("""!"#$&'()*+,-./:;<=>@[\\]^_`{|}~“”‘’…""")


@dataclass(frozen=True)
class Piece:
    """One token: normalised text plus its span in the original string."""

    text: str
    start: int
    end: int


def normalise_char_runs(text: str) -> tuple[str, list[int]]:
    """Normalise `text`; return it with, for each output character, its index in `text`."""
    out: list[str] = []
    index: list[int] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == _NIKHAHIT and i + 1 < n and text[i + 1] == _SARA_AA:
            out.append(_SARA_AM)
            index.append(i)
            i += 2
            continue
        ch = ch.translate(_DIGIT_MAP)
        # Collapse a run of three or more identical Thai characters (emphasis) to one.
        if "\u0e01" <= ch <= "\u0e4e":
            j = i
            while j < n and text[j] == text[i]:
                j += 1
            if j - i >= 3:
                out.append(ch)
                index.append(i)
                i = j
                continue
        out.append(ch)
        index.append(i)
        i += 1
    return "".join(out), index


def normalise(text: str) -> str:
    return normalise_char_runs(text)[0]


@lru_cache(maxsize=8)
def _trie(extra_words: frozenset[str]):  # type: ignore[no-untyped-def]
    """newmm's dictionary plus the given words (None: the default dictionary as it is)."""
    if not extra_words:
        return None
    from pythainlp.corpus import thai_words
    from pythainlp.util import Trie

    words = set(thai_words())
    words.update(normalise(w) for w in extra_words if w.strip())
    return Trie(words)


def _segment_thai(chunk: str, extra_words: frozenset[str]) -> list[str]:
    from pythainlp.tokenize import word_tokenize

    return word_tokenize(chunk, custom_dict=_trie(extra_words), engine="newmm", keep_whitespace=False)


def _is_dropped(text: str) -> bool:
    return text.isspace() or all(c in _PUNCTUATION for c in text)


def _split_at(start: int, end: int, boundaries: Iterable[int]) -> list[tuple[int, int]]:
    cuts = sorted(b for b in set(boundaries) if start < b < end)
    edges = [start, *cuts, end]
    return list(zip(edges, edges[1:]))


_CONSONANTS_ONLY = re.compile(r"[\u0e01-\u0e2e]{1,5}")


def tokenize(
    text: str,
    extra_words: Iterable[str] = (),
    boundaries: Iterable[int] = (),
    abbreviation_dots: bool = False,
) -> list[Piece]:
    """Split `text` into tokens.

    `extra_words` extends the newmm dictionary (agency and service names...).
    `boundaries` are offsets in `text` that must fall between tokens (training
    examples pass their entity spans so annotations always align with tokens).
    `abbreviation_dots`: a word of consonants only followed by a dot keeps its dot
    ("กทม.", "สปสช.", "น." in "14.00 น.", "ป." in "ป.แพ่ง"), at training and at run
    time alike; otherwise the dot was kept only where an annotation ended after it.
    """
    words = frozenset(extra_words)
    norm, index = normalise_char_runs(text)
    # Boundaries are given in original offsets; translate to normalised offsets.
    orig_to_norm = {orig: pos for pos, orig in enumerate(index)}
    norm_bounds = [orig_to_norm[b] for b in boundaries if b in orig_to_norm]

    def original_span(s: int, e: int) -> tuple[int, int]:
        start = index[s]
        end = index[e] if e < len(index) else len(text)
        return start, end

    pieces: list[Piece] = []
    for match in _CHUNK.finditer(norm):
        kind = match.lastgroup
        if kind == "space":
            continue
        for s, e in _split_at(match.start(), match.end(), norm_bounds):
            chunk = norm[s:e]
            if kind == "thai":
                pos = s
                for word in _segment_thai(chunk, words):
                    w_start = norm.find(word, pos)
                    if w_start < 0:  # newmm never rewrites text; keep going defensively
                        continue
                    pos = w_start + len(word)
                    if not _is_dropped(word):
                        if (abbreviation_dots and pos == e and norm[e : e + 1] == "." and e not in norm_bounds
                                and _CONSONANTS_ONLY.fullmatch(word)):
                            word, pos = word + ".", pos + 1
                        o_start, o_end = original_span(w_start, pos)
                        pieces.append(Piece(word, o_start, o_end))
                continue
            if kind in ("id", "latin", "email", "url"):
                chunk = chunk.lower()
            elif _is_dropped(chunk):
                continue
            pieces.append(Piece(chunk, *original_span(s, e)))
    if boundaries:
        pieces = _stretch_to_boundaries(text, pieces, boundaries)
    return pieces


def _stretch_to_boundaries(text: str, pieces: list[Piece], boundaries: Iterable[int]) -> list[Piece]:
    """Let a token absorb dropped punctuation up to an annotated boundary ("[กทม.](agency)")."""
    ends = {p.end for p in pieces}
    out = list(pieces)
    for b in sorted(set(boundaries)):
        if b in ends:
            continue
        for i, p in enumerate(out):
            gap = text[p.end : b]
            if p.end < b and gap and all(c in _PUNCTUATION for c in gap):
                out[i] = Piece(p.text + gap, p.start, b)
                break
    return out

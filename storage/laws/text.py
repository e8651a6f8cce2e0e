"""Thai text handling for law search: normalisation, abbreviations, tokens."""

from __future__ import annotations

import re
from functools import lru_cache

from common.thai_text import normalise as normalise_chars
from common.thai_text import tokenize

UPDATE_MARK = re.compile(r"\s*\(\s*ฉบับ\s*Update\s*ล่าสุด\s*\)\s*", re.IGNORECASE)

# Written forms -> the words titles use. Order matters: longer forms first.
ABBREVIATIONS: list[tuple[str, str]] = [
    (r"พ\.?\s?ร\.?\s?บ\.?\s?", "พระราชบัญญัติ "),
    (r"พ\.?\s?ร\.?\s?ก\.?\s?", "พระราชกำหนด "),
    (r"พ\.?\s?ร\.?\s?ฎ\.?\s?", "พระราชกฤษฎีกา "),
    (r"ป\.\s?พ\.\s?พ\.?\s?", "ประมวลกฎหมายแพ่งและพาณิชย์ "),
    (r"ป\.\s?อ\.\s?", "ประมวลกฎหมายอาญา "),
    (r"ป\.\s?วิ\.\s?อาญา\s?", "ประมวลกฎหมายวิธีพิจารณาความอาญา "),
    (r"ป\.\s?วิ\.\s?แพ่ง\s?", "ประมวลกฎหมายวิธีพิจารณาความแพ่ง "),
    (r"ป\.\s?อาญา\s?", "ประมวลกฎหมายอาญา "),
    (r"ป\.\s?แพ่ง\s?", "ประมวลกฎหมายแพ่งและพาณิชย์ "),
    (r"ป\.\s?ที่ดิน\s?", "ประมวลกฎหมายที่ดิน "),
    (r"กม\.\s?", "กฎหมาย "),
    (r"กฏหมาย", "กฎหมาย"),
    (r"กดหมาย", "กฎหมาย"),
    (r"พุทธศักราช", "พ.ศ."),
]
_ABBREVIATIONS = [(re.compile(p, re.IGNORECASE), r) for p, r in ABBREVIATIONS]
_YEAR = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?!\d)")

STOPWORDS = frozenset(
    """กฎหมาย ข้อ อะไร ไหม มั้ย บ้าง ยังไง อย่างไร เกี่ยวกับ เรื่อง ว่า ด้วย การ ของ และ หรือ ที่ ใน ให้ ได้ ไป มา จะ เป็น มี คือ
    ครับ ค่ะ คะ นะ จ้า หน่อย ขอ ดู อยาก รู้ ค้น หา ค้นหา ช่วย บอก ผิด ถูก โดน ถูก เรา ผม ฉัน หนู ดิฉัน เขา แล้ว ก็ จาก กับ แต่ ถ้า
    ต้อง ทำ ตาม ไร ไหน เท่าไหร่ กี่ ยัง เลย ซึ่ง นี้ นั้น the a of law act thailand thai about
    พ.ศ. พศ ฉบับ ล่าสุด update มาตรา ว่าไง ว่ายังไง ว่าอย่างไร เขียน ไว้ ไหม ได้ไหม
    is are was be there any against in on at for to about what which who how does do did can could should would i my me we
    you your it its legal illegal allowed allow rule rules regarding with from and or not no if when get laws code
    tell know want need section please""".split()
)


def clean_title(title: str) -> str:
    return " ".join(UPDATE_MARK.sub(" ", title).split())


def normalise(text: str) -> str:
    """Thai digits, the two-glyph ำ, abbreviations (พ.ร.บ. -> พระราชบัญญัติ), C.E. years as B.E."""
    text = normalise_chars(text)
    for pattern, replacement in _ABBREVIATIONS:
        text = pattern.sub(replacement, text)
    text = _YEAR.sub(lambda m: str(int(m.group(1)) + 543), text)
    return " ".join(text.split()).lower()


def title_key(title: str) -> str:
    """Key under which a seed title and a corpus title meet."""
    return re.sub(r"[\s.()]", "", normalise(clean_title(title)))


@lru_cache(maxsize=4096)
def _terms_cached(text: str) -> tuple[str, ...]:
    return tuple(p.text for p in tokenize(text))


def terms(text: str, *, drop_stopwords: bool = False) -> list[str]:
    """Normalised word tokens of `text` for indexing and querying."""
    words = [w.strip(".").lower() for w in _terms_cached(normalise(text)) if w.strip(".")]
    if drop_stopwords:
        words = [w for w in words if w not in STOPWORDS and len(w) > 1]
    return words


def joined_terms(text: str) -> str:
    return " ".join(terms(text))


_PUNCT_OR_SPACE = re.compile(r"^[\s\W_]+$")


def bulk_terms(text: str) -> str:
    """Space-joined terms of long text (law sections); newmm-safe keeps long Thai runs fast."""
    from pythainlp.tokenize import word_tokenize

    words = word_tokenize(normalise(text), engine="newmm-safe", keep_whitespace=False)
    return " ".join(w for w in (w.strip().lower() for w in words) if w and not _PUNCT_OR_SPACE.match(w))

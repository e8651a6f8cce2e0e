"""Read Thai (and common English) date/time expressions; format dates the Thai way.

`parse_when(text, now)` finds the first date/time expression in a sentence, such as
"พรุ่งนี้ 9 โมง", "ศุกร์หน้าบ่ายสาม", "15 ธ.ค. 69 13.30 น.", "๑๕ ธันวาคม ๒๕๖๙",
"อีก 2 ชั่วโมง", "สิ้นเดือน", "2026-12-15T09:00" or "tomorrow 9am", and returns an
aware datetime in Asia/Bangkok. Rules, on purpose:

- A time with no date that already passed today means tomorrow.
- A date with no time returns that date at 00:00 with `has_time=False`; callers
  decide the time of day (reminders use 09:00).
- "ศุกร์นี้"/"วันศุกร์" is the coming Friday (today if today is Friday);
  "ศุกร์หน้า" is Friday of next week (weeks start on Monday). A bare weekday said on
  that same weekday is marked ambiguous (today or in a week?).
- "N โมง" with no part of day: 7–11 is morning, 1–6 is afternoon (Thai usage:
  "สามโมง" = 15:00); "N โมงเช้า/เย็น", "บ่าย N", "N ทุ่ม", "ตี N" are explicit.
- Two-digit years are Buddhist Era (69 -> 2569 -> 2026); four-digit years from 2400
  are B.E., below are C.E. A number followed by a time word or a clock ("9 ธ.ค. 10 โมง",
  "15 ธ.ค. 10.30 น.", "3 ม.ค. 14.00") is the hour, never a year.
- Months as officials write them: "ธันวาคม", "ธ.ค.", "ธ.ค", "ธค", "ธันวา"; "สิ้นเดือนธันวา" is
  31 December, "ภายในเดือนนี้" the month's last day, "สิ้นปีงบ" 30 September.
- A written date beats a weekday or relative word next to it ("พุธที่ 9 ธ.ค."); a weekday
  that contradicts the date is asked about. Ranges ("9-11 ธ.ค.", "13.30-16.30 น.") give their start.
- `needs_confirmation` (with a Thai `reason`): say the date back and ask before storing it.
  Set for a date in the past, more than two years ahead, a date whose day this year is less
  than a month past (read as next year), a contradicting weekday, and the vague phrases of
  AMBIGUOUS_PHRASES ("ต้นเดือน", "สัปดาห์หน้า", ...), "ศุกร์หน้า" said on a weekend, a bare
  weekday said on that day, and a month named without a day.
- "เลิกงาน" is 16:30 (the end of the government working day); "ยกเลิกงาน" is not a time.
- Plain numbers, IDs (REQ-000123, T-42), ratings ("5 ดาว") and a lone year are not
  dates: no day and no time means no result.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from common import clock as app_clock
from common.numbers import parse_number

TZ = ZoneInfo("Asia/Bangkok")

# Phrases that name a stretch of time rather than a day: the reading is a guess (the first or
# last day), so the bot says the date back and asks before storing it. Also confirmed: a weekday
# "หน้า" said on a weekend, a bare weekday said on that same weekday, a weekday that contradicts
# the written date, a date in the past, and a date more than two years ahead.
AMBIGUOUS_PHRASES = frozenset({
    "ต้นเดือน", "ต้นเดือนนี้", "ต้นเดือนหน้า", "กลางเดือน", "กลางเดือนนี้", "กลางเดือนหน้า",
    "ปลายเดือน", "ปลายเดือนนี้", "ปลายเดือนหน้า", "เดือนหน้า", "next month",
    "สัปดาห์หน้า", "อาทิตย์หน้า", "next week", "ต้นปีหน้า", "ต้นปีงบประมาณหน้า",
})

THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")

MONTHS_FULL = ["มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน", "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม"]
MONTHS_ABBR = ["ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค."]
MONTHS_COLLOQUIAL = ["มกรา", "กุมภา", "มีนา", "เมษา", "พฤษภา", "มิถุนา", "กรกฎา", "สิงหา", "กันยา", "ตุลา", "พฤศจิกา", "ธันวา"]
MONTHS_EN = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
WEEKDAYS_TH = ["จันทร์", "อังคาร", "พุธ", "พฤหัสบดี", "ศุกร์", "เสาร์", "อาทิตย์"]
WEEKDAYS_EN = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

_NUMBER_WORDS = {
    "หนึ่ง": 1, "เอ็ด": 1, "สอง": 2, "สาม": 3, "สี่": 4, "ห้า": 5, "หก": 6, "เจ็ด": 7, "แปด": 8, "เก้า": 9,
    "สิบ": 10, "สิบเอ็ด": 11, "สิบสอง": 12, "ยี่สิบ": 20, "สามสิบ": 30, "สี่สิบห้า": 45, "ครึ่ง": 0.5,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "a": 1, "an": 1,
}
_NUM_WORD_RE = "|".join(sorted((re.escape(w) for w in _NUMBER_WORDS if w not in ("a", "an", "ครึ่ง")), key=len, reverse=True))
NUM = rf"(?:\d{{1,2}}|{_NUM_WORD_RE})"


def _num(token: str) -> int:
    token = token.strip().lower()
    number = parse_number(token, max_digits=4)
    return number if number is not None else int(_NUMBER_WORDS[token])


@dataclass(frozen=True)
class WhenResult:
    """What was read. `needs_confirmation`: ask the person before storing it (`reason` says why, in Thai).

    `ambiguous` is the narrower case "the words allow two readings"; every ambiguous
    result also needs confirmation, and so do dates in the past or far ahead.
    """

    datetime: datetime
    has_time: bool
    span: tuple[int, int]
    ambiguous: bool = False
    reason: str = ""
    needs_confirmation: bool = False
    has_date: bool = True  # False when only a time of day was written ("บ่ายสอง")

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {"datetime": self.datetime.isoformat(), "has_time": self.has_time,
                                   "needs_confirmation": self.needs_confirmation}
        if self.reason:
            data["reason"] = self.reason
        return data


@dataclass
class _Part:
    start: int
    end: int
    day: date | None = None
    clock: time | None = None
    delta: timedelta | None = None
    ambiguous: str = ""
    next_day_if_past: bool = True
    explicit: bool = False  # a calendar date (day and month written out)
    year_given: bool = False
    rolled_over: bool = False  # no year written and this year's date had passed: read as next year
    night: bool = False  # "คืนนี้": a small-hours time ("ตีสอง") belongs to the next calendar day


# ---------------------------------------------------------------- patterns

# "ธ.ค.", "ธ.ค", "ธค." and "ธค" all occur; undotted and colloquial names ("ธันวา") must not run
# into a longer word ("ตุลาการ"), so a Thai consonant may follow them only as a known next word.
_ABBR_DOTTED = "|".join(re.escape(m[:-1]) + r"\.?" for m in MONTHS_ABBR)
_ABBR_BARE = "|".join(re.escape(m.replace(".", "")) for m in MONTHS_ABBR)
_AFTER_MONTH_WORD = r"(?![ก-ฮ])|(?=นี้|หน้า|ครับ|ค่ะ|คะ|นะ|จ้า|ปี|พ\.?ศ|ค\.?ศ|เวลา|ตอน|ก่อน|บ่าย|เช้า|เย็น|เที่ยง|สิบ|ห้า|หก|เจ็ด|แปด|เก้า|สอง|สาม|สี่)"
_MONTH_NAMES = rf"{'|'.join(MONTHS_FULL)}|(?:{'|'.join(MONTHS_COLLOQUIAL)})(?:{_AFTER_MONTH_WORD})|{_ABBR_DOTTED}|(?:{_ABBR_BARE})(?:{_AFTER_MONTH_WORD})"
_MONTH_TH = rf"(?P<month>{_MONTH_NAMES})"
_MONTH_EN = rf"(?P<month_en>{'|'.join(MONTHS_EN)})[a-z]*\.?"
# A year: 4 digits, or 2 digits (Buddhist Era) that are not the hour of a time ("9 ธ.ค. 10 โมง", "3 ม.ค. 14.00").
_NOT_AN_HOUR = r"(?![\d:]|\.\d|\s*(?:โมง|นาฬิกา|ทุ่ม|น\.|am|pm|[:.]\d))"
_YEAR = rf"(?P<year>(?:(?:พ\.\s?ศ\.?|พศ\.?|ค\.\s?ศ\.?|ปี)\s*)?(?:\d{{4}}|\d{{2}}){_NOT_AN_HOUR})"
_RANGE_TAIL = r"(?:\s*(?:-|–|ถึง|และ|,)\s*\d{1,2})?"
_WEEKDAY_WORDS = "จันทร์|อังคาร|พุธ|พฤหัสบดี|พฤหัสฯ|พฤหัส|ศุกร์|เสาร์|อาทิตย์"

_DATE_PATTERNS = [
    ("iso", re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:[t ](?P<hh>\d{1,2}):(?P<mm>\d{2})(?::\d{2}(?:\.\d+)?)?(?P<tz>z|[+-]\d{2}:?\d{2})?)?")),
    ("slash", re.compile(r"(?<![\d/])(?P<d>\d{1,2})/(?P<m>\d{1,2})(?:/(?P<y>\d{2,4}))?(?![\d/])")),
    ("thai", re.compile(rf"(?:(?:วัน)?(?:{_WEEKDAY_WORDS})?\s*ที่\s*)?(?P<d>\d{{1,2}}){_RANGE_TAIL}\s*(?:เดือน\s*)?{_MONTH_TH}(?:\s*{_YEAR})?")),
    ("month_word", re.compile(rf"(?P<p>สิ้นเดือน|ปลายเดือน|ต้นเดือน|กลางเดือน|ภายในเดือน|ในเดือน|เดือน)\s*{_MONTH_TH}(?:\s*{_YEAR})?")),
    # a month named alone ("ธันวาคมนี้", "ม.ค. 70", "มกราคม 2570"): its first day, to be confirmed
    ("month_word", re.compile(rf"(?<!\d)(?<!\d\s)(?P<p>){_MONTH_TH}\s*(?:(?P<this>นี้)|{_YEAR})")),
    ("en_md", re.compile(rf"\b{_MONTH_EN}\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s*(?P<year>\d{{4}}))?\b")),
    ("en_dm", re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s*{_MONTH_EN}(?:\s*(?P<year>\d{{4}}))?\b")),
    ("day_of_month", re.compile(rf"(?:วันที่|(?:วัน)?(?:{_WEEKDAY_WORDS})\s*ที่)\s*(?P<d>\d{{1,2}}){_RANGE_TAIL}(?!\s*[/\d])(?P<rel>\s*(?:ของ)?\s*เดือน(?:นี้|หน้า))?")),
]

_RELATIVE_DAY = re.compile(
    r"(?P<w>วันนี้|คืนนี้|เย็นนี้|บ่ายนี้|เช้านี้|พรุ่งนี้|พรุ่งนี|มะรืนนี้|มะรืน|เมื่อวานนี้|เมื่อวาน|day after tomorrow|tomorrow|today|tonight|yesterday)"
)
_WEEKDAY = re.compile(
    r"(?P<pre>วัน)?(?P<wd>จันทร์|อังคาร|พุธ|พฤหัสบดี|พฤหัสฯ|พฤหัส|ศุกร์|เสาร์|อาทิตย์)(?P<suf>\s*(?:นี้|หน้า|ถัดไป))?"
    r"|(?P<en_pre>next\s+|this\s+|on\s+)?(?P<en>monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|wed|thu|fri|sat|sun)\b"
)
_PERIOD = re.compile(
    r"(?P<p>สิ้นเดือนหน้า|สิ้นเดือนนี้|สิ้นเดือน|ปลายเดือนหน้า|ปลายเดือนนี้|ปลายเดือน|ต้นเดือนหน้า|ต้นเดือนนี้|ต้นเดือน|"
    r"กลางเดือนหน้า|กลางเดือนนี้|กลางเดือน|ภายในเดือนนี้|ภายในเดือนหน้า|ภายในปีนี้|สิ้นไตรมาสนี้|สิ้นไตรมาส|เดือนหน้า|สิ้นปีงบประมาณ|สิ้นปีงบ|ต้นปีหน้า|ต้นปีงบประมาณหน้า|สิ้นปีนี้|สิ้นปี|"
    r"สัปดาห์หน้า|อาทิตย์หน้า|สัปดาห์นี้|end of (?:the )?month|next month|next week|end of (?:the )?year)"
)
_IN_DURATION = re.compile(
    rf"(?:(?:ใน)?อีก|ภายใน|in|within)\s*(?P<n>\d{{1,3}}|{_NUM_WORD_RE}|ครึ่ง|an?)\s*"
    r"(?P<u>นาที|ชั่วโมง|ชม\.?|วันทำการ|วัน|สัปดาห์|อาทิตย์|เดือน|minutes?|mins?|hours?|hrs?|days?|weeks?|months?)(?P<half>\s*ครึ่ง)?"
)

_CLOCK_PATTERNS = [
    # 13:30, 13.30 น., 9.00 น.
    ("hhmm", re.compile(r"(?<![\d/.:-])(?P<h>\d{1,2})[:.](?P<m>[0-5]\d)(?![\d/])\s*(?P<suffix>น\.|นาฬิกา|am|pm|a\.m\.|p\.m\.)?")),
    # เวลา 0900, 1330 น. (the compact form of forms and memos; never a bare 4-digit number, which may be a year)
    ("compact", re.compile(r"(?:(?<=เวลา)|(?<=เวลา\s))(?P<h>[01]\d|2[0-3])(?P<m>[0-5]\d)(?!\d)|(?<!\d)(?P<h2>[01]\d|2[0-3])(?P<m2>[0-5]\d)\s*(?:น\.|นาฬิกา)")),
    # 9am, 3 pm, at 3pm
    ("ampm", re.compile(r"(?<![\d])(?P<h>\d{1,2})\s*(?P<ampm>am|pm|a\.m\.|p\.m\.)")),
    ("noon", re.compile(r"\b(?P<w>noon|midnight)\b")),
    # เที่ยงคืน, เที่ยง(ครึ่ง), เที่ยงวัน
    ("tiang", re.compile(r"(?P<w>เที่ยงคืน|เที่ยงวัน|เที่ยง)(?P<half>ครึ่ง)?")),
    # บ่ายโมง, บ่าย 2 (โมง), บ่ายสองโมงครึ่ง
    ("bai", re.compile(rf"บ่าย\s*(?P<n>{NUM}|โมง)?(?:\s*โมง)?(?P<half>\s*ครึ่ง)?(?:\s*(?P<mins>\d{{1,2}})\s*นาที)?")),
    # N ทุ่ม (ครึ่ง), ทุ่ม(ครึ่ง)
    ("thum", re.compile(rf"(?P<n>{NUM})?\s*ทุ่ม(?P<half>\s*ครึ่ง)?")),
    # ตีห้า, ตี 2
    ("tee", re.compile(rf"ตี\s*(?P<n>{NUM})(?P<half>\s*ครึ่ง)?")),
    # 9 โมง(เช้า|เย็น)(ครึ่ง)
    ("mong", re.compile(rf"(?P<n>{NUM})\s*โมง(?:\s*(?P<part>เช้า|เย็น|ค่ำ))?(?P<half>\s*ครึ่ง)?(?:\s*(?P<mins>\d{{1,2}})\s*นาที)?")),
    # N นาฬิกา
    ("nalika", re.compile(r"(?P<h>\d{1,2})\s*นาฬิกา")),
    # (ก่อน)เลิกงาน: the end of the government working day, 16:30 ("ยกเลิกงาน" is "cancel the task")
    ("office_end", re.compile(r"(?<!ยก)เลิกงาน")),
    # parts of day alone: เช้า บ่าย เย็น ค่ำ (only next to a date word)
]
_PART_OF_DAY = re.compile(r"(?P<w>ตอนเช้า|เช้า|ตอนบ่าย|ตอนเย็น|เย็น|ตอนค่ำ|ค่ำ|morning|afternoon|evening)")


# ---------------------------------------------------------------- helpers

def _year_from(raw: str | None, today: date) -> int | None:
    if not raw:
        return None
    digits = re.sub(r"\D", "", raw)
    if not digits:
        return None
    value = int(digits)
    if len(digits) == 2:
        value += 2500  # Thai writers use two-digit Buddhist Era years
    if value >= 2400:
        value -= 543
    return value


def _month_index(token: str) -> int:
    token = token.strip()
    if token in MONTHS_FULL:
        return MONTHS_FULL.index(token) + 1
    if token in MONTHS_COLLOQUIAL:
        return MONTHS_COLLOQUIAL.index(token) + 1
    bare = token.replace(".", "")
    for i, abbr in enumerate(MONTHS_ABBR):
        if bare == abbr.replace(".", ""):
            return i + 1
    return MONTHS_EN.index(token[:3].lower()) + 1


def _add_month(d: date, months: int = 1) -> date:
    index = d.month - 1 + months
    return date(d.year + index // 12, index % 12 + 1, 1)


def _last_day(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


# Dates outside these years are not read as dates at all: "0001-01-01" or "31/12/9999" is a typo
# or a probe, and moments near datetime's own limits overflow when converted between time zones.
EARLIEST_YEAR = 1900
LATEST_YEAR = 2500


class _Unreadable(Exception):
    """A written date that cannot be meant (year 0001 or 9999, hour 99): the text is not read at all."""


def _safe_date(year: int, month: int, day: int) -> date | None:
    """The date, or None when it does not exist; raises _Unreadable outside EARLIEST_YEAR..LATEST_YEAR."""
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise _Unreadable
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _week_monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _weekday_index(token: str) -> int:
    token = token.lower()
    if token.startswith("พฤหัส"):
        return 3
    if token in WEEKDAYS_TH:
        return WEEKDAYS_TH.index(token)
    return [w[:3] for w in WEEKDAYS_EN].index(token[:3])


# ---------------------------------------------------------------- finders

def _find_dates(text: str, today: date) -> list[_Part]:
    parts: list[_Part] = []
    for kind, pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            if kind == "iso":
                d = _safe_date(int(m["y"]), int(m["m"]), int(m["d"]))
                if d is None:
                    continue
                clock = _clock(int(m["hh"]), int(m["mm"])) if m["hh"] else None
                if m["hh"] and clock is None:
                    raise _Unreadable  # "2026-01-01T99:00": no such time
                parts.append(_Part(m.start(), m.end(), day=d, clock=clock))
                continue
            if kind == "month_word":
                month = _month_index(m["month"])
                year = _year_from(m["year"], today)
                first = _safe_date(year or today.year, month, 1) or today
                if year is None and _last_day(first) < today:
                    first = date(today.year + 1, month, 1)
                p = m["p"]
                ambiguous = ""
                if p in ("สิ้นเดือน", "ภายในเดือน"):
                    d = _last_day(first)
                elif p == "ปลายเดือน":
                    d, ambiguous = _last_day(first), f"\"{p}\" ไม่ได้ระบุวันที่แน่นอน"
                elif p == "กลางเดือน":
                    d, ambiguous = first.replace(day=15), f"\"{p}\" ไม่ได้ระบุวันที่แน่นอน"
                else:  # ต้นเดือน, ในเดือน, เดือน, or the month alone
                    d, ambiguous = first, f"\"{m.group(0).strip()}\" ไม่ได้ระบุวันที่แน่นอน"
                parts.append(_Part(m.start(), m.end(), day=d, ambiguous=ambiguous, explicit=True, year_given=year is not None))
                continue
            if kind == "day_of_month":
                day = int(m["d"])
                target_month = today.replace(day=1)
                if m["rel"] and "หน้า" in m["rel"]:
                    target_month = (target_month + timedelta(days=32)).replace(day=1)
                d = _safe_date(target_month.year, target_month.month, day)
                if d is not None and d < today and not m["rel"]:
                    nxt = (target_month + timedelta(days=32)).replace(day=1)
                    d = _safe_date(nxt.year, nxt.month, day)
                if d is not None:
                    parts.append(_Part(m.start(), m.end(), day=d, explicit=True))
                continue
            day = int(m["d"])
            if kind == "slash":
                month = int(m["m"])
                year = _year_from(m["y"], today)
            elif kind == "thai":
                month = _month_index(m["month"])
                year = _year_from(m["year"], today)
            else:
                month = _month_index(m["month_en"])
                year = int(m["year"]) if m["year"] else None
            if not (1 <= month <= 12):
                continue
            d = _safe_date(year or today.year, month, day)
            if d is None:
                continue
            rolled = False
            if year is None and d < today:
                rolled = True
                d = _safe_date(today.year + 1, month, day) or d
            parts.append(_Part(m.start(), m.end(), day=d, explicit=True, year_given=year is not None, rolled_over=rolled))
    return parts


def _find_relative(text: str, today: date, now: datetime) -> list[_Part]:
    parts: list[_Part] = []
    for m in _RELATIVE_DAY.finditer(text):
        w = m["w"]
        offset = {"วันนี้": 0, "คืนนี้": 0, "เย็นนี้": 0, "บ่ายนี้": 0, "เช้านี้": 0, "today": 0, "tonight": 0,
                  "พรุ่งนี้": 1, "พรุ่งนี": 1, "tomorrow": 1, "มะรืนนี้": 2, "มะรืน": 2, "day after tomorrow": 2,
                  "เมื่อวาน": -1, "เมื่อวานนี้": -1, "yesterday": -1}[w]
        part = _Part(m.start(), m.end(), day=today + timedelta(days=offset))
        if w in ("คืนนี้", "tonight"):
            part.clock, part.night = time(20, 0), True
        elif w == "เย็นนี้":
            part.clock = time(17, 0)
        elif w == "บ่ายนี้":
            part.clock = time(13, 0)
        parts.append(part)
    for m in _WEEKDAY.finditer(text):
        if m["wd"]:
            if m["wd"] == "อาทิตย์" and not m["pre"] and m["suf"] and "หน้า" in m["suf"]:
                continue  # "อาทิตย์หน้า" = next week (handled as a period)
            target = _weekday_index(m["wd"])
            suffix = (m["suf"] or "").strip()
            explicit_next = suffix in ("หน้า", "ถัดไป")
            bare = not suffix
        else:
            target = _weekday_index(m["en"])
            explicit_next = (m["en_pre"] or "").strip() == "next"
            bare = not m["en_pre"]
        if explicit_next:
            d = _week_monday(today) + timedelta(days=7 + target)
        else:
            d = today + timedelta(days=(target - today.weekday()) % 7)
        ambiguous = "วันเดียวกับวันนี้: วันนี้หรือสัปดาห์หน้า" if bare and d == today else ""
        if explicit_next and today.weekday() >= 5:
            # said on a weekend, "ศุกร์หน้า" is this coming Friday to some and the one after to others
            later = d + timedelta(days=7)
            ambiguous = (f"วันนี้เป็นวันหยุดสุดสัปดาห์ \"{m.group(0).strip()}\" อาจหมายถึงวันที่ {d.day} {MONTHS_FULL[d.month - 1]} "
                         f"หรือวันที่ {later.day} {MONTHS_FULL[later.month - 1]}")
        parts.append(_Part(m.start(), m.end(), day=d, ambiguous=ambiguous))
    for m in _PERIOD.finditer(text):
        p = m["p"]
        last = calendar.monthrange(today.year, today.month)[1]
        first_next = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        vague = f"\"{p}\" ไม่ได้ระบุวันที่แน่นอน" if p in AMBIGUOUS_PHRASES else ""
        if p in ("สิ้นเดือน", "สิ้นเดือนนี้", "ปลายเดือน", "ปลายเดือนนี้", "end of month", "end of the month"):
            d = today.replace(day=last)
        elif p in ("สิ้นเดือนหน้า", "ปลายเดือนหน้า"):
            d = _last_day(first_next)
        elif p in ("ต้นเดือนหน้า", "เดือนหน้า", "next month"):
            d = first_next
        elif p in ("ต้นเดือน", "ต้นเดือนนี้"):
            d = today.replace(day=1)
            if d < today:  # "ต้นเดือน" said after the 1st: the start of next month
                d = first_next
        elif p in ("กลางเดือน", "กลางเดือนนี้"):
            d = today.replace(day=15) if today.day <= 15 else first_next.replace(day=15)
        elif p == "กลางเดือนหน้า":
            d = first_next.replace(day=15)
        elif p == "ภายในเดือนนี้":
            d = today.replace(day=last)
        elif p == "ภายในเดือนหน้า":
            d = _last_day(first_next)
        elif p in ("สิ้นไตรมาส", "สิ้นไตรมาสนี้"):  # calendar and Thai fiscal quarters end on the same days
            d = _last_day(date(today.year, (today.month - 1) // 3 * 3 + 3, 1))
        elif p in ("สิ้นปีงบประมาณ", "สิ้นปีงบ"):  # the Thai fiscal year ends on 30 September
            d = date(today.year if today.month <= 9 else today.year + 1, 9, 30)
        elif p == "ต้นปีหน้า":
            d = date(today.year + 1, 1, 1)
        elif p == "ต้นปีงบประมาณหน้า":
            d = date(today.year if today.month <= 9 else today.year + 1, 10, 1)
        elif p in ("สิ้นปี", "สิ้นปีนี้", "ภายในปีนี้", "end of year", "end of the year"):
            d = date(today.year, 12, 31)
        elif p == "สัปดาห์นี้":
            d = _week_monday(today) + timedelta(days=4)
        else:  # สัปดาห์หน้า / อาทิตย์หน้า / next week
            d = _week_monday(today) + timedelta(days=7)
        parts.append(_Part(m.start(), m.end(), day=d, ambiguous=vague))
    for m in _IN_DURATION.finditer(text):
        raw = m["n"].lower()
        n = 0.5 if raw == "ครึ่ง" else (1 if raw in ("a", "an") else _num(raw))
        if m["half"]:  # "3 ชั่วโมงครึ่ง"
            n += 0.5
        unit = m["u"].lower()
        if unit.startswith(("นาที", "min")):
            delta = timedelta(minutes=n)
        elif unit.startswith(("ชั่วโมง", "ชม", "hour", "hr")):
            delta = timedelta(hours=n)
        elif unit == "วันทำการ":  # working days: weekends skipped (public holidays are not known here)
            d, left = today, int(n)
            while left > 0:
                d += timedelta(days=1)
                left -= d.weekday() < 5
            delta = datetime.combine(d, now.timetz()) - now
        elif unit.startswith(("วัน", "day")):
            delta = timedelta(days=n)
        elif unit.startswith(("สัปดาห์", "อาทิตย์", "week")):
            delta = timedelta(weeks=n)
        else:
            delta = timedelta(days=30 * n)
        parts.append(_Part(m.start(), m.end(), delta=delta))
    return parts


def _clock(hour: int, minute: int = 0) -> time | None:
    if hour == 24:
        hour = 0
    if 0 <= hour <= 23 and 0 <= minute <= 59:
        return time(hour, minute)
    return None


def _find_clocks(text: str) -> list[_Part]:
    parts: list[_Part] = []
    for kind, pattern in _CLOCK_PATTERNS:
        for m in pattern.finditer(text):
            half = 30 if m.groupdict().get("half") else 0
            mins = int(m["mins"]) if m.groupdict().get("mins") else half
            clock: time | None = None
            if kind == "hhmm":
                hour, minute = int(m["h"]), int(m["m"])
                suffix = (m["suffix"] or "").replace(".", "")
                if suffix in ("pm",) and hour < 12:
                    hour += 12
                if suffix in ("am",) and hour == 12:
                    hour = 0
                if m.group(0).count(".") and not suffix and hour > 23:
                    continue
                clock = _clock(hour, minute)
            elif kind == "compact":
                clock = _clock(int(m["h"] or m["h2"]), int(m["m"] or m["m2"]))
            elif kind == "ampm":
                hour = int(m["h"]) % 12
                if m["ampm"].replace(".", "") == "pm":
                    hour += 12
                clock = _clock(hour)
            elif kind == "noon":
                clock = time(12, 0) if m["w"] == "noon" else time(0, 0)
            elif kind == "tiang":
                clock = time(0, half) if m["w"] == "เที่ยงคืน" else time(12, half)
            elif kind == "bai":
                n = m["n"]
                hour = 1 if n in (None, "โมง") else _num(n)
                clock = _clock(12 + hour if hour < 12 else hour, mins)
            elif kind == "thum":
                n = 1 if not m["n"] else _num(m["n"])
                clock = _clock(18 + n, half)
            elif kind == "tee":
                clock = _clock(_num(m["n"]), half)
            elif kind == "mong":
                n = _num(m["n"])
                part = m["part"]
                if part == "เย็น" or part == "ค่ำ":
                    hour = n + 12 if n < 12 else n
                elif part == "เช้า":
                    hour = n
                elif 1 <= n <= 6:
                    hour = n + 12  # "สามโมง" = 15:00 in everyday Thai
                else:
                    hour = n
                clock = _clock(hour, mins)
            elif kind == "nalika":
                clock = _clock(int(m["h"]))
            elif kind == "office_end":
                clock = time(16, 30)
            if clock is not None:
                parts.append(_Part(m.start(), m.end(), clock=clock))
    return parts


def _overlaps(a: _Part, b: _Part) -> bool:
    return a.start < b.end and b.start < a.end


def _dedupe(parts: list[_Part]) -> list[_Part]:
    """Keep the longest of overlapping matches."""
    chosen: list[_Part] = []
    for part in sorted(parts, key=lambda p: (-(p.end - p.start), p.start)):
        if not any(_overlaps(part, c) for c in chosen):
            chosen.append(part)
    return sorted(chosen, key=lambda p: p.start)


# ---------------------------------------------------------------- API

def normalise(text: str) -> str:
    text = text.translate(THAI_DIGITS).lower()
    return text.replace("\u0e4d\u0e32", "\u0e33")


def parse_when(text: str, now: datetime | None = None) -> WhenResult | None:
    """The date/time in `text`, or None when it holds none."""
    now = (now or app_clock.now()).astimezone(TZ)
    today = now.date()
    norm = normalise(text)
    # IDs and ratings are never dates.
    masked = re.sub(r"(?i)\b(?:req|t)\s*-?\s*\d+|\d+\s*(?:ดาว|คะแนน|%|เปอร์เซ็นต์|บาท)", lambda m: " " * len(m.group(0)), norm)
    try:
        dates = _dedupe(_find_dates(masked, today) + _find_relative(masked, today, now))
    except _Unreadable:
        return None  # better asked again than stored as a different date
    clocks = [c for c in _dedupe(_find_clocks(masked)) if not any(_overlaps(c, d) for d in dates)]
    if not dates and not clocks:
        return None

    delta = next((d for d in dates if d.delta is not None), None)
    if delta is not None:
        moment = now + delta.delta  # type: ignore[operator]
        has_time = delta.delta < timedelta(days=1)  # type: ignore[operator]
        if not has_time and clocks:
            moment = datetime.combine(moment.date(), clocks[0].clock, TZ)  # type: ignore[arg-type]
            has_time = True
        elif not has_time:
            moment = datetime.combine(moment.date(), time(0, 0), TZ)
        span_parts = [delta] + (clocks[:1] if clocks else [])
        return WhenResult(moment.replace(second=0, microsecond=0), has_time, (min(p.start for p in span_parts), max(p.end for p in span_parts)))

    # a written calendar date beats a weekday or relative word next to it ("พุธที่ 9 ธ.ค.")
    day_part = next((d for d in dates if d.day is not None and d.explicit), None) or next((d for d in dates if d.day is not None), None)
    clock_part = clocks[0] if clocks else None
    clock = clock_part.clock if clock_part else (day_part.clock if day_part else None)
    reason = day_part.ambiguous if day_part else ""
    if clock is None and day_part is not None:
        pod = _PART_OF_DAY.search(masked, max(0, day_part.start - 12), min(len(masked), day_part.end + 12))
        if pod is not None:
            clock = {"ตอนเช้า": time(9), "เช้า": time(9), "morning": time(9), "ตอนบ่าย": time(13), "afternoon": time(13),
                     "ตอนเย็น": time(17), "เย็น": time(17), "evening": time(18), "ตอนค่ำ": time(19), "ค่ำ": time(19)}[pod["w"]]
            clock_part = _Part(pod.start(), pod.end(), clock=clock)
    if day_part is None:
        assert clock is not None
        moment = datetime.combine(today, clock, TZ)
        if moment <= now:
            moment += timedelta(days=1)
        span = (clock_part.start, clock_part.end)  # type: ignore[union-attr]
        return WhenResult(moment, True, span, has_date=False)
    d = day_part.day
    assert d is not None
    span_parts = [day_part] + ([clock_part] if clock_part else [])
    span = (min(p.start for p in span_parts), max(p.end for p in span_parts))
    if day_part.night and clock is not None and clock.hour < 6:
        d += timedelta(days=1)
    moment = datetime.combine(d, clock or time(0, 0), TZ)
    ambiguous = bool(reason)
    if day_part.explicit:
        clash = _weekday_clash(masked, day_part, d)
        if clash:
            reason, ambiguous = clash, True
    confirm = reason or _confirmation_reason(day_part, moment, clock is not None, now)
    return WhenResult(moment, clock is not None, span, ambiguous, confirm, needs_confirmation=bool(confirm))


def _weekday_clash(text: str, part: _Part, day: date) -> str:
    """A weekday written with the date ("พุธที่ 9 ธ.ค.") that is not that date's weekday."""
    window = text[max(0, part.start - 8) : part.end]
    after = re.match(rf"\s*[(（]?\s*(?:วัน)?(?:{_WEEKDAY_WORDS})", text[part.end :])  # "24 ธ.ค. 69 (วันพฤหัสบดี)"
    if after is not None:
        window += " " + after.group(0)
    for m in _WEEKDAY.finditer(window):
        named = _weekday_index(m["wd"] or m["en"])
        if named != day.weekday():
            return f"วันที่ {day.day} {MONTHS_FULL[day.month - 1]} {day.year + 543} ตรงกับ{THAI_WEEKDAYS_FULL[day.weekday()]} ไม่ใช่{THAI_WEEKDAYS_FULL[named]}"
    return ""


def _confirmation_reason(part: _Part, moment: datetime, has_time: bool, now: datetime) -> str:
    """Why a clear reading should still be said back before it is stored ("" when it need not)."""
    today = now.date()
    in_past = moment < now if has_time else moment.date() < today
    if in_past:
        return "วันเวลานี้ผ่านไปแล้ว"
    if moment.date() > _two_years_after(today):
        return "วันที่นี้ห่างจากวันนี้เกิน 2 ปี"
    if part.rolled_over and (moment.date().replace(year=moment.year - 1) if not (moment.month == 2 and moment.day == 29) else moment.date()) >= today - timedelta(days=31):
        return "วันที่นี้ของปีนี้ผ่านไปแล้ว จึงอ่านเป็นปีหน้า"
    return ""


def _two_years_after(d: date) -> date:
    try:
        return d.replace(year=d.year + 2)
    except ValueError:  # 29 February
        return date(d.year + 2, d.month, 28)


THAI_WEEKDAYS_FULL = ["วันจันทร์", "วันอังคาร", "วันพุธ", "วันพฤหัสบดี", "วันศุกร์", "วันเสาร์", "วันอาทิตย์"]


def format_thai(moment: datetime | date, with_time: bool = True, short: bool = False) -> str:
    """'วันศุกร์ที่ 15 ธันวาคม 2569 เวลา 09:00 น.' or, short, '15 ธ.ค. 69 09:00 น.' (Buddhist Era)."""
    if isinstance(moment, datetime):
        local = moment.astimezone(TZ) if moment.tzinfo else moment.replace(tzinfo=TZ)
        day = local.date()
    else:
        local, day = None, moment
        with_time = False
    year_be = day.year + 543
    if short:
        text = f"{day.day} {MONTHS_ABBR[day.month - 1]} {year_be % 100:02d}"
    else:
        text = f"{THAI_WEEKDAYS_FULL[day.weekday()]}ที่ {day.day} {MONTHS_FULL[day.month - 1]} {year_be}"
    if with_time and local is not None:
        text += f" {'' if short else 'เวลา '}{local:%H:%M} น."
    return text

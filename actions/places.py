"""Where a local problem is: the agency that serves that place, read from what the citizen wrote.

A street light, a road, garbage or a drain is the local administration's job (the catalog's
"องค์กรปกครองส่วนท้องถิ่น"). In Bangkok that is กรุงเทพมหานคร, through the district office (สำนักงานเขต)
of the เขต; elsewhere the เทศบาล or อบต. of the ตำบล/อำเภอ, which the catalog does not list one by one
(the request goes to the umbrella, with the place named). The electricity and water authorities
split the same way: Bangkok, Nonthaburi and Samut Prakan are served by the metropolitan ones.

Pure functions over text; the catalog names used here are checked against storage/seed/agencies.yml
by tests/services/test_places.py.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

LOCAL = "องค์กรปกครองส่วนท้องถิ่น"
BMA = "กรุงเทพมหานคร"
PEA, MEA = "การไฟฟ้าส่วนภูมิภาค", "การไฟฟ้านครหลวง"
PWA, MWA = "การประปาส่วนภูมิภาค", "การประปานครหลวง"

# Bangkok's 50 districts (เขต), as the BMA names them; each has a สำนักงานเขต<name> in the agency catalog.
BMA_DISTRICTS = (
    "พระนคร", "ดุสิต", "หนองจอก", "บางรัก", "บางเขน", "บางกะปิ", "ปทุมวัน", "ป้อมปราบศัตรูพ่าย", "พระโขนง", "มีนบุรี",
    "ลาดกระบัง", "ยานนาวา", "สัมพันธวงศ์", "พญาไท", "ธนบุรี", "บางกอกใหญ่", "ห้วยขวาง", "คลองสาน", "ตลิ่งชัน", "บางกอกน้อย",
    "บางขุนเทียน", "ภาษีเจริญ", "หนองแขม", "ราษฎร์บูรณะ", "บางพลัด", "ดินแดง", "บึงกุ่ม", "สาทร", "บางซื่อ", "จตุจักร",
    "บางคอแหลม", "ประเวศ", "คลองเตย", "สวนหลวง", "จอมทอง", "ดอนเมือง", "ราชเทวี", "ลาดพร้าว", "วัฒนา", "บางแค",
    "หลักสี่", "สายไหม", "คันนายาว", "สะพานสูง", "วังทองหลาง", "คลองสามวา", "บางนา", "ทวีวัฒนา", "ทุ่งครุ", "บางบอน",
)
# How people also write some of them (older names and common misspellings).
_DISTRICT_VARIANTS = {"สาธร": "สาทร", "ราษฎร์บูรณะ": "ราษฎร์บูรณะ", "ราษบูรณะ": "ราษฎร์บูรณะ", "ป้อมปราบ": "ป้อมปราบศัตรูพ่าย",
                      "บางกอกใหญ": "บางกอกใหญ่", "จตุจัก": "จตุจักร"}

# District names that are also everyday words, people's names or places elsewhere: only with "เขต" or Bangkok named.
_AMBIGUOUS = {"สะพานสูง", "วัฒนา", "พระนคร", "ประเวศ", "จอมทอง", "สวนหลวง", "ดินแดง", "หลักสี่", "คลองสาน", "ธนบุรี"}

_NAMES = sorted([*BMA_DISTRICTS, *_DISTRICT_VARIANTS], key=len, reverse=True)
_NAME = "|".join(map(re.escape, _NAMES))
_EXPLICIT_DISTRICT = re.compile(rf"(?:เขต|khet\s*)\s*({_NAME})(?!ศรีอยุธยา)")
_BARE_DISTRICT = re.compile(rf"(?<!แขวง)(?<!ซอย)(?<!ถนน)(?<!ถ\.)(?<!ซ\.)({_NAME})(?!ศรีอยุธยา)")
_BANGKOK = re.compile(r"กรุงเทพ|กทม|bangkok|bkk", re.I)
_METRO_PROVINCES = re.compile(r"นนทบุรี|สมุทรปราการ|nonthaburi|samut\s*prakan", re.I)
_OTHER_PROVINCE = re.compile(r"(?:จังหวัด|จ\.)\s*(?!กรุงเทพ|นนทบุรี|สมุทรปราการ)[\u0e01-\u0e2e]")
_WORD = r"([\u0e01-\u0e4e]{2,30}?)(?=\s|$|,|อำเภอ|อ\.|จังหวัด|จ\.|ตำบล|ต\.|\d)"
_TAMBON = re.compile(r"(?:ตำบล|ต\.)\s*" + _WORD)
_AMPHOE = re.compile(r"(?:อำเภอ|อ\.)\s*" + _WORD)


@dataclass(frozen=True)
class Place:
    bangkok: bool = False
    district: str | None = None  # a BMA เขต (canonical name)
    metro: bool = False  # Bangkok, Nonthaburi or Samut Prakan (the metropolitan electricity and water area)
    tambon: str | None = None
    amphoe: str | None = None


@dataclass(frozen=True)
class Routing:
    agency: str  # the catalog agency the request is filed with (its groups are told)
    office: str | None = None  # the office on the ground, named to the citizen and the officials

    @property
    def label(self) -> str:
        return f"{self.agency} ({self.office})" if self.office else self.agency


def place_of(text: str) -> Place:
    """What the address text says about the place (empty Place: nothing recognisable)."""
    t = unicodedata.normalize("NFC", text or "")
    explicit = _EXPLICIT_DISTRICT.findall(t)
    other_province = bool(_OTHER_PROVINCE.search(t)) and not _BANGKOK.search(t)
    bangkok_named = bool(_BANGKOK.search(t))
    if explicit:
        name = explicit[-1]
    elif not other_province and (bare := [n for n in _BARE_DISTRICT.findall(t) if bangkok_named or n not in _AMBIGUOUS]) \
            and (bangkok_named or not _AMPHOE.search(t)):
        name = bare[-1]  # an address runs from the small to the large: the last district named is the เขต
    else:
        name = None
    district = _DISTRICT_VARIANTS.get(name, name) if name else None
    bangkok = (bangkok_named or district is not None) and not other_province
    tambon = None if bangkok else _first(_TAMBON, t)
    amphoe = None if bangkok else _first(_AMPHOE, t)
    return Place(bangkok=bangkok, district=district if bangkok else None,
                 metro=bangkok or bool(_METRO_PROVINCES.search(t)), tambon=tambon, amphoe=amphoe)


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    m = pattern.search(text)
    return m.group(1) if m else None


def route(service_agency: str, place: Place) -> Routing:
    """The agency that serves this place for a service the catalog gives to `service_agency`."""
    if service_agency == LOCAL:
        if place.bangkok:
            return Routing(BMA, f"สำนักงานเขต{place.district}" if place.district else None)
        local = " ".join(p for p in (f"ตำบล{place.tambon}" if place.tambon else "", f"อำเภอ{place.amphoe}" if place.amphoe else "") if p)
        return Routing(LOCAL, f"เทศบาลหรือ อบต. ในพื้นที่{local}" if local else None)
    if service_agency == PEA and place.metro:
        return Routing(MEA)
    if service_agency == PWA and place.metro:
        return Routing(MWA)
    return Routing(service_agency)


def place_text(details: str | None, location: object) -> str:
    """The words to read the place from: the citizen's details and the typed or shared address."""
    parts = [details or ""]
    if isinstance(location, dict):
        parts += [str(location.get(k) or "") for k in ("address", "title", "text")]
    return " ".join(p for p in parts if p)

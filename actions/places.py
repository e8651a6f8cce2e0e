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

import math
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


# ---------------------------------------------------------------- a shared pin without words

# Approximate points of Bangkok's 50 districts (latitude, longitude), rounded to about 0.005° (~500 m): public facts
# read off ordinary maps (around each district office or the middle of the district), NOT boundaries. Large or long
# districts get a second point at their far end so that a pin there is not taken for "outside Bangkok". These points
# only rank the districts a shared pin is probably in, for the citizen to choose from (their answer decides, never this
# guess); a pin just across the border (Nonthaburi, Samut Prakan) may still be offered Bangkok districts, which is why
# the question always has a "not in Bangkok" button.
DISTRICT_POINTS: dict[str, tuple[tuple[float, float], ...]] = {
    "พระนคร": ((13.760, 100.499),), "ดุสิต": ((13.777, 100.517),), "หนองจอก": ((13.856, 100.862), (13.800, 100.905)),
    "บางรัก": ((13.729, 100.524),), "บางเขน": ((13.873, 100.598),), "บางกะปิ": ((13.766, 100.645),),
    "ปทุมวัน": ((13.743, 100.533),), "ป้อมปราบศัตรูพ่าย": ((13.755, 100.512),), "พระโขนง": ((13.703, 100.601),),
    "มีนบุรี": ((13.813, 100.735),), "ลาดกระบัง": ((13.722, 100.760), (13.745, 100.840)), "ยานนาวา": ((13.690, 100.542),),
    "สัมพันธวงศ์": ((13.738, 100.511),), "พญาไท": ((13.781, 100.543),), "ธนบุรี": ((13.722, 100.486),),
    "บางกอกใหญ่": ((13.735, 100.477),), "ห้วยขวาง": ((13.777, 100.579),), "คลองสาน": ((13.729, 100.503),),
    "ตลิ่งชัน": ((13.777, 100.452),), "บางกอกน้อย": ((13.767, 100.472),), "บางขุนเทียน": ((13.655, 100.435), (13.560, 100.440)),
    "ภาษีเจริญ": ((13.717, 100.437),), "หนองแขม": ((13.705, 100.350),), "ราษฎร์บูรณะ": ((13.676, 100.506),),
    "บางพลัด": ((13.794, 100.500),), "ดินแดง": ((13.769, 100.558),), "บึงกุ่ม": ((13.800, 100.652),),
    "สาทร": ((13.709, 100.527),), "บางซื่อ": ((13.809, 100.535),), "จตุจักร": ((13.828, 100.563), (13.803, 100.553)),
    "บางคอแหลม": ((13.693, 100.503),), "ประเวศ": ((13.717, 100.695),), "คลองเตย": ((13.712, 100.572),),
    "สวนหลวง": ((13.730, 100.651),), "จอมทอง": ((13.682, 100.484),), "ดอนเมือง": ((13.912, 100.594),),
    "ราชเทวี": ((13.759, 100.534),), "ลาดพร้าว": ((13.805, 100.608),), "วัฒนา": ((13.742, 100.586),),
    "บางแค": ((13.697, 100.409),), "หลักสี่": ((13.887, 100.579),), "สายไหม": ((13.895, 100.660),),
    "คันนายาว": ((13.824, 100.677),), "สะพานสูง": ((13.769, 100.686),), "วังทองหลาง": ((13.780, 100.606),),
    "คลองสามวา": ((13.860, 100.704), (13.905, 100.740)), "บางนา": ((13.668, 100.605),), "ทวีวัฒนา": ((13.775, 100.355),),
    "ทุ่งครุ": ((13.625, 100.500),), "บางบอน": ((13.660, 100.402),),
}
# A pin farther than this from every point is taken to be outside Bangkok (the farthest corners of the city are about
# 6 km from the nearest point above; Nonthaburi's and Samut Prakan's town centres are 6–8 km away, hence the button).
NEAR_KM = 7.0
_EARTH_KM = 6371.0


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) points, in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def nearest_districts(latitude: float, longitude: float, n: int = 4, within_km: float = NEAR_KM) -> list[str]:
    """The Bangkok districts a pin is probably in, nearest first; empty when the pin is not near any (outside Bangkok)."""
    try:
        pin = (float(latitude), float(longitude))
    except (TypeError, ValueError):
        return []
    if not (math.isfinite(pin[0]) and math.isfinite(pin[1])):
        return []
    ranked = sorted((min(distance_km(pin, p) for p in points), name) for name, points in DISTRICT_POINTS.items())
    if not ranked or ranked[0][0] > within_km:
        return []
    return [name for km, name in ranked[:n] if km <= within_km + 3.0]  # a district much farther than the nearest is no choice


def district_answer(text: str) -> str | None:
    """The Bangkok district a short answer names ("เขตบางกะปิ", "บางกะปิค่ะ", "วัฒนา"): bare names count here, asked for a เขต."""
    place = place_of(text)
    if place.district:
        return place.district
    bare = re.sub(r"\s|เขต|อยู่|ที่|ครับ|ค่ะ|คะ|คับ|ค่า|จ้า|นะ|กรุงเทพ(?:มหานคร|ฯ)?|กทม\.?", "", unicodedata.normalize("NFC", text or ""))
    bare = _DISTRICT_VARIANTS.get(bare, bare)
    return bare if bare in BMA_DISTRICTS else None


def names_an_area(place: Place) -> bool:
    """Whether the text said which area (a Bangkok เขต, an อำเภอ or a ตำบล): enough to route a local problem."""
    return bool(place.district or place.amphoe or place.tambon)

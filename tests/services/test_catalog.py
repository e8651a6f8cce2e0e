"""The shipped service catalog and how a service is found (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select

from storage.agencies import get_agency
from storage.models.services import Agency, Service
from storage.services import find_services, load_catalog, seed_agencies, seed_services

NAMES = Path(__file__).resolve().parents[2] / "docs" / "CATALOG_NAMES.md"


def _canonical(section: str) -> set[str]:
    text = NAMES.read_text(encoding="utf-8").split(f"## {section}")[1].split("##")[0]
    return {name.strip() for name in re.split(r",|\n", text) if name.strip() and not name.startswith("(")}


def test_seed_covers_every_canonical_service_with_what_a_citizen_needs() -> None:
    services = {s["name"]: s for s in seed_services()}
    agencies = {a["name"] for a in seed_agencies()}
    assert len(services) >= 40
    assert _canonical("Services (`service` entity)") <= services.keys()
    assert _canonical("Agencies (`agency` entity)") <= agencies
    for name, entry in services.items():
        assert entry["agency"] in agencies, name
        assert entry["documents"] and entry["fee"] and entry["duration"] and entry["how"], name
        assert isinstance(entry["duration_days"], int) and entry["duration_days"] > 0, name
        if entry["kind"] == "report":
            assert entry["needs_location"], name
    aliases = [a.lower() for s in services.values() for a in s["aliases"]]
    assert len(aliases) == len(set(aliases)), "an alias names two services"


def test_loading_twice_updates_in_place(session) -> None:
    first = load_catalog(session)
    session.commit()
    assert load_catalog(session) == first
    session.commit()
    assert session.scalar(select(func.count()).select_from(Service)) == first[1]
    assert session.scalar(select(func.count()).select_from(Agency)) == first[0]


def test_finding_a_service(session) -> None:
    load_catalog(session)
    assert find_services(session, entity="หนังสือเดินทาง").how == "exact"
    assert find_services(session, entity="พาสปอร์ต").single.name == "หนังสือเดินทาง"
    assert find_services(session, text="อยากทำพาสปอร์ตใหม่ต้องใช้อะไรบ้างครับ").single.name == "หนังสือเดินทาง"
    assert find_services(session, text="ไฟถนนหน้าบ้านดับ").services  # words in between still find something
    assert find_services(session, entity="หนังสือเดินทง").single.name == "หนังสือเดินทาง"  # a typo
    assert find_services(session, text="๑๒๓๔๕ ฟหกด").how == "none"
    assert get_agency(session, "ปค.") is None or get_agency(session, "ปค.").name == "กรมการปกครอง"
    assert get_agency(session, "กรมการกงสุล").ministry == "กระทรวงการต่างประเทศ"

"""The NLU's agency lookup is generated from the agency catalog and stays in sync with it."""

from __future__ import annotations

import subprocess
import sys

import yaml

from scripts.agency_lookups import CATALOG, LOOKUPS, ROOT, entries


def _lookup() -> list[str]:
    data = yaml.safe_load(LOOKUPS.read_text(encoding="utf-8"))
    block = next(item for item in data["nlu"] if item.get("lookup") == "agency")
    return [line.removeprefix("- ").strip() for line in block["examples"].splitlines() if line.strip()]


def test_lookup_file_is_up_to_date_with_the_catalog() -> None:
    done = subprocess.run([sys.executable, "scripts/agency_lookups.py", "--check"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_every_catalog_agency_name_is_in_the_lookup_and_no_everyday_word() -> None:
    catalog = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))["agencies"]
    values = _lookup()
    assert len(catalog) >= 300
    assert {a["name"] for a in catalog} <= set(values)
    assert values == entries()
    for word in ("กรม", "เขต", "ตำรวจ", "ขนส่ง", "PDPA", "BOT", "กก.", "อำเภอ"):
        assert word not in values, word
    for spoken in ("กรมทางหลวงชนบท", "กรมโยธาฯ", "เขตราชเทวี", "กทม.", "กฟภ."):
        assert spoken in values, spoken

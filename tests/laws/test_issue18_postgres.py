"""Issue #18 searches on PostgreSQL (ts_rank has its own scale and floor), on the same slice of the shipped corpus."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from storage.db import session_scope
from storage.laws.corpus import ensure_corpus
from storage.laws.search import search_laws
from storage.laws.sections import find_section
from tests.conftest import _fresh_postgres
from tests.laws.conftest import build_slice

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_slice(_postgres_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine, drop = _fresh_postgres(_postgres_template)
    ensure_corpus(engine, build_slice(tmp_path_factory.mktemp("pg-slice")), workers=2)
    yield engine
    drop()


def test_section_341_on_postgres(pg_slice) -> None:
    with session_scope(pg_slice) as s:
        found = find_section(s, "ป.อาญา มาตรา 341 ว่าไง")
        assert found is not None and found.section is not None
        assert found.law_title == "ประมวลกฎหมายอาญา" and found.section.number == "341"


def test_ranking_and_floor_on_postgres(pg_slice) -> None:
    with session_scope(pg_slice) as s:
        traffic = search_laws(s, "พรบ.จราจร ฝ่าไฟแดงโดนปรับเท่าไหร่", limit=5)
        assert traffic[0].title.startswith("พระราชบัญญัติจราจรทางบก")
        assert not any("ลิขสิทธิ์" in h.title or "ประมง" in h.title for h in traffic)
        assert search_laws(s, "กฎหมายภาษีที่ดิน", limit=5)[0].title.startswith("พระราชบัญญัติภาษีที่ดินและสิ่งปลูกสร้าง")
        assert search_laws(s, "law about drunk driving in thailand", limit=5)[0].title.startswith("พระราชบัญญัติจราจรทางบก")
        assert search_laws(s, "ทำงานมา5ปีจะได้ชดเชยกี่เดือน", limit=5)[0].title.startswith("พระราชบัญญัติคุ้มครองแรงงาน")
        for noise in ("Is there a law against cats in condos?", "สูตรต้มยำกุ้ง", "ร้านกาแฟแถวนี้อร่อยไหม"):
            assert search_laws(s, noise, limit=5) == [], noise

"""Obstacle reports: masked, pseudonymous, ranked for the law review, erased with the person's data."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import cli
from storage.db import make_engine, session_scope
from storage.laws.seed import load_seed
from storage.migrate import upgrade
from storage.models.laws import Law
from storage.models.opengov import ObstacleReport
from storage.obstacles import STEP, count_reports, ranking, report_obstacle, reporter_pseudonym
from storage.privacy import erase
from storage.requests import Citizen
from storage.service_laws import laws_for_service

BUILDING = "พระราชบัญญัติควบคุมอาคาร พ.ศ. 2522"


def _file(s, who: str, reason: str, *, law: Law | None = None, service: str = "", kind: str = "law") -> ObstacleReport:  # type: ignore[no-untyped-def]
    return report_obstacle(s, law=law, service=service, kind=kind, reason=reason, reporter=reporter_pseudonym(who), channel="line")


def test_masked_pseudonymous_ranked_and_erased(db_engine) -> None:  # type: ignore[no-untyped-def]
    with session_scope(db_engine) as s:
        load_seed(s)
        building = s.scalar(select(Law).where(Law.title == BUILDING))
        row = _file(s, "line:U1", "ขออนุญาตสร้างบ้านต้องไปหลายรอบ โทร 081-234-5678 หรือ somchai@example.com เลขบัตร 1101700203451",
                    law=building, service="ใบอนุญาตก่อสร้าง")
        assert "081" not in row.reason and "somchai" not in row.reason and "1101700203451" not in row.reason
        assert "ขออนุญาตสร้างบ้านต้องไปหลายรอบ" in row.reason
        assert row.reporter != "line:U1" and "U1" not in row.reporter and len(row.reporter) == 32
        _file(s, "line:U2", "เอกสารซ้ำซ้อน", law=building)
        _file(s, "line:U2", "ต้องถ่ายสำเนาบัตรทุกครั้ง", service="จดทะเบียนโอนที่ดิน", kind=STEP)
        s.add(ObstacleReport(law_title="", service="จดทะเบียนโอนที่ดิน", kind=STEP, reason="demo", reporter="d", demo=True))
        s.flush()
        top = ranking(s, demo=False)
        assert [(r.kind, r.title, r.reports) for r in top] == [("law", BUILDING, 2), ("service", "จดทะเบียนโอนที่ดิน", 1)]
        assert top[0].services == ["ใบอนุญาตก่อสร้าง"] and top[0].reasons == {"law": 2}
        assert top[0].samples[0] == "เอกสารซ้ำซ้อน" and len(top[0].samples) == 2  # newest first
        assert count_reports(s, "line:U2") == 2
    with session_scope(db_engine) as s:
        erase(s, Citizen("line:U2", "line", "U2"), "line:U2")
    with session_scope(db_engine) as s:
        assert count_reports(s, "line:U2") == 0 and count_reports(s, "line:U1") == 1
        assert s.scalar(select(func.count()).select_from(ObstacleReport).where(ObstacleReport.demo.is_(False))) == 1


def test_every_curated_service_law_is_in_the_catalog(db_engine) -> None:  # type: ignore[no-untyped-def]
    from storage.service_laws import corpus_only, mapping
    from storage.services import load_catalog, seed_services

    with session_scope(db_engine) as s:
        load_seed(s)
        load_catalog(s)
        names = {x["name"] for x in seed_services()}
        assert set(mapping()) <= names  # every mapped service is in the catalog
        # The five without an act in the catalog are named in storage/seed/service_laws.yml.
        assert names - set(mapping()) == {"ขึ้นทะเบียนเกษตรกร", "ตรวจประวัติอาชญากรรม", "บัตรสวัสดิการแห่งรัฐ", "หนังสือเดินทาง", "เงินอุดหนุนเด็กแรกเกิด"}
        for service, entries in mapping().items():
            assert len(laws_for_service(s, service)) == len([e for e in entries if e[0] not in corpus_only()]), service
        assert [r.sections for r in laws_for_service(s, "แจ้งเกิด")] == [("18",)]


def test_bot_laws_obstacles_json(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as s:
        load_seed(s)
        building = s.scalar(select(Law).where(Law.title == BUILDING))
        for i in range(3):
            _file(s, f"line:U{i}", f"ช้ามาก ติดต่อ 08{i}1234567", law=building, service="ใบอนุญาตก่อสร้าง")
    engine.dispose()
    out = CliRunner().invoke(cli, ["laws", "obstacles", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert rows[0]["title"] == BUILDING and rows[0]["reports"] == 3 and rows[0]["kind"] == "law"
    assert set(rows[0]) == {"kind", "title", "law_id", "reports", "services_affected", "by_kind", "sample_quotes"}
    assert rows[0]["services_affected"] == ["ใบอนุญาตก่อสร้าง"]
    assert rows[0]["sample_quotes"] == ["ช้ามาก ติดต่อ <เบอร์โทร>"]  # masked, the same quote once
    assert not any("1234567" in q for q in rows[0]["sample_quotes"])

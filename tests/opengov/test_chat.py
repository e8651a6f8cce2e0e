"""Chat and Telegram: statistics answers (same suppressed figures), "ยังไม่เสร็จจริง", obstacle reports, /obstacle."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from actions.obstacles import ActionReportObstacle
from actions.reopen import ActionReopenRequest
from actions.service_cards import service_card
from actions.stats import ActionAgencyStats, answer
from storage.db import session_scope
from storage.models.laws import Law
from storage.models.opengov import ObstacleReport
from storage.models.services import COMPLETED
from storage.officials import require_official
from storage.requests import Citizen, create_request, update_request_status
from common.wording.laws import citation
from storage.service_laws import laws_for_service
from storage.services import get_service
from storage.stats import REAL, published
from tests.clock import START
from tests.opengov.fixtures import LAND, REVENUE, TRANSFER, fixture
from tests.services.conftest import ent, run, services_db, tracker  # noqa: F401 - the fixture
from usecases.admin_commands import handle
from usecases.context import CommandContext


def test_stats_answers_use_the_published_figures(services_db) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    with session_scope(services_db) as s:
        fixture(s)
    with session_scope(services_db) as s:
        pub = published(s, dataset=REAL, now=START)
    text = answer(pub, agency=LAND, service=None, fastest=False)
    assert text.startswith(f"📊 {LAND}") and "รับคำร้อง 11 เรื่อง ดำเนินการเสร็จ 5 เรื่อง (45.5%)" in text
    assert "บริการที่มีคำร้องมากที่สุด: จดทะเบียนโอนที่ดิน (6)" in text
    assert "ส่งต่อ" in answer(pub, agency=REVENUE, service=None, fastest=False)  # passed 6 on
    assert "ยังไม่มีสถิติของ การไฟฟ้าส่วนภูมิภาค ที่เผยแพร่ได้" in answer(pub, agency="การไฟฟ้าส่วนภูมิภาค", service=None, fastest=False)
    ranked = answer(pub, agency=None, service=TRANSFER, fastest=True)
    assert ranked.startswith("🏁") and f"1. {LAND} — ปิดเรื่องภายใน 30.0 ชั่วโมง" in ranked
    msgs, _ = run(ActionAgencyStats(), tracker("สถิติกรมที่ดิน", "ask_agency_stats"))
    assert msgs[0]["text"].startswith(f"📊 {LAND}")
    msgs, _ = run(ActionAgencyStats(), tracker("หน่วยงานไหนแก้เรื่องไฟถนนเร็วที่สุด", "ask_agency_stats"))
    assert "ยังไม่มีสถิติของบริการ ไฟถนนดับ ที่เผยแพร่ได้" in msgs[0]["text"]


def test_reopen_from_the_button(services_db) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    citizen = Citizen("line:U1", "line", "U1")
    with session_scope(services_db) as s:
        request = create_request(s, citizen, get_service(s, "ไฟถนนดับ"), details="ไฟดับ", now=START - timedelta(days=2))
        update_request_status(s, require_official(s, "telegram", "901"), request.id, COMPLETED, now=START - timedelta(days=1))
        code = request.code
    msgs, _ = run(ActionReopenRequest(), tracker('/reopen_request{"request_id": "%s"}' % code, "reopen_request",
                                                 entities=[{"entity": "request_id", "value": code}]))
    assert msgs[0]["response"] == "utter_reopened" and msgs[0]["request_id"] == code
    msgs, _ = run(ActionReopenRequest(), tracker("ยังไม่เสร็จจริง", "reopen_request"))
    assert msgs[0]["response"] == "utter_reopen_nothing"  # it is in progress again


def test_obstacle_from_a_service_card_then_the_reason(services_db) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    with session_scope(services_db) as s:
        building_card = service_card(get_service(s, "ใบอนุญาตก่อสร้าง"), None, ["พระราชบัญญัติควบคุมอาคาร พ.ศ. 2522 มาตรา 21"])
        assert '/report_obstacle{"service": "ใบอนุญาตก่อสร้าง"}' in str(building_card) and "ขั้นตอนนี้ยุ่งยาก" in str(building_card)
        assert "พระราชบัญญัติควบคุมอาคาร พ.ศ. 2522 มาตรา 21" in str(building_card)
        from storage.laws.seed import load_seed

        load_seed(s)
        assert [citation(ref.title, ref.sections) for ref in laws_for_service(s, "แจ้งเกิด")] == ["พระราชบัญญัติการทะเบียนราษฎร พ.ศ. 2534 มาตรา 18"]
    payload = '/report_obstacle{"service": "จดทะเบียนโอนที่ดิน"}'
    msgs, events = run(ActionReportObstacle(), tracker(payload, "report_obstacle", entities=[{"entity": "service", "value": TRANSFER}]))
    assert msgs[0]["response"] == "utter_obstacle_ask_reason" and events == [{"event": "slot", "timestamp": None, "name": "obstacle_target", "value": f"service:{TRANSFER}"}]
    msgs, _ = run(ActionReportObstacle(), tracker("ต้องไปหลายรอบ โทรหาผมที่ 0812345678", "report_obstacle",
                                                  slots={"obstacle_target": f"service:{TRANSFER}"}))
    assert msgs[0]["response"] == "utter_obstacle_recorded"
    msgs, _ = run(ActionReportObstacle(), tracker("พ.ร.บ.ควบคุมอาคาร เป็นอุปสรรค", "report_obstacle",
                                                  entities=[{"entity": "law_topic", "value": "พ.ร.บ.ควบคุมอาคาร"}]))
    with session_scope(services_db) as s:
        rows = list(s.scalars(select(ObstacleReport).order_by(ObstacleReport.id)))
        assert [(r.service, r.kind, r.reason) for r in rows[:1]] == [(TRANSFER, "step", "ต้องไปหลายรอบ โทรหาผมที่ <เบอร์โทร>")]  # one report, completed
        assert len(rows) == 2 and rows[1].law_title == "พระราชบัญญัติควบคุมอาคาร พ.ศ. 2522" and rows[1].kind == "law"
        assert all(r.reporter != "line:U1" and "U1" not in r.reporter for r in rows)


def test_officials_report_with_slash_obstacle(services_db) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ctx = CommandContext(channel="telegram", chat_id="-100500", chat_type="group", user_id="901", display_name="ปลัด")
    with session_scope(services_db) as s:
        from storage.laws.seed import load_seed

        load_seed(s)
        reply = handle(s, ctx, "/obstacle พ.ร.บ.ควบคุมอาคาร : ต้องยื่นเอกสารชุดเดียวกันซ้ำ")
        assert reply.startswith("บันทึกรายงานว่า พระราชบัญญัติควบคุมอาคาร พ.ศ. 2522 เป็นอุปสรรค")
        assert "ขั้นตอนของบริการ ใบอนุญาตก่อสร้าง" in handle(s, ctx, "/obstacle ใบอนุญาตก่อสร้าง ใช้เวลานาน")
        assert handle(s, ctx, "/obstacle").startswith("ใช้คำสั่งนี้แบบ")
        stranger = CommandContext(channel="telegram", chat_id="-1", chat_type="group", user_id="999", display_name="x")
        assert "สำหรับเจ้าหน้าที่ที่ลงทะเบียนแล้ว" in handle(s, stranger, "/obstacle ใบอนุญาตก่อสร้าง ช้า")
        rows = list(s.scalars(select(ObstacleReport)))
        assert [(r.reporter_role, r.reporter.startswith("official:")) for r in rows] == [("official", True)] * 2
        assert s.get(Law, rows[0].law_id).title == "พระราชบัญญัติควบคุมอาคาร พ.ศ. 2522"  # type: ignore[union-attr]

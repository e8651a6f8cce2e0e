"""The public routes over HTTP: /stats, the open data (CSV/JSON), /laws and a law page; no personal data anywhere."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select
import httpx

from connectors.app import create_app
from storage.db import make_engine, session_scope
from storage.laws.seed import load_seed
from storage.migrate import upgrade
from storage.models.laws import Law
from storage.obstacles import report_obstacle
from tests.channels.conftest import make_settings
from tests.channels.fakes import ServerThread
from tests.opengov.fixtures import LAND, TRANSFER, fixture


@pytest.fixture
def client(tmp_path):  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9")
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with session_scope(engine) as s:
        fixture(s)
        load_seed(s)
    app = create_app(settings, engine=engine, channels={})
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        yield c, engine
    engine.dispose()


def test_stats_page_shows_published_figures_only(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    r = c.get("/stats")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    body = r.text
    assert "สถิติการให้บริการของหน่วยงานรัฐ" in body and LAND in body and TRANSFER in body
    assert "การไฟฟ้าส่วนภูมิภาค" not in body.split("<main>")[1]  # 4 requests: withheld
    assert "<svg" in body and "<script" not in body and "http://" not in body.replace("http://127", "")
    assert "ข้อมูลสาธิต" not in body
    assert "57.1%" in body  # resolved share of all published requests
    assert c.get("/stats?data=demo").text.count("ข้อมูลสาธิต") >= 1
    one = c.get("/stats", params={"service": TRANSFER}).text
    assert f"หน่วยงานที่ให้บริการ {TRANSFER}" in one and "83.3%" in one and "กรมสรรพากร" not in one.split('id="agency-table"')[1]


def test_open_data_csv_and_json_agree(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    r = c.get("/open-data/requests.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    first, rest = r.text.split("\n", 1)
    assert first.startswith("# licence: Creative Commons Attribution 4.0") and "CC BY 4.0" in first
    rows = list(csv.DictReader(io.StringIO(rest)))
    assert [(x["week_start"], x["agency"], x["service"], x["received"]) for x in rows] == [
        ("2026-11-09", LAND, TRANSFER, "6"), ("2026-11-09", LAND, "บริการอื่น ๆ", "5"), ("2026-11-09", "กรมสรรพากร", "ภาษีเงินได้บุคคลธรรมดา", "5"),
        ("2026-11-16", "หน่วยงานอื่น ๆ", "บริการอื่น ๆ", "5")]
    assert rows[0]["rating_avg"] == "4.2" and rows[1]["rating_avg"] == "" and rows[0]["dataset"] == "real"
    data = c.get("/open-data/requests.json").json()
    assert data["k"] == 5 and data["period"] == "week" and "CC BY 4.0" in data["licence"]
    assert [(x["agency"], x["received"]) for x in data["rows"]] == [(x["agency"], int(x["received"])) for x in rows]
    assert sum(x["received"] for x in data["rows"]) == 21
    assert not {"citizen_key", "reply_to", "details", "contact", "location", "id"} & set(data["rows"][0])


def test_laws_search_browse_and_law_page(client) -> None:  # type: ignore[no-untyped-def]
    c, engine = client
    with session_scope(engine) as s:
        land = s.scalar(select(Law).where(Law.title == "ประมวลกฎหมายที่ดิน"))
        for i in range(6):
            report_obstacle(s, law=land, service=TRANSFER, reason=f"ต้องไปหลายรอบ โทร 081234567{i}", reporter=f"p{i}")
        land_id = land.id
    # The curated catalog only (no corpus here): the relevance floor is calibrated with the corpus
    # imported, as `bot run` does, where "โฉนดที่ดิน" also finds it.
    r = c.get("/laws", params={"q": "กฎหมายที่ดิน"})
    assert r.status_code == 200 and "ประมวลกฎหมายที่ดิน" in r.text
    browse = c.get("/laws", params={"group": "ที่ดิน"}).text
    assert "ประมวลกฎหมายที่ดิน" in browse and "ประมวลกฎหมายอาญา" not in browse.split('id="results"')[1]
    law = c.get(f"/laws/{land_id}").text
    assert "ประมวลกฎหมายที่ดิน" in law and "จดทะเบียนโอนที่ดิน" in law  # the service that rests on it
    assert "รายงานว่ากฎหมายนี้เป็นอุปสรรคต่อการรับบริการ: <b>6</b>" in law
    assert "0812345670" not in law
    assert c.get("/laws/999999").status_code == 404
    assert c.get("/laws/abc").status_code == 404


def test_a_fresh_system_shows_empty_pages_politely(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9")
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with ServerThread(create_app(settings, engine=engine, channels={})) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        body = c.get("/stats").text
        assert "ยังไม่มีข้อมูลรายสัปดาห์ที่เผยแพร่ได้" in body and "ยังไม่มีหน่วยงานหรือบริการที่มีคำร้องมากพอจะเผยแพร่" in body
        lines = c.get("/open-data/requests.csv").text.splitlines()
        assert len(lines) == 2 and lines[1].startswith("dataset,week_start")
        assert c.get("/open-data/requests.json").json()["rows"] == []
        assert c.get("/stats", params={"since": "not-a-date", "agency": "<script>"}).status_code == 200
        assert "<script>" not in c.get("/laws", params={"q": "<script>alert(1)</script>"}).text.split("<main>")[1]
    engine.dispose()

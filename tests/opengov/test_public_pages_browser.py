"""/stats, /laws and a law page in headless Chromium, on a demo-seeded system (desktop and phone widths).

Screenshots go to OPENGOV_SCREENSHOTS (a directory) when set, e.g. /tmp/opengov-shots.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.app import create_app
from storage import demo
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models.laws import Law, LawSection
from tests.browser import MARKS, headless_chromium
from tests.channels.conftest import make_settings
from tests.channels.fakes import ServerThread
from tests.clock import START

pytestmark = MARKS
BUILDING = "พระราชบัญญัติควบคุมอาคาร พ.ศ. 2522"


def _shot(browser, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = os.environ.get("OPENGOV_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        width = browser.execute_script("return window.outerWidth")
        browser.set_window_size(width, 900)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(width, min(max(height + 140, 900), 6000))
        browser.save_screenshot(str(Path(folder) / f"{name}.png"))


def _wait_for(browser, wait, element_id: str):  # type: ignore[no-untyped-def]
    """The element once the page has it (a loaded CI machine once read /laws before its form was there); when it
    never comes, the failure says which page the browser showed."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    try:
        return wait.until(ec.presence_of_element_located((By.ID, element_id)))
    except TimeoutException:
        raise AssertionError(f"#{element_id} missing on {browser.current_url}: {browser.title!r} "
                             f"{browser.find_element(By.TAG_NAME, 'body').text[:500]!r}") from None


@pytest.fixture
def server(tmp_path):  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9")
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with session_scope(engine) as s:
        demo.seed(s, count=400, weeks=8, now=START)
        building = s.scalar(select(Law).where(Law.title == BUILDING))
        for n in ("1", "21", "22"):  # placeholder section text: the seed has no corpus
            building.sections.append(LawSection(position=int(n), number=n, text=f"ข้อความมาตรา {n} ตัวอย่างสำหรับการทดสอบหน้าเว็บ"))
        land_law = building.id
    app = create_app(settings, engine=engine, channels={})
    with ServerThread(app) as running:
        yield running, land_law
    engine.dispose()


@pytest.fixture(params=[("desktop", "--window-size=1200,900"), ("phone", "--window-size=390,844")], ids=lambda p: p[0])
def browser(request, tmp_path):  # type: ignore[no-untyped-def]
    for driver in headless_chromium(tmp_path / "profile", request.param[1], "--lang=th-TH", "--hide-scrollbars"):
        driver.form_factor = request.param[0]
        yield driver


def test_stats_laws_and_a_law_page(server, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from selenium.common.exceptions import StaleElementReferenceException

    running, land_law = server
    wait = WebDriverWait(browser, 20, ignored_exceptions=(StaleElementReferenceException,))
    kind = browser.form_factor

    browser.get(f"{running.url}/stats")
    wait.until(ec.presence_of_element_located((By.ID, "agency-table")))
    assert "ข้อมูลสาธิต" in browser.find_element(By.ID, "demo-banner").text
    tiles = browser.find_element(By.ID, "tiles").text
    assert "คำร้องที่รับ" in tiles and "ปิดเรื่อง (มัธยฐาน)" in tiles
    assert len(browser.find_elements(By.CSS_SELECTOR, "#weekly svg rect")) >= 16  # 8+ weeks x 2 bars
    assert len(browser.find_elements(By.CSS_SELECTOR, "#agencies svg text")) >= 8
    table = browser.find_element(By.ID, "agency-table").text
    assert "องค์กรปกครองส่วนท้องถิ่น" in table and "ไฟถนนดับ" in table
    # Nothing overflows the page sideways (mobile): the table scrolls inside its card.
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    _shot(browser, f"stats-{kind}")

    browser.find_element(By.CSS_SELECTOR, "select[name=agency] option[value='กรมที่ดิน']").click()
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    wait.until(ec.url_contains("agency="))
    wait.until(lambda b: b.find_element(By.ID, "agency-table").text.splitlines()[1:2] != []
               and "องค์กรปกครองส่วนท้องถิ่น" not in b.find_element(By.ID, "agency-table").text)
    table = browser.find_element(By.ID, "agency-table").text
    assert table.splitlines()[1].startswith("กรมที่ดิน") and "องค์กรปกครองส่วนท้องถิ่น" not in table
    assert "คำร้องแยกตามบริการ · กรมที่ดิน" in browser.page_source

    browser.get(f"{running.url}/stats?service=ไฟถนนดับ")
    assert "หน่วยงานที่ให้บริการ ไฟถนนดับ" in browser.find_element(By.TAG_NAME, "main").text
    assert "ไฟถนนดับ" in browser.find_element(By.ID, "agencies").text or browser.find_elements(By.CSS_SELECTOR, "#agencies svg rect")
    _shot(browser, f"stats-service-{kind}")

    browser.get(f"{running.url}/laws")
    box = _wait_for(browser, wait, "q")
    box.send_keys("ซื้อขายที่ดิน โฉนด")
    browser.find_element(By.ID, "search").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "heading"), "ผลการค้นหา"))
    results = browser.find_element(By.ID, "results").text
    assert "ประมวลกฎหมายที่ดิน" in results
    _shot(browser, f"laws-search-{kind}")
    browser.get(f"{running.url}/laws?group=ที่ดิน")
    assert "ประมวลกฎหมายที่ดิน" in browser.find_element(By.ID, "results").text

    browser.get(f"{running.url}/laws/{land_law}")
    assert browser.find_element(By.ID, "law-title").text == BUILDING
    assert "ใบอนุญาตก่อสร้าง (มาตรา 21)" in browser.find_element(By.ID, "services").text
    assert "รายงานว่ากฎหมายนี้เป็นอุปสรรคต่อการรับบริการ: 7" in browser.find_element(By.ID, "obstacles").text
    assert "มาตรา 21" in browser.find_element(By.ID, "sections").text
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    _shot(browser, f"law-page-{kind}")

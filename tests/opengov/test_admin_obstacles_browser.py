"""The admins' page shows the obstacle ranking (the same as `bot laws obstacles`), in headless Chromium."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from bot.nlu_admin import page
from connectors.app import create_app
from storage.db import make_engine, session_scope
from storage.laws.seed import load_seed
from storage.migrate import upgrade
from storage.models.laws import Law
from storage.obstacles import report_obstacle
from tests.browser import MARKS, headless_chromium
from tests.channels.conftest import make_settings
from tests.channels.fakes import ServerThread

TOKEN = "browser-admin-token"
pytestmark = MARKS


@pytest.fixture
def browser(tmp_path):  # type: ignore[no-untyped-def]
    yield from headless_chromium(tmp_path / "profile", "--window-size=1100,900")


def test_obstacle_tab(tmp_path, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9", admin_token=TOKEN)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with session_scope(engine) as s:
        load_seed(s)
        building = s.scalar(select(Law).where(Law.title == "พระราชบัญญัติควบคุมอาคาร พ.ศ. 2522"))
        for i in range(3):
            report_obstacle(s, law=building, service="ใบอนุญาตก่อสร้าง", reason=f"รอนานมาก โทร 08{i}9998877", reporter=f"p{i}")
        report_obstacle(s, service="จดทะเบียนโอนที่ดิน", kind="step", reason="ต้องไปหลายรอบ", reporter="p9")
    app = create_app(settings, engine=engine, channels={}, extra_routes=page.routes())
    app.state.nlu_data_dir = tmp_path
    with ServerThread(app) as server:
        wait = WebDriverWait(browser, 20)
        browser.get(f"{server.url}/admin")
        browser.find_element(By.ID, "token").send_keys(TOKEN)
        browser.find_element(By.ID, "enter").click()
        wait.until(ec.element_to_be_clickable((By.ID, "tab-obstacles"))).click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "obstacles"), "3 รายงาน"))
        text = browser.find_element(By.ID, "obstacles").text
        assert text.index("พระราชบัญญัติควบคุมอาคาร") < text.index("จดทะเบียนโอนที่ดิน")
        assert "บริการที่ได้รับผลกระทบ: ใบอนุญาตก่อสร้าง" in text and "<เบอร์โทร>" in text and "9998877" not in text
        if os.environ.get("OPENGOV_SCREENSHOTS"):
            browser.save_screenshot(os.path.join(os.environ["OPENGOV_SCREENSHOTS"], "admin-obstacles.png"))
    engine.dispose()

"""The /admin page in headless Chromium: sign in, read the queue, mark an entity, save into nlu_data/, discard, flag."""

from __future__ import annotations

import os

import pytest
import yaml

from bot.nlu_admin import page
from connectors.app import create_app
from storage.db import make_engine
from storage.migrate import upgrade
from tests.browser import MARKS, headless_chromium
from tests.channels.conftest import make_settings
from tests.channels.fakes import ServerThread
from tests.nlu_admin.conftest import capture

TOKEN = "browser-admin-token"

pytestmark = MARKS


@pytest.fixture
def browser(tmp_path):  # type: ignore[no-untyped-def]
    yield from headless_chromium(tmp_path / "profile", "--window-size=1100,1400")


@pytest.fixture
def admin_server(tmp_path):  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, rasa_url="http://127.0.0.1:9", admin_token=TOKEN)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    data = tmp_path / "nlu_data"
    data.mkdir()
    (data / "services.yml").write_text('version: "3.1"\n\nnlu:\n  - intent: ask_service_info\n    examples: |\n'
                                       '      - ทำบัตรประชาชนใช้อะไรบ้าง\n', encoding="utf-8")
    app = create_app(settings, engine=engine, channels={}, extra_routes=page.routes())
    app.state.nlu_data_dir = data
    with ServerThread(app) as server:
        yield server, engine, data
    engine.dispose()


def test_sign_in_annotate_with_an_entity_and_discard(admin_server, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    server, engine, data = admin_server
    for user in ("U1", "U2"):
        capture(engine, "ต่อใบขับขี่ต้องใช้อะไร", "nlu_fallback", 0.3, user=user)
    capture(engine, "555", "nlu_fallback", 0.2, user="U3")
    wait = WebDriverWait(browser, 20)

    browser.get(f"{server.url}/admin")
    browser.find_element(By.ID, "token").send_keys("wrong-token")
    browser.find_element(By.ID, "enter").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "login-msg"), "ไม่ถูกต้อง"))

    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "enter").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "queue"), "ต่อใบขับขี่ต้องใช้อะไร"))
    assert "พบ 2 ครั้ง" in browser.find_element(By.ID, "queue").text
    assert "ผู้ช่วยไม่เข้าใจ 2" in browser.find_element(By.ID, "queue").text
    if os.environ.get("ADMIN_PAGE_SCREENSHOT"):
        browser.save_screenshot(os.environ["ADMIN_PAGE_SCREENSHOT"])

    card = browser.find_elements(By.CSS_SELECTOR, "#queue .box")[0]
    intent, example = card.find_elements(By.CSS_SELECTOR, "input[type=text]")
    intent.clear()
    intent.send_keys("ask_service_info")
    start = example.get_attribute("value").index("ใบขับขี่")
    browser.execute_script("arguments[0].focus(); arguments[0].setSelectionRange(arguments[1], arguments[2]);", example, start, start + 8)
    next(b for b in card.find_elements(By.CSS_SELECTOR, "button.entity") if b.text == "service").click()
    assert example.get_attribute("value") == "ต่อ[ใบขับขี่](service)ต้องใช้อะไร"
    next(b for b in card.find_elements(By.TAG_NAME, "button") if b.text == "บันทึกเป็นตัวอย่าง").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "flash"), "บันทึกเป็นตัวอย่างของ ask_service_info"))
    examples = yaml.safe_load((data / "services.yml").read_text(encoding="utf-8"))["nlu"][0]["examples"].splitlines()
    assert examples == ["- ต่อ[ใบขับขี่](service)ต้องใช้อะไร", "- ทำบัตรประชาชนใช้อะไรบ้าง"]

    remaining = browser.find_elements(By.CSS_SELECTOR, "#queue .box")[0]
    assert "555" in remaining.text
    next(b for b in remaining.find_elements(By.TAG_NAME, "button") if b.text.startswith("ทิ้ง")).click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "flash"), "ทิ้งข้อความแล้ว 1 รายการ"))

    browser.find_element(By.ID, "tab-recent").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "recent"), "ตรวจแล้ว"))

"""The web chat page in headless Chromium (Debian's chromium + chromedriver): type, send, see the reply and buttons."""

from __future__ import annotations

import shutil

import pytest

from connectors.app import create_app
from storage.db import make_engine
from storage.migrate import upgrade
from tests.channels.conftest import make_settings
from tests.channels.fakes import ServerThread

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")), reason="Debian chromium/chromedriver not installed"),
]


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.mark.timeout(120)
def test_web_chat_sends_and_renders_replies(tmp_path, fake_rasa, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    rasa, rasa_server = fake_rasa
    settings = make_settings(tmp_path, rasa_url=rasa_server.url)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)) as server:
        browser.get(f"{server.url}/chat")
        box = browser.find_element(By.ID, "text")
        box.send_keys("ขอการ์ด กฎหมาย")
        browser.find_element(By.ID, "send").click()
        wait = WebDriverWait(browser, 30)
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".msg.bot .bubble")))
        assert "ตอบ: ขอการ์ด กฎหมาย" in browser.find_element(By.CSS_SELECTOR, ".msg.bot .bubble").text
        card = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".card h3")))
        assert "ข้อมูลส่วนบุคคล" in card.text
        menu = browser.find_element(By.XPATH, "//div[@class='quick']/button[text()='เมนู']")
        menu.click()  # a quick reply button sends its payload and shows its title
        wait.until(lambda d: len(rasa.received) == 2)
        assert rasa.received[1]["message"] == "/help"
        assert rasa.received[0]["sender"].startswith("web:web-")

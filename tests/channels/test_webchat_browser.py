"""The web chat page in headless Chromium (Debian's chromium + chromedriver): type, send, see replies, cards, buttons, location."""

from __future__ import annotations


import pytest

from connectors.app import create_app
from storage.db import make_engine
from storage.migrate import upgrade
from tests.browser import MARKS, headless_chromium
from tests.channels.conftest import make_settings
from tests.channels.fakes import ServerThread

pytestmark = MARKS


@pytest.fixture
def browser(tmp_path):
    yield from headless_chromium(tmp_path / "profile")


@pytest.fixture
def chat_server(tmp_path, fake_rasa):
    rasa, rasa_server = fake_rasa
    settings = make_settings(tmp_path, rasa_url=rasa_server.url)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with ServerThread(create_app(settings, engine=engine, poll_interval=0.05)) as server:
        yield server, rasa
    engine.dispose()


def test_web_chat_sends_and_renders_replies(chat_server, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    server, rasa = chat_server
    browser.get(f"{server.url}/chat")
    box = browser.find_element(By.ID, "text")
    box.send_keys("ขอการ์ด กฎหมาย <b>ตัวหนา</b>")
    browser.find_element(By.ID, "send").click()
    wait = WebDriverWait(browser, 30)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".msg.bot .bubble")))
    assert "ตอบ: ขอการ์ด กฎหมาย <b>ตัวหนา</b>" in browser.find_element(By.CSS_SELECTOR, ".msg.bot .bubble").text  # shown, not interpreted
    card = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".card h3")))
    assert "ข้อมูลส่วนบุคคล" in card.text
    assert browser.find_element(By.CSS_SELECTOR, ".card a").get_attribute("href") == "https://www.krisdika.go.th/"
    menu = browser.find_element(By.XPATH, "//div[@class='quick']/button[text()='เมนู']")
    menu.click()  # a quick reply button sends its payload and shows its title
    wait.until(lambda d: len(rasa.received) == 2)
    assert rasa.received[1]["message"] == "/help"
    # who speaks comes from the server's session cookie: both messages are one visitor's conversation
    assert rasa.received[0]["sender"].startswith("web:w") and rasa.received[1]["sender"] == rasa.received[0]["sender"]
    wait.until(lambda d: any(e.text == "เมนู" for e in d.find_elements(By.CSS_SELECTOR, ".msg.me .bubble")))


def test_web_chat_shares_a_location(chat_server, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    server, rasa = chat_server
    browser.execute_cdp_cmd("Browser.grantPermissions", {"origin": server.url, "permissions": ["geolocation"]})
    browser.execute_cdp_cmd("Emulation.setGeolocationOverride", {"latitude": 13.7563, "longitude": 100.5018, "accuracy": 10})
    browser.get(f"{server.url}/chat")
    browser.find_element(By.ID, "text").send_keys("ขอที่อยู่")
    browser.find_element(By.ID, "send").click()
    wait = WebDriverWait(browser, 30)
    button = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button.share-location")))
    button.click()
    wait.until(lambda d: len(rasa.received) == 2)
    location = rasa.received[1]["metadata"]["location"]
    assert location["latitude"] == pytest.approx(13.7563) and location["longitude"] == pytest.approx(100.5018)
    assert rasa.received[1]["message"] == "ตำแหน่งที่ตั้ง"


def test_web_chat_manual_location_when_geolocation_is_refused(chat_server, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    server, rasa = chat_server
    browser.execute_cdp_cmd("Browser.setPermission", {"origin": server.url, "permission": {"name": "geolocation"}, "setting": "denied"})
    browser.get(f"{server.url}/chat")
    browser.find_element(By.ID, "loc").click()
    alert = WebDriverWait(browser, 15).until(ec.alert_is_present())
    alert.send_keys("13.75, 100.5")
    alert.accept()
    WebDriverWait(browser, 30).until(lambda d: rasa.received)
    assert rasa.received[0]["metadata"]["location"]["latitude"] == pytest.approx(13.75)

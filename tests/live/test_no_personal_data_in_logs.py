"""No personal data in any log on any path (issue #15): a canary phone number and name driven
through the live stack's normal and error paths never reaches a log file of any process,
Rasa's included."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.live.scenarios import Result
from tests.live.stack import LiveStack, sign_line

pytestmark = pytest.mark.live

CANARY_PHONE = "0897651234"
CANARY_NAME = "คานารีทดสอบ"
FORMS = (CANARY_PHONE, "089-765-1234", "089 765 1234", CANARY_NAME)


def _wait_done(stack: LiveStack, channel: str, external_id: str | None, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while external_id is not None and stack.event_state(channel, external_id) not in ("done", "failed", None):
        assert time.monotonic() < deadline, "the gateway did not handle the canary message"
        time.sleep(0.2)


def test_a_canary_in_messages_and_error_paths_reaches_no_log(live_stack: LiveStack, scenario_results: dict[str, Result]) -> None:
    stack = live_stack
    user = {"type": "user", "userId": f"Ucanary{stack.next_id()}"}
    said = [f"แจ้งไฟถนนดับครับ ผมชื่อ{CANARY_NAME} โทร {CANARY_PHONE}", f"เบอร์ 089-765-1234 ค่ะ {CANARY_NAME}",
            f"/request_service{{\"service\": {{\"x\": \"{CANARY_PHONE}\"}}}}", f"ยกเลิก REQ-99999999 {CANARY_PHONE}", "ยกเลิก",
            f"ไฟไหม้บ้าน{CANARY_NAME} ช่วยด้วย โทร {CANARY_PHONE}"]  # an emergency, answered by the gateway itself
    for text in said:
        event_id = stack.line_event(user, {"type": "message", "message": {"id": str(stack.next_id()), "type": "text", "text": text}})
        _wait_done(stack, "line", event_id)
    # error paths: a forged signature, malformed JSON, a Telegram update with the wrong secret, each carrying the canary
    url = stack.gateway_url
    body = ('{"destination": "U1", "events": [{"type": "message", "message": {"text": "%s"}}]}' % CANARY_PHONE).encode()
    assert httpx.post(f"{url}/webhooks/line", content=body, headers={"x-line-signature": sign_line(body, "wrong")}).status_code == 401
    broken = ('{"events": [ "%s" ' % CANARY_PHONE).encode()
    assert httpx.post(f"{url}/webhooks/line", content=broken, headers={"x-line-signature": sign_line(broken)}).status_code in (400, 422)
    update = {"update_id": 9, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": CANARY_PHONE}}
    assert httpx.post(f"{url}/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}).status_code == 403
    time.sleep(2)  # let every process flush its log
    assert stack.dir is not None
    logs = sorted((stack.dir / "var" / "logs").glob("*.log"))
    assert {p.stem for p in logs} >= {"rasa", "actions", "gateway", "scheduler"}, logs
    leaks = [f"{path.name}: {form}" for path in logs for form in FORMS if form in path.read_text(errors="replace")]
    assert leaks == []

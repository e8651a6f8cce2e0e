"""Every conversation scenario (tests/scenarios/*.yml) through the real path, one test each.

All scenarios run once, concurrently, against one live stack (tests/live/conftest.py);
each test then reports its own scenario. A scenario marked `known_failure` that fails is
an expected failure (xfail, with the reason); one that passes is reported as passing,
and the session summary asks to remove its mark.
"""

from __future__ import annotations

import httpx
import pytest

from tests.live.scenarios import Result, load_all
from tests.live.stack import LiveStack, sign_line

# The whole run happens in the first test's setup: stack start-up plus every scenario.
pytestmark = [pytest.mark.live, pytest.mark.timeout(2400)]

SCENARIOS = load_all()


@pytest.mark.parametrize("scenario_id", [s.id for s in SCENARIOS])
def test_scenario(scenario_results: dict[str, Result], scenario_id: str) -> None:
    result = scenario_results[scenario_id]
    report = "\n".join([result.failure, *result.transcript])
    if result.scenario.known_failure and not result.passed:
        pytest.xfail(f"known failure: {result.scenario.known_failure}\n{report}")
    assert result.passed, report


def test_the_live_gateway_refuses_forged_platform_requests(live_stack: LiveStack) -> None:
    """The harness speaks as the platforms do; anything else is refused before it is read."""
    body = b'{"destination": "U1", "events": []}'
    url = live_stack.gateway_url
    assert httpx.post(f"{url}/webhooks/line", content=body, headers={"x-line-signature": sign_line(body, "wrong")}).status_code == 401
    assert httpx.post(f"{url}/webhooks/line", content=body, headers={"x-line-signature": sign_line(body)}).status_code == 200
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "hi"}}
    assert httpx.post(f"{url}/webhooks/telegram", json=update).status_code == 401
    assert httpx.post(f"{url}/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}).status_code == 403
    assert httpx.post(f"{url}/api/chat/messages", json={"text": "สวัสดี"}).status_code in (403, 404)  # local chat is off

"""Property-based tests of the gateway (issue #17), in process with fake Rasa, LINE and Telegram APIs.

For any body (signed LINE webhooks, Telegram updates with the secret token, chat API requests) the
gateway answers 2xx or 4xx, never 5xx; and for any text a person sends the bot in a 1:1 chat, on any
channel, they get an answer. Rate limits are off here (they would rightly leave a flood unanswered;
tests/security/test_rate_limits.py covers them). Reproducible: `derandomize=True` (examples come from
the test's own name), `FUZZ_EXAMPLES` sets how many (default below; CI may raise it).
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from common.thai_text import BIDI_CONTROLS
from tests.fuzz.harness import Gateway, gateway, line_body, telegram_body

pytestmark = pytest.mark.timeout(900)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_ids = itertools.count(1)

# ---------------------------------------------------------------- strategies

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)
# what people type: Thai, digits of every script, controls, bidi overrides, emoji, and payload look-alikes
_alphabet = st.sampled_from(list("กขคงจฉชซญดตถทนบปผพฟมยรลวศสหอฮะาิีึืุูเแโใไ่้๊๋ั็์ํ ๐๑๒๓๔๕๖๗๘๙0123456789²①٣abcXYZ/{}[]\"':@.,-_\\"
                                 "\x00\x01\x1f\x7f\u200b\ufeff\u2028\U0001f600") + list(BIDI_CONTROLS))
user_texts = st.one_of(
    st.text(_alphabet, min_size=1, max_size=60),
    st.text(min_size=1, max_size=40),
    st.builds(lambda intent, body: f"/{intent}{body}", st.sampled_from(["request_service", "search_law", "affirm", "greet", "set_reminder",
                                                                        "update_task_status", "newtask", "tasks", "x"]),
              st.one_of(st.just(""), json_values.map(lambda v: json.dumps(v, ensure_ascii=False)),
                        st.dictionaries(st.sampled_from(["service", "time", "law_id", "request_id"]), json_values, max_size=3)
                        .map(lambda d: json.dumps(d, ensure_ascii=False)))),
)


def _has_words(text: str) -> bool:
    """Whether anything is left once the gateway drops controls, bidi marks and spaces."""
    from connectors.text import clean_text

    return bool(clean_text(text, 2000)[0])


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("fuzz")
    with pytest.MonkeyPatch.context() as patch:  # module scope: set up before the per-test isolation
        patch.setenv("BOT_VAR_DIR", str(folder / "var"))
        patch.setenv("BOT_ENV_FILE", str(folder / "no.env"))
        with gateway(folder, rate_limits="off") as g:
            yield g


# ---------------------------------------------------------------- any body: never a 5xx


@FUZZ
@given(body=st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200),
                      st.builds(lambda events: json.dumps({"destination": "U0", "events": events}).encode(), st.lists(json_values, max_size=3))))
def test_line_webhook_bodies_never_give_a_5xx(gw: Gateway, body: bytes) -> None:
    status = gw.line_post(body).status_code
    assert 200 <= status < 500, status


@FUZZ
@given(body=st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200),
                      st.builds(lambda message: json.dumps({"update_id": next(_ids), "message": message}).encode(), json_values),
                      st.builds(lambda cq: json.dumps({"update_id": next(_ids), "callback_query": cq}).encode(), json_values)))
def test_telegram_update_bodies_never_give_a_5xx(gw: Gateway, body: bytes) -> None:
    status = gw.telegram_post(body).status_code
    assert 200 <= status < 500, status


@FUZZ
@given(body=st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200),
                      st.fixed_dictionaries({}, optional={"text": json_values, "chat_id": json_values, "user_id": json_values,
                                                          "channel": json_values, "chat_type": json_values, "display_name": json_values,
                                                          "message_id": json_values, "location": json_values})
                      .map(lambda d: json.dumps(d).encode())),
       developer=st.booleans())
def test_chat_api_bodies_never_give_a_5xx(gw: Gateway, body: bytes, developer: bool) -> None:
    status = gw.chat_post(body, developer=developer).status_code
    assert 200 <= status < 500, status


@FUZZ
@given(after=st.one_of(st.text(max_size=25), st.integers().map(str)), chat_id=st.text(max_size=70))
def test_chat_polling_never_gives_a_5xx(gw: Gateway, after: str, chat_id: str) -> None:
    status = gw.client.get("/api/chat/messages", params={"after": after, "chat_id": chat_id}, headers=gw.dev_headers()).status_code
    assert 200 <= status < 500, status


# ---------------------------------------------------------------- any text: a person always gets an answer


@FUZZ
@given(text=user_texts)
def test_web_chat_always_answers_a_person(gw: Gateway, text: str) -> None:
    response = gw.chat(text, chat_id=f"fz{next(_ids)}")
    if not _has_words(text):
        assert response.status_code == 400  # "text is empty": a clear error, not a silent bot
        return
    assert response.status_code == 200, response.text
    assert response.json()["replies"], text


@FUZZ
@given(text=user_texts)
def test_line_always_answers_a_person(gw: Gateway, text: str) -> None:
    n = next(_ids)
    user = f"Ufz{n:08d}"
    assert gw.line_post(line_body(text, event_id=f"01FUZZ{n:020d}", user=user)).status_code == 200
    token = f"rt01FUZZ{n:020d}"
    gw.wait_for(lambda: any(r["replyToken"] == token for r in gw.line.replies) or any(p.get("to") == user for p in gw.line.pushes))


@FUZZ
@given(text=user_texts)
def test_telegram_always_answers_a_person(gw: Gateway, text: str) -> None:
    n = next(_ids)
    chat = 700_000 + n
    assert gw.telegram_post(telegram_body(text, update_id=500_000 + n, chat_id=chat, user_id=chat)).status_code == 200
    gw.wait_for(lambda: any(str(m.get("chat_id")) == str(chat) for m in gw.telegram.sent()))

from __future__ import annotations

import json

from click.testing import CliRunner

from bot.cli import cli
from storage.db import get_engine, session_scope
from storage.migrate import upgrade
from storage.models.outbox import FAILED, Outbox
from storage.outbox import enqueue


def test_list_cancel_retry(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    from common.settings import get_settings

    get_settings.cache_clear()
    engine = get_engine()
    upgrade(engine)
    with session_scope(engine) as s:
        a = enqueue(s, kind="reminder", channel="telegram", recipient="-1", text="ส่วนตัว", idempotency_key="a").id
        b = enqueue(s, kind="digest", channel="telegram", recipient="-1", text="x", idempotency_key="b").id
        s.get(Outbox, b).state = FAILED
    runner = CliRunner()
    listed = runner.invoke(cli, ["followups", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert {r["id"] for r in rows} == {a, b}
    assert "ส่วนตัว" not in listed.output  # message text is personal data: never listed
    assert runner.invoke(cli, ["followups", "cancel", str(a)]).exit_code == 0
    again = runner.invoke(cli, ["followups", "cancel", str(a)])
    assert again.exit_code != 0 and "cancelled" in again.output
    assert runner.invoke(cli, ["followups", "retry", str(b)]).exit_code == 0
    assert runner.invoke(cli, ["followups", "retry", "999"]).exit_code != 0
    states = {r["id"]: r["state"] for r in json.loads(runner.invoke(cli, ["followups", "list", "--json"]).output)}
    assert states == {a: "cancelled", b: "pending"}

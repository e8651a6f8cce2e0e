"""The harness itself, without a live stack: the scenario format, reading what a person sees, the watchdog."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.live.scenarios import FILTERS, Run, ScenarioError, load_all, load_file
from tests.live.stack import ROOT, line_seen, telegram_seen


def test_every_scenario_file_loads_with_unique_ids_and_enough_coverage() -> None:
    scenarios = load_all()
    assert len(scenarios) >= 20
    categories = {s.category for s in scenarios}
    assert {"laws", "services", "requests", "privacy", "officials", "tasks", "access"} <= categories
    for s in scenarios:
        assert s.known_failure is None or len(s.known_failure) > 20, f"{s.id}: say why it fails"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_fragments_expand_with_renamed_actors(tmp_path: Path) -> None:
    path = _write(tmp_path, """
        fragments:
          ask:
            - citizen: สวัสดี
              expect: [{text: สวัสดี, in: citizen}]
        scenarios:
          - id: a
            actors: {mali: {line: user}}
            steps:
              - {use: ask, with: {citizen: mali}}
              - {actor: mali, tap: เมนู}
    """)
    [scenario] = load_file(path)
    assert scenario.steps[0] == {"mali": "สวัสดี", "expect": [{"text": "สวัสดี", "in": "mali"}]}
    assert scenario.category == "s"


@pytest.mark.parametrize("body, problem", [
    ("actors: {a: {line: user}}\n    steps: [{b: hi}]", "unknown actor|start with an actor"),
    ("actors: {a: {line: user}}\n    steps: [{a: hi, expect: [{txt: x}]}]", "unknown expectation"),
    ("actors: {a: {line: user}}\n    steps: [{a: hi, db: [{tickets: {}}]}]", "db checks"),
    ("actors: {a: {line: group}}\n    steps: [{a: hi}]", "give `group:`"),
    ("actors: {a: {fax: user}}\n    steps: [{a: hi}]", "line: user"),
    ("actors: {a: {line: user}}\n    steps: [{a: hi, on: x}]", "unknown step keys"),  # YAML reads `on:` as True
])
def test_malformed_scenarios_are_refused_with_a_reason(tmp_path: Path, body: str, problem: str) -> None:
    path = _write(tmp_path, f"scenarios:\n  - id: x\n    {body}\n")
    with pytest.raises(ScenarioError, match=problem):
        load_file(path)


def test_templates_fill_ids_captures_and_filters() -> None:
    class _Stack:  # Run needs only ids here
        pass

    [scenario] = load_file(_write_tmp_scenario())
    run = Run(_Stack(), scenario)  # type: ignore[arg-type]
    run.vars["req"] = "REQ-000042"
    assert run.fill("ติดตาม {req|nohyphen|lower}") == "ติดตาม req000042"
    assert run.fill("{req|digits|thai}") == "๐๐๐๐๔๒"
    assert run.fill("{req}", regex=True) == r"REQ\-000042"
    assert run.fill("{citizen.id}").startswith("U") and len(run.fill("{citizen.id}")) == 33
    assert int(run.fill("{office.id}")) < -10**12  # a Telegram supergroup id
    assert FILTERS["thai"]("2569") == "๒๕๖๙"


def _write_tmp_scenario() -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "t.yml"
    path.write_text("scenarios:\n  - id: t\n    actors:\n      citizen: {line: user}\n      clerk: {telegram: group, group: office}\n"
                    "    steps: [{citizen: hi}]\n", encoding="utf-8")
    return path


def test_two_runs_of_one_scenario_never_share_a_sender() -> None:
    [scenario] = load_file(_write_tmp_scenario())
    first, second = Run(object(), scenario), Run(object(), scenario)  # type: ignore[arg-type]
    assert first.actors["citizen"].user_id != second.actors["citizen"].user_id
    assert first.groups["office"] != second.groups["office"]


def test_what_a_person_sees_in_line_and_telegram() -> None:
    flex = {"type": "flex", "altText": "คำร้องใหม่ REQ-000001", "contents": {"type": "bubble", "body": {"type": "box", "contents": [
        {"type": "text", "text": "📥 คำร้องใหม่ REQ-000001"}, {"type": "text", "text": "ไฟถนนดับ"}]},
        "footer": {"type": "box", "contents": [{"type": "button", "action": {"type": "postback", "label": "รับเรื่อง", "data": "/x"}}]}},
        "quickReply": {"items": [{"type": "action", "action": {"type": "location", "label": "ส่งตำแหน่ง"}}]}}
    seen = line_seen(flex, "U1", 0, "push")
    assert seen.cards == ["📥 คำร้องใหม่ REQ-000001"] and seen.buttons == [("รับเรื่อง", "/x")] and seen.location_request
    assert "ไฟถนนดับ" in seen.text
    tg = telegram_seen({"chat_id": -100, "text": "<b>งาน T-1</b>\nร่าง &amp; ส่ง",
                        "reply_markup": '{"inline_keyboard": [[{"text": "เสร็จ", "callback_data": "/done"}]]}'}, 0, 7)
    assert tg.cards == ["งาน T-1"] and tg.text == "งาน T-1\nร่าง & ส่ง" and tg.buttons == [("เสร็จ", "/done")] and tg.message_id == 7


@pytest.mark.kill
@pytest.mark.timeout(60)
def test_the_watchdog_stops_the_stack_when_its_parent_is_killed(tmp_path: Path) -> None:
    """A parent (standing in for pytest) starts a process group and the watchdog, then dies by SIGKILL."""
    pgid_file = tmp_path / "groups"
    scratch = tmp_path / "stack-dir"
    (scratch / "var").mkdir(parents=True)
    parent_code = textwrap.dedent(f"""
        import subprocess, sys, time
        from pathlib import Path
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
        Path({str(pgid_file)!r}).write_text(f"{{child.pid}}\\n")
        subprocess.Popen([sys.executable, "-m", "tests.live.watchdog", str(__import__("os").getpid()), {str(pgid_file)!r},
                          {str(scratch)!r}],
                         start_new_session=True)
        print(child.pid, flush=True)
        time.sleep(120)
    """)
    parent = subprocess.Popen([sys.executable, "-c", parent_code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())  # type: ignore[union-attr]
    time.sleep(1.5)  # the watchdog is polling
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (_running(child) or pgid_file.exists()):
        time.sleep(0.2)
    if _running(child):
        os.killpg(child, signal.SIGKILL)
        pytest.fail("the watchdog did not stop the orphaned process group")
    assert not pgid_file.exists(), "the watchdog did not finish"
    assert not scratch.exists(), "the watchdog left the stack's directory behind"


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie may linger where nobody reaps it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"

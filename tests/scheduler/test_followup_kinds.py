"""Every follow-up kind end to end: caused by a change in storage, delivered by the scheduler's
delivery loop through the real outbound clients to fake LINE and Telegram APIs on loopback,
with a controllable clock (each delivery round is told what time it is)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.scheduler.delivery import OutgoingMessage, deliver_due
from common import clock
from bot.scheduler.quiet_hours import QuietHours
from common.settings import load_settings
from connectors.outbound import OutboundClients
from storage.db import make_engine, session_scope
from storage.digest import queue_daily_digests
from storage.migrate import upgrade
from storage.models.outbox import CANCELLED, Outbox
from storage.officials import link_group, register_official, require_official
from storage.reminders import create_reminder
from storage.requests import Citizen, cancel_request, create_request, update_request_status
from storage.services import get_service, load_catalog
from storage.tasks import create_task
from tests.channels.fakes import FakeLineApi, FakeTelegramApi, ServerThread

pytestmark = pytest.mark.timeout(120)
BKK = ZoneInfo("Asia/Bangkok")
TOKEN = "123456:TEST-token"
LOCAL = "องค์กรปกครองส่วนท้องถิ่น"
GROUP = "-100500"
CITIZEN = Citizen("line:Ucitizen1", "line", "Ucitizen1")
QUIET = QuietHours.parse("21:00-08:00")


@pytest.fixture
def world(tmp_path):  # type: ignore[no-untyped-def]
    line, telegram = FakeLineApi(), FakeTelegramApi(TOKEN)
    with ServerThread(line.app) as line_server, ServerThread(telegram.app) as tg_server:
        settings = dataclasses.replace(
            load_settings(), database_url=f"sqlite:///{tmp_path / 'f.db'}", line_channel_secret="s", line_channel_access_token="test-token",
            line_api_base_url=line_server.url, telegram_bot_token=TOKEN, telegram_api_base_url=f"{tg_server.url}/bot", telegram_mode="webhook",
        )
        engine = make_engine(settings.database_url)
        upgrade(engine)
        with session_scope(engine) as s:
            load_catalog(s)
            register_official(s, channel="telegram", user_id="901", agency=LOCAL, role="coordinator")
            register_official(s, channel="telegram", user_id="903", agency=LOCAL)
            link_group(s, channel="telegram", chat_id=GROUP, agency=LOCAL)
        yield engine, settings, line, telegram
        engine.dispose()


def at(days: int, hour: int, minute: int = 0) -> datetime:
    """A Bangkok wall-clock time `days` after tomorrow (always in the future of the test clock)."""
    base = datetime.combine(clock.now().astimezone(BKK).date() + timedelta(days=1 + days), time(hour, minute), BKK)
    return base.astimezone(UTC)


def deliver(world, now: datetime) -> int:  # type: ignore[no-untyped-def]
    engine, settings, _, _ = world

    async def round_() -> int:
        async with OutboundClients(settings, engine=engine) as clients:
            async def send(message: OutgoingMessage) -> None:
                await clients.send(message.channel, message.recipient, message.payload, retry_key=message.retry_key)

            stats = await deliver_due(engine, send, owner="test", now=now, quiet=QUIET)
            return stats.sent

    return asyncio.run(round_())


def tg_texts(telegram: FakeTelegramApi, chat: str) -> list[str]:
    return [p.get("text", "") for p in telegram.sent() if str(p.get("chat_id")) == chat]


def line_texts(line: FakeLineApi, user: str) -> list[str]:
    return [m.get("text", m.get("altText", "")) for p in line.pushes if p["to"] == user for m in p["messages"]]


def file_request(engine, when: datetime, service: str = "ไฟถนนดับ") -> int:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        return create_request(s, CITIZEN, get_service(s, service), details="ไฟดับทั้งซอย", now=when).id


def test_citizen_request_follow_ups(world) -> None:
    engine, _, line, telegram = world
    t0 = at(0, 10)
    first = file_request(engine, t0)
    assert deliver(world, t0) == 1  # routed to the agency's group
    assert f"REQ-{first:06d}" in tg_texts(telegram, GROUP)[0]

    # a status change reaches the citizen on LINE; a change at 23:00 waits for the morning
    with session_scope(engine) as s:
        update_request_status(s, require_official(s, "telegram", "903"), first, "in_progress", now=t0 + timedelta(hours=1))
    deliver(world, t0 + timedelta(hours=1))
    assert any("กำลังดำเนินการ" in t for t in line_texts(line, "Ucitizen1"))
    with session_scope(engine) as s:
        update_request_status(s, require_official(s, "telegram", "903"), first, "completed", "เปลี่ยนหลอดแล้ว", now=at(0, 23))
    assert deliver(world, at(0, 23)) == 0  # quiet hours for citizens
    deliver(world, at(1, 8, 1))
    assert any("เสร็จสิ้น" in t for t in line_texts(line, "Ucitizen1"))

    # the satisfaction check comes days later, with rating buttons, once
    sent_before = len(line.pushes)
    deliver(world, at(2, 12))
    assert len(line.pushes) == sent_before
    deliver(world, at(4, 12))
    deliver(world, at(4, 12))
    checks = [p for p in line.pushes[sent_before:] if "พอใจ" in str(p)]
    assert len(checks) == 1 and "rate_service" in str(checks[0])


def test_untouched_requests_escalate_and_cancelled_ones_do_not(world) -> None:
    engine, _, _, telegram = world
    t0 = at(0, 9)
    untouched = file_request(engine, t0, "ถนนชำรุด")
    withdrawn = file_request(engine, t0, "ขยะไม่ได้จัดเก็บ")
    with session_scope(engine) as s:
        cancel_request(s, CITIZEN.key, withdrawn)
        days = get_service(s, "ถนนชำรุด").duration_days
    deliver(world, t0)
    deliver(world, t0 + timedelta(days=days) - timedelta(minutes=5))
    assert not any("ยังไม่มีเจ้าหน้าที่รับเรื่อง" in t for t in tg_texts(telegram, "901"))
    deliver(world, t0 + timedelta(days=days, minutes=1))
    escalations = [t for t in tg_texts(telegram, "901") if "ยังไม่มีเจ้าหน้าที่รับเรื่อง" in t]
    assert len(escalations) == 1 and f"REQ-{untouched:06d}" in escalations[0]
    with session_scope(engine) as s:
        states = dict(s.execute(select(Outbox.cause_id, Outbox.state).where(Outbox.kind == "request_escalation")).all())
        assert states[str(withdrawn)] == CANCELLED


def test_task_reminders_set_reminders_and_the_morning_digest(world) -> None:
    engine, _, _, telegram = world
    deadline = at(3, 17)
    with session_scope(engine) as s:
        actor = require_official(s, "telegram", "901")
        task = create_task(s, actor, title="สำรวจไฟถนนทั้งตำบล", channel="telegram", chat_id=GROUP, deadline=deadline)
        code = task.code
        create_reminder(s, actor, channel="telegram", chat_id=GROUP, target="group", text="ประชุมทีมงาน", due_at=at(1, 9))
    file_request(engine, at(0, 8))
    deliver(world, at(0, 8))

    with session_scope(engine) as s:
        queue_daily_digests(s, now=at(1, 7))
    deliver(world, at(1, 7))
    digest = [t for t in tg_texts(telegram, GROUP) if t.startswith("สรุปงานประจำวัน")]
    assert len(digest) == 1 and code in digest[0] and "คำร้องของประชาชน" in digest[0]

    deliver(world, at(1, 9))
    assert any("ประชุมทีมงาน" in t for t in tg_texts(telegram, GROUP))
    for moment, words in ((deadline - timedelta(days=1), "อีก 1 วัน"), (deadline - timedelta(hours=1), "อีก 1 ชั่วโมง"),
                          (deadline + timedelta(minutes=2), "เลยกำหนด")):
        deliver(world, moment)
        assert any(words in t and code in t for t in tg_texts(telegram, GROUP)), words

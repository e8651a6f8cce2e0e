"""Storage calls from the event loop: quick ones in place, never waiting for a lock on the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from connectors.dbcall import db
from storage.db import make_engine
from storage.inbound import next_open_event, store_new_event

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def engine(sqlite_engine):
    return sqlite_engine


def _store(engine, n: int):
    return store_new_event(engine, channel="line", external_id=f"e{n}", conversation="line:Ua", text=f"ข้อความ {n}",
                           metadata={"chat_id": "Ua", "chat_type": "private"})


async def test_a_quick_call_runs_in_place_and_a_slow_one_in_the_executor(engine) -> None:
    where: list[str] = []

    def which(engine_) -> str:
        where.append(threading.current_thread().name)
        return "ok"

    assert await db(engine, which, engine, quick=True) == "ok"
    assert await db(engine, which, engine) == "ok"
    assert where[0] == threading.current_thread().name  # the event loop's own thread
    assert where[1].startswith("db-work")


async def test_while_another_process_writes_a_quick_call_waits_off_the_loop_and_then_succeeds(engine) -> None:
    other = sqlite3.connect(engine.url.database, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process holds SQLite's write lock
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    storing = asyncio.create_task(db(engine, store_new_event, engine, quick=True, channel="line", external_id="while-locked",
                                     conversation="line:Ua", text="สวัสดี", metadata={"chat_id": "Ua"}))
    await asyncio.sleep(0.4)
    assert not storing.done()  # waiting for the lock...
    assert ticks >= 20  # ...but not on the event loop, which kept running
    other.execute("COMMIT")
    other.close()
    stored = await asyncio.wait_for(storing, timeout=10)
    ticking.cancel()
    assert stored is not None and stored.text == "สวัสดี"
    assert (await db(engine, next_open_event, engine, "line:Ua", quick=True)).id == stored.id


async def test_quick_calls_keep_their_order_and_errors(engine) -> None:
    events = [await db(engine, _store, engine, n, quick=True) for n in range(5)]
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert await db(engine, _store, engine, 0, quick=True) is None  # a redelivery is recognised in place too

    def broken(engine_) -> None:
        raise ValueError("not a lock problem")

    with pytest.raises(ValueError):
        await db(engine, broken, engine, quick=True)


async def test_an_in_memory_database_never_runs_in_place() -> None:
    engine = make_engine("sqlite://")
    where: list[str] = []
    await db(engine, lambda e: where.append(threading.current_thread().name), engine, quick=True)
    assert where[0].startswith("db-work")
    engine.dispose()

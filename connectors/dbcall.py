"""Run storage calls for the event loop: quick ones in place on SQLite, the rest in executors.

SQLite has one writer at a time. Threads that collide wait in SQLite's busy
handler, which sleeps in growing steps (up to 100 ms), so in-process calls are
serialised by a per-engine lock instead; and every hop to a thread and back costs
the event loop and the storage thread a wait for the GIL, which under load was
most of a webhook's acknowledgement time (benchmarks.gateway).

So on a SQLite file, a call marked `quick` (a few hundred microseconds: the hot
path's prebuilt statements) runs right on the event loop, through a second engine
whose connections do not wait for locks at all: if another process (the
scheduler, a CLI command) holds the write lock, or this process's executor is
busy with a longer call, the call goes to the executor as before and waits there,
never on the event loop. Everything else runs in executors, in two lanes so an
acknowledgement waits for at most one call in progress: "ingest" (storing what a
webhook received) and "work" (the worker's reads and updates). PostgreSQL gets
small pools and no lock; nothing runs in place there (each call is a network
round trip).
"""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from storage.db import make_engine

T = TypeVar("T")
Lane = Literal["ingest", "work"]

_pools: weakref.WeakKeyDictionary[Engine, dict[str, Any]] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def _sqlite_file(engine: Engine) -> bool:
    database = engine.url.database
    return engine.dialect.name == "sqlite" and bool(database) and database != ":memory:"


def _pool(engine: Engine) -> dict[str, Any]:
    with _guard:
        pool = _pools.get(engine)
        if pool is None:
            sqlite = engine.dialect.name == "sqlite"
            in_place: Engine | None = None
            if _sqlite_file(engine):
                in_place = make_engine(engine.url.render_as_string(hide_password=False), busy_timeout=0)
            pool = {
                "lock": threading.Lock() if sqlite else None,
                "in_place": in_place,
                "ingest": ThreadPoolExecutor(max_workers=1 if sqlite else 4, thread_name_prefix="db-ingest"),
                "work": ThreadPoolExecutor(max_workers=1 if sqlite else 8, thread_name_prefix="db-work"),
            }
            _pools[engine] = pool
            for name in ("ingest", "work"):
                weakref.finalize(engine, pool[name].shutdown, wait=False)
            if in_place is not None:
                weakref.finalize(engine, in_place.dispose)
        return pool


def _locked(lock: threading.Lock, call: Callable[[], T]) -> T:
    with lock:
        return call()


def _is_busy(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    return "locked" in message or "busy" in message


def _in_place(pool: dict[str, Any], engine: Engine, fn: Callable[..., T], args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> tuple[bool, T | None]:
    """(True, result) when `fn` ran here without waiting for any lock; (False, None) when it must wait elsewhere."""
    lock: threading.Lock = pool["lock"]
    if not lock.acquire(blocking=False):
        return False, None  # the executor is in the middle of a call
    in_place: Engine = pool["in_place"]
    try:
        return True, fn(*(in_place if a is engine else a for a in args),
                        **{k: in_place if v is engine else v for k, v in kwargs.items()})
    except OperationalError as exc:
        if _is_busy(exc):
            return False, None  # another process is writing; its transaction was rolled back here
        raise
    finally:
        lock.release()


async def db(engine: Engine, fn: Callable[..., T], *args: Any, lane: Lane = "work", quick: bool = False, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)`; `quick` calls (short, one transaction, `engine` passed in) may run in place."""
    pool = _pool(engine)
    if quick and pool["in_place"] is not None:
        ran, result = _in_place(pool, engine, fn, args, kwargs)
        if ran:
            return result  # type: ignore[return-value]
    call = functools.partial(fn, *args, **kwargs)
    if pool["lock"] is not None:
        call = functools.partial(_locked, pool["lock"], call)
    return await asyncio.get_running_loop().run_in_executor(pool[lane], call)

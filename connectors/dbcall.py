"""Run blocking storage calls off the event loop, in executors chosen per database.

SQLite has one writer at a time, and threads that collide wait in SQLite's busy
handler, which sleeps in growing steps (up to 100 ms): the gateway's latency
would be those sleeps. So on SQLite every call holds a per-engine lock (calls
never collide inside the process), and two lanes keep webhooks quick: "ingest"
(storing what a webhook received, before it is acknowledged) and "work" (the
worker's reads and updates), so an acknowledgement waits for at most one call
in progress, never for the worker's whole queue. PostgreSQL gets small pools
and no lock.
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

T = TypeVar("T")
Lane = Literal["ingest", "work"]

_pools: weakref.WeakKeyDictionary[Engine, dict[str, Any]] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def _pool(engine: Engine) -> dict[str, Any]:
    with _guard:
        pool = _pools.get(engine)
        if pool is None:
            sqlite = engine.dialect.name == "sqlite"
            pool = {
                "lock": threading.Lock() if sqlite else None,
                "ingest": ThreadPoolExecutor(max_workers=1 if sqlite else 4, thread_name_prefix="db-ingest"),
                "work": ThreadPoolExecutor(max_workers=1 if sqlite else 8, thread_name_prefix="db-work"),
            }
            _pools[engine] = pool
            for name in ("ingest", "work"):
                weakref.finalize(engine, pool[name].shutdown, wait=False)
        return pool


def _locked(lock: threading.Lock, call: Callable[[], T]) -> T:
    with lock:
        return call()


async def db(engine: Engine, fn: Callable[..., T], *args: Any, lane: Lane = "work", **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` on the storage executor of `engine` for `lane`."""
    pool = _pool(engine)
    call = functools.partial(fn, *args, **kwargs)
    if pool["lock"] is not None:
        call = functools.partial(_locked, pool["lock"], call)
    return await asyncio.get_running_loop().run_in_executor(pool[lane], call)

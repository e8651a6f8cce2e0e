"""Scale-out benchmark. `--part gateways`: several gateway processes sharing PostgreSQL (docs/gateways.md).

Every gateway is a real `bot gateway` process; N > 1 share one port through SO_REUSEPORT
(`bot gateway --reuse-port`, as `bot run --gateways N` starts them). Rasa is the fake of
benchmarks.gateway (its own process, answering after `--fake-rasa-ms`), the LINE API the timed
fake of benchmarks.gateway in this process. Conversations send signed LINE webhooks one after
another, each waiting for its reply as a person does (seeded start spread and pauses, as
benchmarks.gateway), so the figures compare like with like. Runs, in one go:

- today's single gateway: SQLite, and PostgreSQL without claims (GATEWAY_CLAIMS=off);
- 1, 2 and 3 gateways on PostgreSQL with per-conversation claims (the default there);
- 2 gateways with claims, one SIGKILLed mid-load: the time until the conversations it held were
  taken over (first one claimed elsewhere, all their open messages answered); the gateways run on one
  machine, so a dead one's claims lapse at once (its process is gone); from another machine they
  wait for the 10 s lease.

Printed per run: messages/s, end-to-end p50/p95 (webhook sent to reply received), the gateways'
CPU-ms per message, and PostgreSQL's work per message from pg_stat_database (row writes:
tup_inserted + tup_updated + tup_deleted; transactions: xact_commit, which also counts the
gateways' read-only polls while the run lasts). Then the storage path alone (store, claim,
finish-and-release; `--probe-processes` processes for `--probe-seconds`) against the same
server measures the write rate it sustains, and from it how many gateways one PostgreSQL serves
before it is the bottleneck: (storage-only messages/s) / (messages/s one gateway handles per
core, from its CPU-ms per message). The machine is shared: its load average is printed next to
every figure.

Run: `python -m benchmarks.scale --part gateways [--database-url postgresql://…]` (default
TEST_POSTGRES_URL; a fresh database is created and dropped per run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import uvicorn
from sqlalchemy import Engine, text
from starlette.requests import Request
from starlette.responses import JSONResponse

from benchmarks.gateway import ROOT, SECRET, TEXTS, Pacing, TimedLineApi, cpu_seconds, free_port, line_event, pct, wait_until_up

PG_STATS = ("SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database "
            "WHERE datname = current_database()")


class SingleUseLineApi(TimedLineApi):
    """benchmarks.gateway's timed LINE API, with reply tokens used once as LINE's are: a second call
    with a token (a gateway resuming a reply whose first call was cut off by a SIGKILL) gets 400 and is
    not a reply the person sees; `counts` counts the accepted ones."""

    def __init__(self) -> None:
        super().__init__()
        self.refused_repeats = 0

    async def reply(self, request: Request) -> JSONResponse:
        now = time.perf_counter()
        token = json.loads(await request.body())["replyToken"]
        if self.counts[token]:
            self.refused_repeats += 1
            return JSONResponse({"message": "Invalid reply token"}, status_code=400)
        self.counts[token] += 1
        future = self.expect(token)
        if not future.done():
            future.set_result(now)
        return JSONResponse({"sentMessages": [{"id": "1", "quoteToken": "q"}]})


def postgres_cpu() -> float | None:
    """CPU seconds used so far by the PostgreSQL server on this machine: its live processes, plus the
    postmaster's reaped children (backends that ended). Server-wide: other databases' work counts too."""
    total, found = 0.0, False
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            head, _, rest = Path(f"/proc/{entry}/stat").read_text().partition(") ")
        except OSError:
            continue
        if not head.endswith("(postgres"):
            continue
        fields = rest.split()
        found = True
        total += (int(fields[11]) + int(fields[12])) / tick
        try:
            parent = Path(f"/proc/{fields[1]}/comm").read_text().strip()
        except OSError:
            parent = ""
        if parent != "postgres":  # the postmaster: its ended children (backends) too
            total += (int(fields[13]) + int(fields[14])) / tick
    return total if found else None


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} CPUs"


# ---------------------------------------------------------------- databases


def fresh_postgres(base: str) -> tuple[str, Any]:
    from sqlalchemy.engine import make_url

    from storage.db import make_engine, normalise_url
    from storage.migrate import upgrade

    name = f"bench_scale_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_url(base)).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def pg_counters(engine: Engine) -> tuple[int, int]:
    """(transactions, row writes) so far; every other session of the database must have ended (a session
    reports its counters when it ends, or at most once a second while it lives)."""
    time.sleep(0.3)
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        row = conn.execute(text(PG_STATS)).one()
    engine.dispose()
    return int(row[0]), int(row[1])


def reset_events(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM inbound_events"))
        conn.execute(text("DELETE FROM conversation_claims"))
    engine.dispose()  # its session ends: the deletes are counted now, not in the next run


# ---------------------------------------------------------------- gateways


class Gateways:
    """N `bot gateway` processes on one port (SO_REUSEPORT when N > 1)."""

    def __init__(self, n: int, database_url: str, rasa_url: str, line_url: str, claims: str, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, BOT_ENV_FILE=str(tmp / "no.env"), BOT_VAR_DIR=str(tmp), DATABASE_URL=database_url, RASA_URL=rasa_url,
                   LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN="bench", LINE_API_BASE_URL=line_url, TELEGRAM_BOT_TOKEN="",
                   RATE_LIMITS="off", GATEWAY_CLAIMS=claims, PYTHONPATH=str(ROOT))
        command = [sys.executable, "-m", "bot.cli", "gateway", "--host", "127.0.0.1", "--port", str(self.port)]
        if n > 1:
            command.append("--reuse-port")
        self.procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                      for _ in range(n)]

    def wait_up(self) -> None:
        for proc in self.procs:
            wait_until_up(f"{self.url}/healthz", proc, "gateway")
        time.sleep(1.0)  # every process past its start-up (the health check may have been answered by another)

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) or 0.0 for p in self.procs if p.poll() is None)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def drive(client: aiohttp.ClientSession, url: str, api: TimedLineApi, conversations: int, per: int, pacing: Pacing,
                on_progress: Any = None) -> dict[str, Any]:
    """Closed-loop conversations (each waits for its reply); a refused or broken webhook is sent again, as LINE redelivers."""
    e2e: list[float] = []
    tokens: list[str] = []
    sent = 0

    async def conversation(i: int) -> None:
        nonlocal sent
        user = f"Uscale{i}x{uuid.uuid4().hex[:8]}"
        rng = pacing.pauses(i)
        await pacing.start(rng)
        for n in range(per):
            await pacing.before_message(rng)
            body, signature, token = line_event(user, TEXTS[n % len(TEXTS)])
            tokens.append(token)
            arrival = api.expect(token)
            started = time.perf_counter()
            while True:
                try:
                    async with client.post(f"{url}/webhooks/line", data=body,
                                           headers={"x-line-signature": signature, "Content-Type": "application/json"}) as response:
                        await response.read()
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
            sent += 1
            if on_progress is not None:
                on_progress(sent)
            try:
                e2e.append((await asyncio.wait_for(asyncio.shield(arrival), timeout=120) - started) * 1000)
            except TimeoutError:
                pass

    started = time.perf_counter()
    await asyncio.gather(*(conversation(i) for i in range(conversations)))
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0.5)  # a late duplicate would arrive now
    return {"e2e": e2e, "elapsed": elapsed, "rate": len(e2e) / elapsed, "messages": len(tokens), "tokens": tokens,
            "lost": sum(1 for t in tokens if api.counts[t] == 0), "duplicated": sum(1 for t in tokens if api.counts[t] > 1)}


async def one_run(label: str, n: int, database_url: str, claims: str, rasa_url: str, api: TimedLineApi, line_url: str,
                  args: argparse.Namespace, engine: Engine | None, kill_at: float | None = None) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    if database_url.startswith("sqlite"):
        database_url = f"sqlite:///{tmp / 'gw.db'}"
    elif engine is not None:
        reset_events(engine)
    before = pg_counters(engine) if engine is not None else None
    pg_cpu_before = postgres_cpu()
    gateways = Gateways(n, database_url, rasa_url, line_url, claims, tmp)
    takeover: dict[str, float] = {}
    try:
        await asyncio.to_thread(gateways.wait_up)
        pacing = Pacing(args.start_spread_ms, args.think_ms)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60), connector=aiohttp.TCPConnector(limit=400)) as client:
            await drive(client, gateways.url, api, 4, 2, pacing)  # warm-up: every process's first requests
            cpu_before = gateways.cpu()
            total = args.conversations * args.messages
            watcher: asyncio.Task[None] | None = None

            def progress(sent: int) -> None:
                nonlocal watcher
                if kill_at is not None and watcher is None and sent >= total * kill_at:
                    watcher = asyncio.create_task(kill_and_watch(gateways, engine, takeover))

            result = await drive(client, gateways.url, api, args.conversations, args.messages, pacing, progress)
            if watcher is not None:
                await watcher
            cpu_used = gateways.cpu() - cpu_before + takeover.pop("victim_cpu", 0.0)
    finally:
        await asyncio.to_thread(gateways.stop)  # their database sessions end: PostgreSQL's counters are flushed
        shutil.rmtree(tmp, ignore_errors=True)
    result["cpu_ms"] = cpu_used * 1000 / max(1, result["messages"])
    result.update(label=label, takeover=takeover, load=load())
    result["unknown"] = 0
    if engine is not None and before is not None:
        with engine.connect() as conn:  # replies not sent again on purpose (a reply token the killed gateway began to use)
            unknown = set(conn.scalars(text("SELECT reply_token FROM inbound_events WHERE reply_outcome = 'unknown'")))
        engine.dispose()
        result["unknown"] = len(unknown)
        result["lost"] = sum(1 for t in result["tokens"] if api.counts[t] == 0 and t not in unknown)
        pg_cpu_after = postgres_cpu()
        if pg_cpu_before is not None and pg_cpu_after is not None:
            result["pg_cpu_ms"] = (pg_cpu_after - pg_cpu_before) * 1000 / (result["messages"] + 8)
        after = pg_counters(engine)
        messages = result["messages"] + 8  # the warm-up's too
        result["xacts"] = (after[0] - before[0]) / messages
        result["writes"] = (after[1] - before[1]) / messages
    return result


async def kill_and_watch(gateways: Gateways, engine: Engine | None, out: dict[str, float]) -> None:
    """SIGKILL the first gateway; how long until the conversations it held are claimed elsewhere and answered."""
    assert engine is not None
    victim = gateways.procs[0]
    out["victim_cpu"] = cpu_seconds(victim.pid) or 0.0  # counted to the run: its work until the kill
    victim.send_signal(signal.SIGKILL)
    killed = time.perf_counter()
    victim.wait()
    marker = f"%:{victim.pid}:%"
    with engine.connect() as conn:
        held = [r[0] for r in conn.execute(text("SELECT conversation FROM conversation_claims WHERE owner LIKE :m"), {"m": marker})]
        open_ids = [r[0] for r in conn.execute(text(
            "SELECT id FROM inbound_events WHERE state IN ('pending', 'answered') AND conversation = ANY(:c)"), {"c": held})] if held else []
    out["held"] = len(held)
    out["open"] = len(open_ids)
    while held:
        with engine.connect() as conn:
            left = conn.scalar(text("SELECT count(*) FROM conversation_claims WHERE owner LIKE :m AND conversation = ANY(:c)"),
                               {"m": marker, "c": held})
        if not left:
            out["claimed_elsewhere_s"] = time.perf_counter() - killed
            break
        await asyncio.sleep(0.02)
    while open_ids:
        with engine.connect() as conn:
            left = conn.scalar(text("SELECT count(*) FROM inbound_events WHERE state IN ('pending', 'answered') AND id = ANY(:i)"),
                               {"i": open_ids})
        if not left:
            out["answered_s"] = time.perf_counter() - killed
            break
        await asyncio.sleep(0.02)


def report(r: dict[str, Any], baseline: dict[str, Any] | None) -> None:
    line = (f"  {r['label']:<44} {r['rate']:7.1f} msg/s  p50 {pct(r['e2e'], 50):6.1f}  p95 {pct(r['e2e'], 95):7.1f} ms  "
            f"CPU {r['cpu_ms']:5.2f} ms/msg")
    if "writes" in r:
        line += f"  PG {r['writes']:4.1f} row writes, {r['xacts']:4.1f} xacts"
        line += f", {r['pg_cpu_ms']:4.2f} CPU-ms /msg" if "pg_cpu_ms" in r else " /msg"
    line += f"  lost {r['lost']} dup {r['duplicated']}"
    if r["unknown"]:
        line += f" ({r['unknown']} recorded unknown: reply token in use when killed, not used twice)"
    line += f"  [{r['load']}]"
    print(line, flush=True)
    if baseline is not None:
        print(f"  {'':<44} vs today's single gateway on PostgreSQL: p50 {pct(r['e2e'], 50) - pct(baseline['e2e'], 50):+6.1f} ms, "
              f"CPU {r['cpu_ms'] - baseline['cpu_ms']:+5.2f} ms/msg"
              + (f", {r['writes'] - baseline['writes']:+4.1f} row writes/msg" if "writes" in r and "writes" in baseline else ""), flush=True)


# ---------------------------------------------------------------- PostgreSQL alone: the storage path's write rate


def _probe_worker(url: str, seconds: float, index: int, queue: Any) -> None:
    from storage import claims
    from storage.db import make_engine
    from storage.inbound import store_new_event

    engine = make_engine(url)
    owner = f"probe-{index}"
    done = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        conversation = f"line:probe{index}:{done % 50}"
        event = store_new_event(engine, channel="line", external_id=f"p{index}-{done}-{uuid.uuid4().hex[:6]}", conversation=conversation,
                                text="สวัสดีครับ", metadata={"chat_id": "x"})
        claimed = claims.claim_next(engine, conversation, owner)
        if event is not None and claimed is not None:
            claims.finish_and_release(engine, claimed.event.id, conversation, owner, None, "x", None)
        done += 1
    engine.dispose()
    queue.put(done)


def probe(url: str, engine: Engine, processes: int, seconds: float) -> dict[str, float]:
    reset_events(engine)
    before = pg_counters(engine)
    queue: Any = multiprocessing.get_context("spawn").Queue()
    workers = [multiprocessing.get_context("spawn").Process(target=_probe_worker, args=(url, seconds, i, queue)) for i in range(processes)]
    for w in workers:
        w.start()
    done = sum(queue.get() for _ in workers)
    for w in workers:
        w.join()
    after = pg_counters(engine)  # only the workers' loops wrote: per second of their `seconds`
    return {"rate": done / seconds, "writes_s": (after[1] - before[1]) / seconds, "xacts_s": (after[0] - before[0]) / seconds,
            "writes": (after[1] - before[1]) / max(1, done)}


# ---------------------------------------------------------------- main


async def gateways_part(args: argparse.Namespace, rasa_url: str) -> int:
    from storage.db import make_engine

    api = SingleUseLineApi()
    line_port = free_port()
    line_server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=line_port, log_level="error", access_log=False))
    line_task = asyncio.create_task(line_server.serve())
    while not line_server.started:
        await asyncio.sleep(0.01)
    line_url = f"http://127.0.0.1:{line_port}"
    url, drop = fresh_postgres(args.database_url)
    engine = make_engine(url)
    failures = 0
    try:
        print(f"== gateways sharing PostgreSQL: {args.conversations} conversations x {args.messages} messages per run, each waiting "
              f"for its reply; fake Rasa answering in {args.fake_rasa_ms:g} ms; start spread {args.start_spread_ms:g} ms, pauses "
              f"0-{args.think_ms:g} ms; everything (gateways, PostgreSQL, fakes, load) on this machine, shared with other work "
              f"[{load()}]", flush=True)
        runs: list[dict[str, Any]] = []
        sqlite = await one_run("today: 1 gateway, SQLite", 1, "sqlite", "off", rasa_url, api, line_url, args, None)
        report(sqlite, None)
        baseline = await one_run("today: 1 gateway, PostgreSQL, no claims", 1, url, "off", rasa_url, api, line_url, args, engine)
        report(baseline, None)
        runs += [sqlite, baseline]
        for n in (1, 2, 3):
            r = await one_run(f"{n} gateway{'s' if n > 1 else ''}, PostgreSQL, claims", n, url, "on", rasa_url, api, line_url, args, engine)
            report(r, baseline)
            runs.append(r)
        repeats = api.refused_repeats
        killed = await one_run("2 gateways, claims, one SIGKILLed at 40 %", 2, url, "on", rasa_url, api, line_url, args, engine,
                               kill_at=0.4)
        report(killed, None)
        print(f"  {api.refused_repeats - repeats} reply-token call(s) repeated after the kill, refused as LINE refuses a used token "
              "(the reply had arrived: not seen twice)", flush=True)
        runs.append(killed)
        t = killed["takeover"]
        print(f"  takeover after SIGKILL: the killed gateway held {t.get('held', 0)} conversation(s) with {t.get('open', 0)} open "
              f"message(s); all claimed elsewhere after {t.get('claimed_elsewhere_s', float('nan')):.2f} s, their open messages "
              f"answered after {t.get('answered_s', float('nan')):.2f} s (a dead process on this machine: at once, checked every 1 s; "
              "from another machine: after the 10 s lease)", flush=True)
        failures += sum(r["lost"] + r["duplicated"] for r in runs)

        p = probe(url, engine, args.probe_processes, args.probe_seconds)
        per_core = 1000 / runs[2]["cpu_ms"]
        writes = runs[2].get("writes", float("nan"))
        print(f"== PostgreSQL alone, the gateways' storage path (store, claim, finish-and-release) from {args.probe_processes} "
              f"processes for {args.probe_seconds:g} s [{load()}]", flush=True)
        print(f"  {p['rate']:.0f} messages/s, {p['writes_s']:.0f} row writes/s, {p['xacts_s']:.0f} transactions/s "
              f"({p['writes']:.1f} row writes per message)", flush=True)
        print(f"== projection: a gateway does {runs[2]['cpu_ms']:.2f} CPU-ms per message, i.e. about {per_core:.0f} msg/s per core; "
              f"a message costs PostgreSQL {writes:.1f} row writes; at the measured {p['writes_s']:.0f} row writes/s, one "
              f"PostgreSQL serves about {p['writes_s'] / writes:.0f} msg/s, i.e. about {p['writes_s'] / writes / per_core:.1f} "
              "gateway processes at full load each before it is the bottleneck (this machine's 2 shared cores also ran the "
              "load and the probe's clients: a lower bound for a dedicated server)", flush=True)
        if "pg_cpu_ms" in runs[2]:
            pg_ms = runs[2]["pg_cpu_ms"]
            print(f"== projection by CPU: PostgreSQL spent {pg_ms:.2f} CPU-ms per message (server-wide, so including any other "
                  f"database's work meanwhile: an upper bound) against the gateway's {runs[2]['cpu_ms']:.2f}: one PostgreSQL core "
                  f"serves about {1000 / pg_ms:.0f} msg/s, i.e. about {runs[2]['cpu_ms'] / pg_ms:.1f} fully loaded gateway processes "
                  "per PostgreSQL core before it is the bottleneck (with fsync'd commits on a disk that keeps up)", flush=True)
    finally:
        engine.dispose()
        drop()
        line_server.should_exit = True
        await line_task
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["gateways", "rasa"], default="gateways",
                        help="gateways: several gateway processes; rasa: Rasa replicas, affinity and a roll-out (benchmarks/scale_rasa.py)")
    parser.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL", ""), help="--part rasa: Redis (default TEST_REDIS_URL)")
    parser.add_argument("--database-url", default=os.environ.get("TEST_POSTGRES_URL", ""))
    parser.add_argument("--fake-rasa-ms", type=float, default=60.0)
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--messages", type=int, default=10, help="messages per conversation")
    parser.add_argument("--start-spread-ms", type=float, default=100.0)
    parser.add_argument("--think-ms", type=float, default=40.0)
    parser.add_argument("--probe-processes", type=int, default=4)
    parser.add_argument("--probe-seconds", type=float, default=5.0)
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        print("benchmarks.scale needs PostgreSQL: --database-url postgresql://… (or TEST_POSTGRES_URL); skipped")
        return 0
    if args.part == "rasa":
        if not args.redis_url:
            print("--part rasa needs Redis: --redis-url redis://… (or TEST_REDIS_URL); skipped")
            return 0
        from benchmarks.scale_rasa import rasa_part

        return rasa_part(args.database_url, args.redis_url, args.conversations)
    port = free_port()
    fake = subprocess.Popen([sys.executable, "-m", "benchmarks.gateway", "--serve-fake-rasa", str(port),
                             "--fake-rasa-ms", str(args.fake_rasa_ms)], cwd=ROOT)
    rasa_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{rasa_url}/", fake, "fake Rasa")
        return asyncio.run(gateways_part(args, rasa_url))
    finally:
        fake.terminate()
        fake.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())

"""Engine benchmark (issue #20): cost per message against conversation length, mixed traffic, the NLU ceiling.

Starts, side by side on 127.0.0.1 with the trained model (models/current.tar.gz):

- `new`: the stack of this checkout as `bot run` starts it (bot.commands.run.build_services:
  Rasa through engine.serve with the gateway channel and GatewayTrackerStore, the action
  server, the gateway; no scheduler), SQLite, the shipped law corpus imported;
- `base` (with `--baseline-root DIR`, e.g. a git worktree of the code before the change):
  the same stack started from DIR's code (its own Rasa, tracker store, actions, gateway);
- `stock`: stock Rasa with the same model (`rasa run`, its SQLTrackerStore, its REST
  channel, no gateway), calling the `new` stack's action server; its `/model/parse`
  alone is the ceiling.

The gateways' LINE API is a fake in this process (benchmarks.gateway.TimedLineApi) that
timestamps each reply: a message's latency is signed webhook -> reply at the LINE API.
Stock Rasa's is the REST round trip.

Printed (every figure the median of `--runs` runs, default 3):
(a) one 1:1 conversation of `--long-messages` (1,000) messages cycling greeting, law
    question, service question, thanks: median latency of the 20 messages around
    messages 10, 100, 500 and 1,000; then one LINE group of 10 members x 100 messages;
(b) a realistic mix (30 % law questions, 25 % service questions, 20 % request-form
    turns, 10 % status checks, 15 % small talk) at 1, 20 and 100 concurrent
    conversations: msg/s, p50/p95/p99 and CPU-ms per message of Rasa, the action server
    and the gateway (/proc/<pid>/stat before and after);
(c) the same mixed traffic against base and stock in the same run;
(d) `/model/parse` alone (20 concurrent), and the ratios.
Also the cold start: the first law and service questions after start against the median
of the next 100.

The machine may be shared: the load average is printed next to the figures; compare
the ratios within one run. The law corpus import (~2 min) is cached as a SQLite file in
var/bench-cache/ keyed by the archive's sha256.

Run: `.venv/bin/python -m benchmarks.engine [--baseline-root /work/wt-engine-base] [--quick]`
(`--only-a --long-targets new`: (a) alone, e.g. once with RASA_TRACKER_WINDOW_TURNS=0 and once with the default window)
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import uvicorn

from benchmarks.gateway import SECRET, TimedLineApi, cpu_seconds, free_port, line_event, pct

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "bench-cache"

GREETING = ["สวัสดีครับ", "สวัสดีค่ะ", "หวัดดีครับ"]
LAW = ["พ.ร.บ.คอมพิวเตอร์ว่าอย่างไร", "กฎหมายเกี่ยวกับการเช่าบ้าน", "PDPA คืออะไร", "กฎหมายมรดก", "ภาษีที่ดินต้องจ่ายเท่าไหร่",
       "พรบ.จราจรเรื่องขับรถเร็ว", "กฎหมายคุ้มครองแรงงาน", "การขออนุญาตก่อสร้างบ้าน"]
SERVICE = ["ทำพาสปอร์ตต้องใช้อะไรบ้าง", "บัตรปชช.หายต้องทำไงอ่ะ", "ต่อใบขับขี่ใช้ไรบ้าง", "เบี้ยคนแก่ ลงทะเบียนที่ไหนคะ",
           "ทำบัตรประชาชนใช้อะไรบ้าง"]
THANKS = ["ขอบคุณมากครับ", "ขอบคุณค่ะ"]
SMALL_TALK = ["สวัสดีครับ", "ขอบคุณครับ", "คุณเป็นบอทหรือเปล่า", "ช่วยอะไรได้บ้าง", "เมนู"]
REQUEST_FORM = ["แจ้งไฟถนนดับ", "ไฟดับทั้งซอยมาสามคืนแล้ว", "ยกเลิก"]  # a request started, details given, then dropped
STATUS = ["คำร้องของฉันถึงไหนแล้ว", "เช็คสถานะ REQ-000001 หน่อยค่ะ", "ติดตาม req000002"]
CYCLE = [GREETING[0], LAW[0], SERVICE[0], THANKS[0]]
MIX = [("law", 0.30), ("service", 0.25), ("request", 0.20), ("status", 0.10), ("small_talk", 0.15)]


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def med(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------- the law corpus, imported once


PREPARE = """
import sys
from pathlib import Path
from storage.db import make_engine, session_scope
from storage.laws.corpus import ensure_corpus
from storage.migrate import upgrade
from storage.services import load_catalog

tmp = Path(sys.argv[1])
engine = make_engine(f"sqlite:///{tmp}")
upgrade(engine)
with session_scope(engine) as session:
    load_catalog(session)
ensure_corpus(engine, echo=lambda m: print(m, flush=True))
with engine.connect() as conn:
    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
engine.dispose()
"""


def prepared_database(log: Any, root: Path = ROOT) -> Path:
    """A SQLite database with `root`'s schema, service catalog and shipped law corpus (cached).

    Built by `root`'s own code (a baseline checkout has its own migrations), in a subprocess.
    """
    archive = root / "storage" / "seed" / "thai-law.tar.xz"
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
    migrations = hashlib.sha256("".join(sorted(p.name for p in (root / "storage").rglob("*.py") if "migrations" in str(p))).encode()).hexdigest()[:8]
    cached = CACHE / f"bot-{digest}-{migrations}.db"
    if cached.exists():
        return cached
    CACHE.mkdir(parents=True, exist_ok=True)
    log(f"importing the law corpus into {cached} with {root}'s code (first run only, a few minutes) ...")
    tmp = cached.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    python = root / ".venv" / "bin" / "python"
    env = {**os.environ, "PYTHONPATH": str(root), "BOT_ENV_FILE": str(tmp.with_suffix(".env"))}
    done = subprocess.run([str(python if python.exists() else sys.executable), "-c", PREPARE, str(tmp)],  # noqa: S603
                          cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"preparing the database with {root}'s code failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    for line in done.stdout.splitlines()[-3:]:
        log(f"  {line}")
    tmp.rename(cached)
    return cached


# ---------------------------------------------------------------- stacks


@dataclasses.dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


class Stack:
    """Rasa + action server + gateway as `bot run` starts them, from the code at `root`."""

    def __init__(self, name: str, root: Path, database: Path, line_url: str, workdir: Path, profile: bool = False) -> None:
        self.name, self.root, self.line_url, self.profile = name, root, line_url, profile
        self.dir = workdir / name
        self.var = self.dir / "var"
        (self.var / "logs").mkdir(parents=True)
        shutil.copy(database, self.var / "bot.db")
        self.database_url = f"sqlite:///{self.var / 'bot.db'}"
        self.procs: list[Proc] = []
        self.gateway_url = self.rasa_url = self.action_url = ""
        self.action_key = ""

    def start(self, timeout: float = 600) -> float:
        from bot.commands.run import build_services, internal_keys
        from common import internal_auth
        from common.settings import load_settings

        began = time.monotonic()
        rasa_port, action_port, gateway_port = free_port(), free_port(), free_port()
        self.rasa_url, self.gateway_url = f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{gateway_port}"
        self.action_url = f"http://127.0.0.1:{action_port}/webhook"
        env = {
            "PYTHONPATH": str(self.root), "BOT_ENV_FILE": str(self.dir / "no.env"), "BOT_VAR_DIR": str(self.var),
            "DATABASE_URL": self.database_url, "RASA_URL": self.rasa_url, "ACTION_SERVER_PORT": str(action_port),
            "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(gateway_port), "LINE_CHANNEL_SECRET": SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": "bench", "LINE_API_BASE_URL": self.line_url, "LINE_DATA_API_BASE_URL": self.line_url,
            "TELEGRAM_BOT_TOKEN": "", "LOCAL_CHAT_ENABLED": "false", "ADMIN_TOKEN": "", "REDIS_URL": "",
            "RASA_TELEMETRY_ENABLED": "false", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            # one sender sends faster than a person: the default 30 messages a minute would drop most of (a)'s messages
            "RATE_LIMITS": os.environ.get("RATE_LIMITS", "off"),
        }
        settings = dataclasses.replace(load_settings(), var_dir=self.var, database_url=self.database_url,
                                       action_server_port=action_port, gateway_port=gateway_port, gateway_host="127.0.0.1")
        saved = os.environ.get("REDIS_URL")
        os.environ["REDIS_URL"] = ""
        try:
            services = [s for s in build_services(settings, rasa_port, schedulers=0)]
        finally:
            if saved is None:
                os.environ.pop("REDIS_URL", None)
            else:
                os.environ["REDIS_URL"] = saved
        self.action_key = internal_keys(settings)[internal_auth.ACTION_SERVER]
        for service in services:
            command = [part.replace(str(ROOT), str(self.root)) for part in service.command]
            if self.profile:  # the same process under cProfile, stats written when it stops
                python = str(Path(command[0]).parent / "python") if command[0].endswith("/bot") else command[0]
                rest = ["-m", "bot.cli", *command[1:]] if command[0].endswith("/bot") else command[1:]
                command = [python, "-m", "cProfile", "-o", str(self.dir / f"{service.name}.prof"), *rest]
            log = self.var / "logs" / f"{service.name}.log"
            with log.open("ab") as out:
                process = subprocess.Popen(command, cwd=self.root, env={**os.environ, **env, **service.env, "PYTHONPATH": str(self.root)},  # noqa: S603
                                           stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            self.procs.append(Proc(service.name, process, log))
        pending = {s.name: s for s in services}
        deadline = time.monotonic() + timeout
        while pending:
            for name, service in list(pending.items()):
                proc = self.proc(name)
                if proc.process.poll() is not None:
                    raise SystemExit(f"{self.name}: {name} exited during start-up:\n{self.tail(name)}")
                try:
                    if httpx.get(service.health_url, headers=service.health_headers, timeout=2, trust_env=False).status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name}: not healthy in time: {', '.join(pending)}")
            time.sleep(0.25)
        rasa = next(s for s in services if s.name == "rasa")
        while time.monotonic() < deadline:  # /status answers before the model is loaded
            try:
                if httpx.get(f"{self.rasa_url}/status", headers=rasa.health_headers, timeout=5, trust_env=False).json().get("model_file"):
                    return time.monotonic() - began
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.25)
        raise SystemExit(f"{self.name}: Rasa did not load the model\n{self.tail('rasa')}")

    def proc(self, name: str) -> Proc:
        return next(p for p in self.procs if p.name == name)

    def pids(self) -> dict[str, int]:
        return {p.name: p.process.pid for p in self.procs}

    def tail(self, name: str, lines: int = 20) -> str:
        return "\n".join(self.proc(name).log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        for p in self.procs:
            if p.process.poll() is None:
                try:
                    os.killpg(p.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.process.pid, signal.SIGKILL)
                p.process.wait()
        self.procs = []


class StockRasa:
    """Stock Rasa: `rasa run` with its SQLTrackerStore and REST channel, the same model, the new stack's actions."""

    def __init__(self, action_url: str, action_key: str, workdir: Path) -> None:
        self.dir = workdir / "stock"
        self.dir.mkdir(parents=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        endpoints = self.dir / "endpoints.yml"
        endpoints.write_text(
            f'action_endpoint:\n  url: "{action_url}"\n  headers:\n    Authorization: Bearer ${{ACTION_SERVER_TOKEN}}\n'
            f'tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: "{self.dir / "rasa.db"}"\n', encoding="utf-8")
        self.log = self.dir / "rasa.log"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603
                [str(ROOT / ".venv-rasa" / "bin" / "rasa"), "run", "--enable-api", "--interface", "127.0.0.1", "--port", str(self.port),
                 "--model", str(ROOT / "models" / "current.tar.gz"), "--endpoints", str(endpoints),
                 "--credentials", str(ROOT / "benchmarks" / "credentials-rest.yml")],
                cwd=ROOT, env={**os.environ, "ACTION_SERVER_TOKEN": action_key, "RASA_TELEMETRY_ENABLED": "false",
                               "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)},
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("stock Rasa exited:\n" + self.log.read_text(errors="replace")[-3000:])
            try:
                if httpx.get(f"{self.url}/status", timeout=5, trust_env=False).json().get("model_file"):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.25)
        raise SystemExit("stock Rasa did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


# ---------------------------------------------------------------- senders


class Target:
    """Where messages go: a stack's gateway (LINE webhooks) or stock Rasa (REST)."""

    def __init__(self, name: str, client: aiohttp.ClientSession, api: TimedLineApi, stack: Stack | None = None,
                 stock: StockRasa | None = None, action_pid: int | None = None) -> None:
        self.name, self.client, self.api, self.stack, self.stock = name, client, api, stack, stock
        self.action_pid = action_pid

    def pids(self) -> dict[str, int]:
        if self.stack is not None:
            return self.stack.pids()
        assert self.stock is not None
        return {"rasa": self.stock.process.pid, **({"actions": self.action_pid} if self.action_pid else {})}

    async def send(self, user: str, text: str, group: str | None = None) -> float:
        """Latency in ms from sending to the reply (nan when none came)."""
        started = time.perf_counter()
        if self.stock is not None:
            sender = f"{group or user}"
            async with self.client.post(f"{self.stock.url}/webhooks/rest/webhook",
                                        json={"sender": sender, "message": text, "metadata": {"user_id": user}}) as response:
                await response.read()
                if response.status != 200:
                    return float("nan")
            return (time.perf_counter() - started) * 1000
        assert self.stack is not None
        body, signature, token = line_event(user, text)
        if group is not None:
            event = json.loads(body)
            event["events"][0]["source"] = {"type": "group", "groupId": group, "userId": user}
            body = json.dumps(event, ensure_ascii=False).encode()
            import base64
            import hmac

            signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
        arrival = self.api.expect(token)
        async with self.client.post(f"{self.stack.gateway_url}/webhooks/line", data=body,
                                    headers={"x-line-signature": signature, "Content-Type": "application/json"}) as response:
            await response.read()
            if response.status != 200:
                return float("nan")
        try:
            return (await asyncio.wait_for(asyncio.shield(arrival), timeout=120) - started) * 1000
        except TimeoutError:
            return float("nan")


def around(latencies: list[float], point: int, width: int = 20) -> float:
    """Median of the `width` messages around message number `point` (1-based)."""
    start = max(0, point - width // 2 - 1)
    return med(latencies[start:start + width])


async def long_conversation(target: Target, messages: int) -> list[float]:
    user = f"Ulong{uuid.uuid4().hex[:12]}"
    return [await target.send(user, CYCLE[n % len(CYCLE)]) for n in range(messages)]


async def group_conversation(target: Target, members: int, per: int) -> list[float]:
    group = f"Cgroup{uuid.uuid4().hex[:12]}"
    users = [f"Umember{n}{uuid.uuid4().hex[:8]}" for n in range(members)]
    out = []
    for n in range(members * per):
        text = CYCLE[n % len(CYCLE)]
        out.append(await target.send(users[n % members], f"บอท {text}" if target.stock is None else text, group=group))
    return out


def mixed_messages(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """(category, text) for one conversation, drawn from the mix; a request-form turn brings its next steps."""
    out: list[tuple[str, str]] = []
    while len(out) < count:
        category = rng.choices([c for c, _ in MIX], [w for _, w in MIX])[0]
        if category == "request":
            out += [("request", t) for t in REQUEST_FORM]
        else:
            pool = {"law": LAW, "service": SERVICE, "status": STATUS, "small_talk": SMALL_TALK}[category]
            out.append((category, rng.choice(pool)))
    return out[:count]


async def mixed(target: Target, conversations: int, per: int, seed: int) -> dict[str, Any]:
    pids = target.pids()
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    latencies: list[float] = []

    async def conversation(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        user = f"Umix{i}x{uuid.uuid4().hex[:8]}"
        await asyncio.sleep(rng.uniform(0, 0.1))
        for _, text in mixed_messages(rng, per):
            latencies.append(await target.send(user, text))

    started = time.perf_counter()
    await asyncio.gather(*(conversation(i) for i in range(conversations)))
    elapsed = time.perf_counter() - started
    after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    answered = [v for v in latencies if v == v]
    cpu = {name: ((after[name] - before[name]) * 1000 / max(1, len(latencies)))
           for name in pids if before[name] is not None and after[name] is not None}
    return {"rate": len(answered) / elapsed, "p50": pct(answered, 50), "p95": pct(answered, 95), "p99": pct(answered, 99),
            "lost": len(latencies) - len(answered), "cpu": cpu, "messages": len(latencies)}


async def parse_only(client: aiohttp.ClientSession, url: str, concurrency: int, total: int) -> dict[str, float]:
    texts = [t for _, t in mixed_messages(random.Random(7), 200)]
    sequential = []
    for text in texts[:30]:
        started = time.perf_counter()
        async with client.post(f"{url}/model/parse", json={"text": text}) as response:
            await response.read()
        sequential.append((time.perf_counter() - started) * 1000)
    queue = list(range(total))

    async def worker() -> None:
        while queue:
            n = queue.pop()
            async with client.post(f"{url}/model/parse", json={"text": texts[n % len(texts)]}) as response:
                await response.read()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"rate": total / (time.perf_counter() - started), "sequential_ms": med(sequential)}


async def cold_start(target: Target, follow: int) -> tuple[float, float, float]:
    """(first law question ms, first service question ms, median of the next `follow` law/service questions)."""
    user = f"Ucold{uuid.uuid4().hex[:8]}"
    first_law = await target.send(user, LAW[1])
    first_service = await target.send(user, SERVICE[1])
    rest = [await target.send(f"Ucold{n % 10}{user}", (LAW if n % 2 else SERVICE)[n % 5]) for n in range(follow)]
    return first_law, first_service, med(rest)


# ---------------------------------------------------------------- the run


def fmt(values: list[float]) -> str:
    return f"{med(values):7.1f}" + (f" (runs: {', '.join(f'{v:.0f}' for v in values)})" if len(values) > 1 else "")


PROFILE_SHOW = """
import pstats, sys
stats = pstats.Stats(sys.argv[1])
stats.sort_stats(sys.argv[2]).print_stats(sys.argv[4], int(sys.argv[3]))
"""
# the message path only (start-up, model loading and imports dominate a whole-process profile)
PROFILE_FILTER = {
    "rasa": "processor.py|tracker_store|policies|featurizers|core/actions|trackers.py|nlu/|channel.py|thai_tokenizer|graph.py|events.py|domain.py",
    "actions": "executor|endpoint|actions/|storage/|usecases/|common/",
    "gateway": "connectors/|usecases/|storage/|bot/|common/|httpx|aiohttp",
}


async def profile(args: argparse.Namespace) -> int:
    """The new stack under cProfile (each process), mixed traffic at 20 conversations, the top functions of each."""
    print(f"== benchmarks.engine --profile  (load average {load_average()})", flush=True)
    database = prepared_database(lambda m: print(f"   {m}", flush=True))
    api = TimedLineApi()
    line_port = free_port()
    server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=line_port, log_level="error", access_log=False))
    server_task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    workdir = Path(tempfile.mkdtemp(prefix="engine-profile-"))
    root = Path(args.baseline_root).resolve() if args.profile_baseline else ROOT
    if root != ROOT:
        database = prepared_database(lambda m: print(f"   {m}", flush=True), root)
    stack = Stack("profiled", root, database, f"http://127.0.0.1:{line_port}", workdir, profile=True)
    try:
        await asyncio.to_thread(stack.start)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as client:
            target = Target("profiled", client, api, stack=stack)
            await mixed(target, 5, 4, seed=99)  # past the first messages
            result = await mixed(target, 20, max(6, args.mixed_messages // 20), seed=1)
            print(f"   {result['messages']} messages at 20 conversations: {result['rate']:.1f} msg/s, p50 {result['p50']:.0f} ms "
                  f"(under cProfile: slower than without)", flush=True)
    finally:
        stack.stop()
        server.should_exit = True
        await server_task
    for name in ("rasa", "actions", "gateway"):
        path = stack.dir / f"{name}.prof"
        if not path.exists():
            print(f"-- {name}: no profile written")
            continue
        python = str(ROOT / ".venv-rasa" / "bin" / "python") if name == "rasa" else sys.executable
        for order in ("cumulative", "tottime"):
            shown = subprocess.run([python, "-c", PROFILE_SHOW, str(path), order, str(args.profile_top), PROFILE_FILTER[name]],
                                   capture_output=True, text=True, check=False)
            print(f"\n-- {name}: top {args.profile_top} by {order}\n" + shown.stdout[-12000:], flush=True)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


async def run(args: argparse.Namespace) -> int:
    print(f"== benchmarks.engine  ({os.cpu_count()} cores; load average {load_average()} at start; the machine may be shared, "
          "compare ratios within this run)", flush=True)
    database = prepared_database(lambda m: print(f"   {m}", flush=True))
    api = TimedLineApi()
    line_port = free_port()
    server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=line_port, log_level="error", access_log=False))
    server_task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    workdir = Path(tempfile.mkdtemp(prefix="engine-bench-"))
    stacks: dict[str, Stack] = {"new": Stack("new", ROOT, database, f"http://127.0.0.1:{line_port}", workdir)}
    if args.baseline_root:
        base_root = Path(args.baseline_root).resolve()
        base_database = prepared_database(lambda m: print(f"   {m}", flush=True), base_root)
        stacks["base"] = Stack("base", base_root, base_database, f"http://127.0.0.1:{line_port}", workdir)
    stock: StockRasa | None = None
    try:
        for stack in stacks.values():  # one at a time: start-up is CPU-bound
            took = await asyncio.to_thread(stack.start)
            print(f"   {stack.name} stack up in {took:.0f} s ({stack.root})", flush=True)
        if not args.only_a or "stock" in args.long_targets.split(","):
            stock = StockRasa(stacks["new"].action_url, stacks["new"].action_key, workdir)
            await asyncio.to_thread(stock.wait)
            print("   stock Rasa up", flush=True)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300), connector=aiohttp.TCPConnector(limit=500)) as client:
            targets = {name: Target(name, client, api, stack=stack) for name, stack in stacks.items()}
            if stock is not None:
                targets["stock"] = Target("stock", client, api, stock=stock, action_pid=stacks["new"].proc("actions").process.pid)

            if not args.only_a:
                print(f"\n-- cold start: first law / service question after start vs the median of the next {args.cold_follow} "
                      f"(load {load_average()})", flush=True)
            for name, target in ({} if args.only_a else targets).items():
                first_law, first_service, rest = await cold_start(target, args.cold_follow)
                print(f"   {name:6} first law {first_law:7.0f} ms ({first_law / rest:4.1f}x)   first service {first_service:7.0f} ms "
                      f"({first_service / rest:4.1f}x)   next {args.cold_follow}: median {rest:6.0f} ms", flush=True)

            points = [p for p in (10, 100, 500, 1000) if p <= args.long_messages]
            print(f"\n-- (a) one conversation, {args.long_messages} messages (greeting, law, service, thanks, ...): median ms of the "
                  f"20 messages around message n; median of {args.runs} run(s) (load {load_average()})", flush=True)
            long_targets = [n for n in args.long_targets.split(",") if n in targets]
            a_results: dict[str, dict[int, list[float]]] = {}
            for name in long_targets:
                runs = args.runs if name == "new" else args.reference_runs
                by_point: dict[int, list[float]] = {p: [] for p in points}
                for _ in range(runs):
                    latencies = await long_conversation(targets[name], args.long_messages)
                    for p in points:
                        by_point[p].append(around(latencies, p))
                a_results[name] = by_point
                cells = "  ".join(f"msg {p}: {med(v):6.0f}" for p, v in by_point.items())
                last = points[-1]
                print(f"   {name:6} {cells}   msg {last} / msg {points[0]}: {med(by_point[last]) / med(by_point[points[0]]):5.2f}x"
                      f"   ({runs} run(s); load {load_average()})", flush=True)
            group_points = [p for p in points if p <= args.group_members * args.group_messages]
            print(f"\n-- (a) one LINE group, {args.group_members} members x {args.group_messages} messages", flush=True)
            for name in long_targets:
                runs = args.runs if name == "new" else args.reference_runs
                by_point = {p: [] for p in group_points}
                for _ in range(runs):
                    latencies = await group_conversation(targets[name], args.group_members, args.group_messages)
                    for p in group_points:
                        by_point[p].append(around(latencies, p))
                cells = "  ".join(f"msg {p}: {med(v):6.0f}" for p, v in by_point.items())
                last = group_points[-1]
                print(f"   {name:6} {cells}   msg {last} / msg {group_points[0]}: "
                      f"{med(by_point[last]) / med(by_point[group_points[0]]):5.2f}x   ({runs} run(s); load {load_average()})", flush=True)

            if args.only_a:
                return 0
            print(f"\n-- (b)(c) mixed traffic: 30 % law, 25 % service, 20 % request-form, 10 % status, 15 % small talk; "
                  f"median of {args.runs} run(s)", flush=True)
            rates: dict[tuple[str, int], float] = {}
            p95s: dict[tuple[str, int], float] = {}
            for conversations in (int(c) for c in args.concurrency.split(",")):
                per = max(args.mixed_min_per, args.mixed_messages // conversations)
                print(f"   {conversations} concurrent conversation(s) x {per} messages (load {load_average()})", flush=True)
                for name, target in targets.items():
                    results = [await mixed(target, conversations, per, seed=run_no) for run_no in range(args.runs)]
                    rate = med([r["rate"] for r in results])
                    rates[(name, conversations)] = rate
                    p95s[(name, conversations)] = med([r["p95"] for r in results])
                    cpu_names = sorted({k for r in results for k in r["cpu"]})
                    cpu = ", ".join(f"{k} {med([r['cpu'].get(k, float('nan')) for r in results]):.1f}" for k in cpu_names)
                    print(f"     {name:6} {rate:6.1f} msg/s   p50 {med([r['p50'] for r in results]):6.0f}  p95 {p95s[(name, conversations)]:6.0f}"
                          f"  p99 {med([r['p99'] for r in results]):6.0f} ms   CPU-ms/msg: {cpu}   unanswered {sum(r['lost'] for r in results)}",
                          flush=True)

            print(f"\n-- (d) /model/parse alone (stock Rasa, same model), {args.parse_concurrency} concurrent (load {load_average()})", flush=True)
            parse = [await parse_only(client, stock.url, args.parse_concurrency, args.parse_requests) for _ in range(args.runs)]
            ceiling = med([p["rate"] for p in parse])
            print(f"   {ceiling:6.1f} msg/s; sequential {med([p['sequential_ms'] for p in parse]):5.1f} ms per parse", flush=True)

            print(f"\n-- ratios (load {load_average()})", flush=True)
            for conversations in (int(c) for c in args.concurrency.split(",")):
                new = rates.get(("new", conversations))
                parts = [f"new/parse ceiling {new / ceiling:5.0%}"]
                if ("base", conversations) in rates:
                    parts.append(f"new/base {new / rates[('base', conversations)]:4.2f}x")
                parts.append(f"new/stock {new / rates[('stock', conversations)]:4.2f}x")
                if ("base", conversations) in rates:
                    parts.append(f"base/stock {rates[('base', conversations)] / rates[('stock', conversations)]:4.2f}x")
                print(f"   {conversations:3} conversations: " + "   ".join(parts) + f"   new p95 {p95s[('new', conversations)]:.0f} ms")
            if "new" in a_results and points:
                first, last = points[0], points[-1]
                print(f"   new: message {last} / message {first} = {med(a_results['new'][last]) / med(a_results['new'][first]):.2f}x")
    finally:
        if stock is not None:
            stock.stop()
        for stack in stacks.values():
            stack.stop()
        server.should_exit = True
        await server_task
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-root", help="a checkout of the code to compare with (its .venv, .venv-rasa, models linked)")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 1 run, short conversations, little traffic")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reference-runs", type=int, default=1, help="runs of (a) for base and stock (their cost grows with length)")
    parser.add_argument("--long-messages", type=int, default=1000)
    parser.add_argument("--long-targets", default="new,base,stock", help="which targets run (a)")
    parser.add_argument("--only-a", action="store_true", help="only (a), for the targets in --long-targets (stock Rasa started only if listed)")
    parser.add_argument("--group-members", type=int, default=10)
    parser.add_argument("--group-messages", type=int, default=100)
    parser.add_argument("--concurrency", default="1,20,100")
    parser.add_argument("--mixed-messages", type=int, default=400, help="messages per level (split among conversations)")
    parser.add_argument("--mixed-min-per", type=int, default=6, help="at least this many messages per conversation")
    parser.add_argument("--parse-concurrency", type=int, default=20)
    parser.add_argument("--parse-requests", type=int, default=600)
    parser.add_argument("--cold-follow", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the stacks' folders (logs)")
    parser.add_argument("--profile", action="store_true", help="only profile the new stack (cProfile in every process)")
    parser.add_argument("--profile-baseline", action="store_true", help="with --profile: profile the baseline's stack instead")
    parser.add_argument("--profile-top", type=int, default=25)
    args = parser.parse_args()
    if args.profile:
        return asyncio.run(profile(args))
    if args.quick:
        args.runs, args.long_messages, args.group_members, args.group_messages = 1, 120, 3, 40
        args.mixed_messages, args.parse_requests, args.cold_follow, args.concurrency = 60, 100, 10, "1,20"
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())

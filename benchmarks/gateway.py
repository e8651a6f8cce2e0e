"""Gateway benchmark: signed LINE webhooks through the real gateway, compared with posting straight to Rasa.

The gateway runs as its own process (`bot gateway`, the deployment path) with a
SQLite store. Its LINE API is a fake on 127.0.0.1 inside this process, which
timestamps each reply as it arrives; Rasa is either

- `fake` (default when RASA_URL does not answer): a Rasa stand-in in another
  process that answers after `--fake-rasa-ms` (default 60 ms, about the measured
  p50 of a real REST round trip with one custom action, see DESIGN.md), or
- `real`: the Rasa server at RASA_URL (it must expose the gateway channel from
  credentials.yml; start it with `make run` or `bot run`).

For 1, 20 and 100 concurrent conversations, each conversation sends its messages
one after another and waits for each reply, as a person does. People do not type
in step: each conversation starts at a random moment within `--start-spread-ms`
(default 100) and pauses a random 0 to `--think-ms` (default 40) before each
message; the same seeded pauses are used for both paths, and latencies never
include them. (With `--lockstep`, all conversations start together and send the
moment a reply arrives: with a fake Rasa answering in exactly the same time, every
round then reaches the gateway as one burst, a worst case.) Printed: webhook
acknowledgement latency, end-to-end message-to-reply latency and messages per
second; the same messages posted straight to Rasa's REST channel
(`/webhooks/rest/webhook`, same server) for the direct path; the gateway's
overhead; lost and duplicated replies. The load generator (aiohttp, as the
gateway's own clients) is the same for both paths.

Run: `.venv/bin/python -m benchmarks.gateway [--rasa auto|fake|real] [--messages-per-conversation 40] [--lockstep]`
`--profile FILE` runs the gateway under cProfile and writes its statistics to FILE (read them
with `python -m pstats FILE`); the figures printed alongside are then the profiled gateway's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
TEXTS = ["สวัสดีครับ", "ขอบคุณมากครับ", "ช่วยอะไรได้บ้าง", "คุณเป็นบอทหรือเปล่า", "ทำบัตรประชาชนใช้อะไรบ้าง"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


# ---------------------------------------------------------------- fake Rasa (its own process)


def fake_rasa_app(latency: float) -> Starlette:
    async def answer(request: Request) -> JSONResponse:
        body = await request.json()
        await asyncio.sleep(latency)
        return JSONResponse([{"recipient_id": body["sender"], "text": f"รับทราบครับ ({len(body.get('message', ''))})",
                              "buttons": [{"title": "เมนู", "payload": "/help"}]}])

    async def status(request: Request) -> JSONResponse:
        return JSONResponse({"fake": True})

    return Starlette(routes=[Route("/webhooks/gateway/webhook", answer, methods=["POST"]),
                             Route("/webhooks/rest/webhook", answer, methods=["POST"]), Route("/", status)])


# ---------------------------------------------------------------- fake LINE API (in this process)


class TimedLineApi:
    """Reply and push endpoints that timestamp each reply token's first arrival and count repeats."""

    def __init__(self) -> None:
        self.arrived: dict[str, asyncio.Future[float]] = {}
        self.counts: Counter[str] = Counter()
        self.app = Starlette(routes=[
            Route("/v2/bot/message/reply", self.reply, methods=["POST"]),
            Route("/v2/bot/message/push", self.ok, methods=["POST"]),
            Route("/v2/bot/chat/loading/start", self.ok, methods=["POST"]),
        ])

    def expect(self, token: str) -> asyncio.Future[float]:
        return self.arrived.setdefault(token, asyncio.get_running_loop().create_future())

    async def reply(self, request: Request) -> JSONResponse:
        now = time.perf_counter()
        token = json.loads(await request.body())["replyToken"]
        self.counts[token] += 1
        future = self.expect(token)
        if not future.done():
            future.set_result(now)
        return JSONResponse({"sentMessages": [{"id": "1", "quoteToken": "q"}]})

    async def ok(self, request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({})


def line_event(user: str, text: str) -> tuple[bytes, str, str]:
    token = uuid.uuid4().hex
    event = {"type": "message", "message": {"type": "text", "id": token[:12], "quoteToken": "q", "text": text},
             "webhookEventId": uuid.uuid4().hex, "deliveryContext": {"isRedelivery": False}, "timestamp": 1700000000000,
             "source": {"type": "user", "userId": user}, "replyToken": token, "mode": "active"}
    body = json.dumps({"destination": "Ubench", "events": [event]}, ensure_ascii=False).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return body, signature, token


class Pacing:
    """When each conversation starts and how long it pauses before each message (seeded: both paths get the same)."""

    def __init__(self, start_spread_ms: float, think_ms: float) -> None:
        self.start_spread = start_spread_ms / 1000
        self.think = think_ms / 1000

    def pauses(self, conversation: int) -> random.Random:
        return random.Random(conversation)

    async def start(self, rng: random.Random) -> None:
        if self.start_spread:
            await asyncio.sleep(rng.uniform(0, self.start_spread))

    async def before_message(self, rng: random.Random) -> None:
        if self.think:
            await asyncio.sleep(rng.uniform(0, self.think))


async def via_gateway(client: aiohttp.ClientSession, gateway_url: str, api: TimedLineApi, conversations: int, per: int,
                      pacing: Pacing) -> dict[str, Any]:
    acks: list[float] = []
    e2e: list[float] = []
    tokens: list[str] = []
    errors = 0

    async def conversation(i: int) -> None:
        nonlocal errors
        user = f"Ubench{i}x{uuid.uuid4().hex[:8]}"
        rng = pacing.pauses(i)
        await pacing.start(rng)
        for n in range(per):
            await pacing.before_message(rng)
            body, signature, token = line_event(user, TEXTS[n % len(TEXTS)])
            tokens.append(token)
            arrival = api.expect(token)
            started = time.perf_counter()
            async with client.post(f"{gateway_url}/webhooks/line", data=body,
                                   headers={"x-line-signature": signature, "Content-Type": "application/json"}) as response:
                await response.read()
            acks.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                errors += 1
                continue
            try:
                e2e.append((await asyncio.wait_for(asyncio.shield(arrival), timeout=60) - started) * 1000)
            except TimeoutError:
                pass

    started = time.perf_counter()
    await asyncio.gather(*(conversation(i) for i in range(conversations)))
    elapsed = time.perf_counter() - started
    await asyncio.sleep(1.0)  # let any late duplicate arrive before counting
    lost = sum(1 for t in tokens if api.counts[t] == 0)
    duplicated = sum(1 for t in tokens if api.counts[t] > 1)
    return {"acks": acks, "e2e": e2e, "rate": len(e2e) / elapsed, "lost": lost, "duplicated": duplicated, "errors": errors}


async def direct(client: aiohttp.ClientSession, rasa_url: str, conversations: int, per: int, pacing: Pacing) -> dict[str, Any]:
    latencies: list[float] = []

    async def conversation(i: int) -> None:
        sender = f"direct{i}x{uuid.uuid4().hex[:8]}"
        rng = pacing.pauses(i)
        await pacing.start(rng)
        for n in range(per):
            await pacing.before_message(rng)
            started = time.perf_counter()
            async with client.post(f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": TEXTS[n % len(TEXTS)]}) as response:
                response.raise_for_status()
                await response.read()
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(conversation(i) for i in range(conversations)))
    return {"e2e": latencies, "rate": len(latencies) / (time.perf_counter() - started)}


def rasa_is_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/", timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def wait_until_up(url: str, process: subprocess.Popen[bytes], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start")


async def run(args: argparse.Namespace, rasa_url: str, mode: str) -> int:
    api = TimedLineApi()
    line_port = free_port()
    line_server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=line_port, log_level="error", access_log=False))
    line_task = asyncio.create_task(line_server.serve())
    while not line_server.started:
        await asyncio.sleep(0.01)
    tmp = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    gateway_port = free_port()
    env = dict(os.environ, BOT_ENV_FILE=str(tmp / "no.env"), BOT_VAR_DIR=str(tmp), DATABASE_URL=f"sqlite:///{tmp / 'gw.db'}",
               RASA_URL=rasa_url, LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN="bench",
               LINE_API_BASE_URL=f"http://127.0.0.1:{line_port}", TELEGRAM_BOT_TOKEN="", LOCAL_CHAT_ENABLED="true",
               RATE_LIMITS=os.environ.get("RATE_LIMITS", "off"))  # a benchmark floods on purpose: limits off unless asked
    # uvicorn re-raises SIGTERM after its graceful shutdown; under --profile it becomes SystemExit so cProfile writes.
    launch = ["-m", "bot.cli"] if not args.profile else ["-c", "import cProfile, runpy, signal, sys; signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); "
               f"sys.argv[0] = 'bot'; cProfile.run('runpy.run_module(\"bot.cli\", run_name=\"__main__\")', {args.profile!r})"]
    gateway = subprocess.Popen([sys.executable, *launch, "gateway", "--host", "127.0.0.1", "--port", str(gateway_port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    failures = 0
    try:
        await asyncio.to_thread(wait_until_up, f"{gateway_url}/healthz", gateway, "gateway")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=90), connector=aiohttp.TCPConnector(limit=400)) as client:
            pacing = Pacing(0, 0) if args.lockstep else Pacing(args.start_spread_ms, args.think_ms)
            await via_gateway(client, gateway_url, api, 5, 2, pacing)  # warm-up
            await direct(client, rasa_url, 5, 2, pacing)
            rasa_label = f"fake Rasa answering in {args.fake_rasa_ms} ms" if mode == "fake" else f"real Rasa at {rasa_url}"
            print(f"== LINE webhooks through `bot gateway` vs straight to Rasa REST ({rasa_label}; "
                  f"{args.messages_per_conversation} messages per conversation; "
                  + ("in lockstep; " if args.lockstep else f"start spread {args.start_spread_ms:g} ms, pauses 0-{args.think_ms:g} ms; ")
                  + f"SQLite store; {os.cpu_count()} cores; RATE_LIMITS={env['RATE_LIMITS']!r})")
            for conversations in (int(x) for x in args.concurrency.split(",")):
                cpu_before = cpu_seconds(gateway.pid)
                g = await via_gateway(client, gateway_url, api, conversations, args.messages_per_conversation, pacing)
                cpu_after = cpu_seconds(gateway.pid)
                d = await direct(client, rasa_url, conversations, args.messages_per_conversation, pacing)
                overhead = pct(g["e2e"], 50) / pct(d["e2e"], 50) - 1
                print(f"-- {conversations} concurrent conversation(s), {len(g['acks'])} messages")
                print(f"   webhook ack     p50 {pct(g['acks'], 50):7.1f}  p95 {pct(g['acks'], 95):7.1f}  p99 {pct(g['acks'], 99):7.1f} ms")
                print(f"   gateway e2e     p50 {pct(g['e2e'], 50):7.1f}  p95 {pct(g['e2e'], 95):7.1f}  p99 {pct(g['e2e'], 99):7.1f} ms"
                      f"   {g['rate']:7.1f} msg/s")
                if cpu_before is not None and cpu_after is not None and g["e2e"]:
                    print(f"   gateway CPU     {(cpu_after - cpu_before) / len(g['acks']) * 1000:7.2f} ms per message")
                print(f"   direct to Rasa  p50 {pct(d['e2e'], 50):7.1f}  p95 {pct(d['e2e'], 95):7.1f}  p99 {pct(d['e2e'], 99):7.1f} ms"
                      f"   {d['rate']:7.1f} msg/s")
                print(f"   overhead at p50 {overhead:+.1%} (p95 {pct(g['e2e'], 95) / pct(d['e2e'], 95) - 1:+.1%}); "
                      f"lost {g['lost']}, duplicated {g['duplicated']}, refused {g['errors']}")
                failures += g["lost"] + g["duplicated"] + g["errors"]
    finally:
        gateway.terminate()
        try:
            gateway.wait(timeout=15)
        except subprocess.TimeoutExpired:
            gateway.kill()
        line_server.should_exit = True
        await line_task
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rasa", choices=["auto", "fake", "real"], default="auto")
    parser.add_argument("--fake-rasa-ms", type=float, default=60.0)
    parser.add_argument("--messages-per-conversation", type=int, default=40)
    parser.add_argument("--start-spread-ms", type=float, default=100.0)
    parser.add_argument("--think-ms", type=float, default=40.0)
    parser.add_argument("--lockstep", action="store_true", help="all conversations in step, no pauses (a worst case)")
    parser.add_argument("--concurrency", default="1,20,100")
    parser.add_argument("--profile", metavar="FILE", help="run the gateway under cProfile and write its statistics to FILE")
    parser.add_argument("--serve-fake-rasa", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake_rasa:
        uvicorn.run(fake_rasa_app(args.fake_rasa_ms / 1000), host="127.0.0.1", port=args.serve_fake_rasa, log_level="error",
                    access_log=False)
        return 0
    from common.settings import load_settings

    real_url = load_settings().rasa_url
    mode = args.rasa if args.rasa != "auto" else ("real" if rasa_is_up(real_url) else "fake")
    fake: subprocess.Popen[bytes] | None = None
    if mode == "real":
        if not rasa_is_up(real_url):
            print(f"Rasa is not answering at {real_url}", file=sys.stderr)
            return 1
        rasa_url = real_url
    else:
        port = free_port()
        fake = subprocess.Popen([sys.executable, "-m", "benchmarks.gateway", "--serve-fake-rasa", str(port),
                                 "--fake-rasa-ms", str(args.fake_rasa_ms)], cwd=ROOT)
        rasa_url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{rasa_url}/", fake, "fake Rasa")
    try:
        return asyncio.run(run(args, rasa_url, mode))
    finally:
        if fake is not None:
            fake.terminate()
            fake.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())

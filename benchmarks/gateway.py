"""Gateway benchmark: signed LINE webhooks through the real gateway, against posting straight to Rasa.

Starts the real Rasa server with the trained model (models/current.tar.gz), a fake
LINE Messaging API on 127.0.0.1 and the gateway; then, for 1, 20 and 100 concurrent
conversations, each conversation sends its messages one after another and waits
for each reply. Prints webhook acknowledgement latency, end-to-end
message-to-reply latency and sustained messages per second, the same for the
direct path (Rasa's REST channel), the gateway's overhead, and lost/duplicated
replies.

Run: `.venv/bin/python -m benchmarks.gateway [--messages-per-conversation 5]`
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.settings import load_settings
from connectors.app import create_app
from storage.db import make_engine
from storage.migrate import upgrade
from tests.channels.fakes import FakeLineApi, ServerThread, free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
TEXTS = ["สวัสดีครับ", "ขอบคุณมากครับ", "ช่วยอะไรได้บ้าง", "คุณเป็นบอทหรือเปล่า", "หวยงวดนี้ออกอะไร"]


class TimedLineApi(FakeLineApi):
    def __init__(self) -> None:
        super().__init__()
        self.arrivals: dict[str, float] = {}
        self.counts: Counter[str] = Counter()

    async def reply(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        self.arrivals.setdefault(body["replyToken"], time.perf_counter())
        self.counts[body["replyToken"]] += 1
        return JSONResponse({"sentMessages": [{"id": "1", "quoteToken": "q"}]})


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def start_rasa(port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [str(ROOT / ".venv-rasa" / "bin" / "rasa"), "run", "--enable-api", "--interface", "127.0.0.1", "--port", str(port),
         "--model", str(ROOT / "models" / "current.tar.gz"), "--credentials", str(ROOT / "credentials.yml")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def line_event(user: str, text: str) -> tuple[bytes, str, str]:
    token = uuid.uuid4().hex
    event = {"type": "message", "message": {"type": "text", "id": token[:12], "text": text}, "webhookEventId": uuid.uuid4().hex,
             "deliveryContext": {"isRedelivery": False}, "timestamp": 1700000000000, "source": {"type": "user", "userId": user},
             "replyToken": token, "mode": "active"}
    body = json.dumps({"destination": "Ubench", "events": [event]}, ensure_ascii=False).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return body, signature, token


async def via_gateway(gateway_url: str, api: TimedLineApi, conversations: int, per: int) -> dict:
    acks: list[float] = []
    e2e: list[float] = []
    tokens: list[str] = []
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as client:
        async def conversation(i: int) -> None:
            user = f"Ubench{i}-{uuid.uuid4().hex[:6]}"
            for n in range(per):
                body, signature, token = line_event(user, TEXTS[n % len(TEXTS)])
                tokens.append(token)
                started = time.perf_counter()
                response = await client.post(f"{gateway_url}/webhooks/line", content=body, headers={"x-line-signature": signature})
                acks.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                deadline = time.perf_counter() + 60
                while token not in api.arrivals and time.perf_counter() < deadline:
                    await asyncio.sleep(0.002)
                if token in api.arrivals:
                    e2e.append((api.arrivals[token] - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(conversation(i) for i in range(conversations)))
        elapsed = time.perf_counter() - started
    await asyncio.sleep(0.5)
    lost = sum(1 for t in tokens if t not in api.arrivals)
    duplicated = sum(1 for t in tokens if api.counts[t] > 1)
    return {"acks": acks, "e2e": e2e, "rate": len(e2e) / elapsed, "lost": lost, "duplicated": duplicated}


async def direct(rasa_url: str, conversations: int, per: int) -> dict:
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as client:
        async def conversation(i: int) -> None:
            sender = f"direct{i}-{uuid.uuid4().hex[:6]}"
            for n in range(per):
                started = time.perf_counter()
                response = await client.post(f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": TEXTS[n % len(TEXTS)]})
                response.raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(conversation(i) for i in range(conversations)))
        elapsed = time.perf_counter() - started
    return {"e2e": latencies, "rate": len(latencies) / elapsed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages-per-conversation", type=int, default=5)
    parser.add_argument("--concurrency", default="1,20,100")
    args = parser.parse_args()
    if not (ROOT / "models" / "current.tar.gz").exists():
        print("no trained model: run `make model` first", file=sys.stderr)
        return 1
    rasa_port = free_port()
    rasa = start_rasa(rasa_port)
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{rasa_url}/status", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or rasa.poll() is not None:
                print("Rasa did not start", file=sys.stderr)
                return 1
            time.sleep(1)
        api = TimedLineApi()
        tmp = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
        with ServerThread(api.app) as line_server:
            settings = dataclasses.replace(load_settings(), database_url=f"sqlite:///{tmp / 'gw.db'}", rasa_url=rasa_url,
                                           line_channel_secret=SECRET, line_channel_access_token="bench", line_api_base_url=line_server.url)
            engine = make_engine(settings.database_url)
            upgrade(engine)
            with ServerThread(create_app(settings, engine=engine, poll_interval=0.02)) as gateway:
                asyncio.run(direct(rasa_url, 5, 2))  # warm-up
                asyncio.run(via_gateway(gateway.url, api, 5, 2))
                print(f"== gateway vs direct Rasa REST ({args.messages_per_conversation} messages per conversation, SQLite, 2 cores)")
                for c in (int(x) for x in args.concurrency.split(",")):
                    g = asyncio.run(via_gateway(gateway.url, api, c, args.messages_per_conversation))
                    d = asyncio.run(direct(rasa_url, c, args.messages_per_conversation))
                    overhead = pct(g["e2e"], 50) / pct(d["e2e"], 50) - 1
                    print(f"-- {c} concurrent conversation(s), {len(g['acks'])} messages")
                    print(f"   webhook ack     p50 {pct(g['acks'], 50):6.1f}  p95 {pct(g['acks'], 95):6.1f}  p99 {pct(g['acks'], 99):6.1f} ms")
                    print(f"   gateway e2e     p50 {pct(g['e2e'], 50):6.1f}  p95 {pct(g['e2e'], 95):6.1f}  p99 {pct(g['e2e'], 99):6.1f} ms   {g['rate']:.1f} msg/s")
                    print(f"   direct to Rasa  p50 {pct(d['e2e'], 50):6.1f}  p95 {pct(d['e2e'], 95):6.1f}  p99 {pct(d['e2e'], 99):6.1f} ms   {d['rate']:.1f} msg/s")
                    print(f"   overhead at p50 {overhead:+.0%}; lost {g['lost']}, duplicated {g['duplicated']}")
    finally:
        rasa.terminate()
        try:
            rasa.wait(timeout=20)
        except subprocess.TimeoutExpired:
            rasa.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())

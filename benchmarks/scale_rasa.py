"""`python -m benchmarks.scale --part rasa`: Rasa replicas behind conversation affinity (docs/deploy.md).

Starts what `bot run --rasa 2 --actions 2` starts (two real Rasa replicas with the trained model,
each with its action server) on a fresh PostgreSQL database and Redis, plus two gateways on the
same database: one configured with replica 1 only (RASA_URL, today's path: no affinity, no Redis
round trip) and one with both (RASA_URLS: affinity + the in-flight count in Redis). Signed LINE
webhooks for a few conversations, each message answered before the next of its conversation:

1. 1 replica, today's path;
2. 1 replica through affinity + Redis (replica 2 marked draining): the overhead of affinity;
3. 2 replicas through affinity;
4. 2 replicas while a model is rolled out (a copy of the same model file, as the test does):
   the longest wait any message had.

Per run: msg/s, p50/p95 from the webhook to the reply at the fake LINE API, CPU-ms per message
per component (from /proc: Rasa replicas, action servers, the gateway; PostgreSQL and Redis not
counted). Everything (load generator included) runs on this shared machine: the load average is
printed next to the figures.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.live.stack import MODEL, OrderedLineApi, sign_line

TEXTS = ["สวัสดีครับ", "ทำบัตรประชาชนใช้อะไรบ้าง", "ขอบคุณครับ", "ต่อใบขับขี่ต้องทำอย่างไร", "กฎหมายคุ้มครองแรงงานว่าอย่างไร", "ลาก่อนครับ"]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} CPUs"


class TimedLineApi(OrderedLineApi):
    def __init__(self) -> None:
        super().__init__()
        self.answered: dict[str, float] = {}

    async def reply(self, request: Any) -> Any:
        response = await super().reply(request)
        if self.replies:
            self.answered.setdefault(self.replies[-1]["replyToken"], time.monotonic())
        return response


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of every process in a process group."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 (pgrp) is the 3rd after the command
            total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / tick
    return total


async def drive(gateway: str, api: TimedLineApi, conversations: int, during: Any = None) -> dict[str, Any]:
    sent: dict[str, float] = {}
    began = time.monotonic()
    async with httpx.AsyncClient(trust_env=False, timeout=60) as client:
        async def conversation() -> None:
            user = f"U{uuid.uuid4().hex}"
            for text in TEXTS:
                token = uuid.uuid4().hex
                body = f'{{"destination":"Ub","events":[{{"type":"message","message":{{"type":"text","id":"{token[:12]}",' \
                       f'"quoteToken":"q","text":"{text}"}},"webhookEventId":"{uuid.uuid4().hex}","deliveryContext":' \
                       f'{{"isRedelivery":false}},"timestamp":1700000000000,"source":{{"type":"user","userId":"{user}"}},' \
                       f'"replyToken":"{token}","mode":"active"}}]}}'.encode()
                sent[token] = time.monotonic()
                await client.post(f"{gateway}/webhooks/line", content=body,
                                  headers={"X-Line-Signature": sign_line(body), "Content-Type": "application/json"})
                deadline = time.monotonic() + 120
                while token not in api.answered and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)

        tasks = [asyncio.create_task(conversation()) for _ in range(conversations)]
        if during is not None:
            await asyncio.sleep(1.0)
            await asyncio.to_thread(during)
        await asyncio.gather(*tasks)
    took = time.monotonic() - began
    waits = sorted(api.answered[t] - s for t, s in sent.items() if t in api.answered)
    return {"messages": len(sent), "answered": len(waits), "seconds": took,
            "p50": statistics.median(waits) * 1000 if waits else float("nan"),
            "p95": waits[int(0.95 * (len(waits) - 1))] * 1000 if waits else float("nan"),
            "max": waits[-1] * 1000 if waits else float("nan")}


def rasa_part(database_base: str, redis_url: str, conversations: int) -> int:
    from bot.nlu_admin.pipeline import _SyncRedis, rolling_load
    from connectors.rasa_client import DRAINING, state_key
    from tests.replicas.harness import replica_topology, start_service

    api = TimedLineApi()
    with replica_topology(database_base, redis_url, api, replicas=2) as topo:
        # A second gateway on the same database that knows replica 1 only: today's path.
        from bot.commands.run import Service
        from tests.channels.fakes import free_port

        port = free_port()
        plain = Service("gateway-plain", list(topo.gateway_service.command), f"http://127.0.0.1:{port}/healthz",
                        {"RASA_URLS": "", "RASA_URL": topo.urls[0], "GATEWAY_PORT": str(port), "REDIS_URL": ""})
        start_service(plain, topo.env, topo.dir / "var" / "logs")
        topo.extra.append(plain)
        topo.wait([plain])
        red = _SyncRedis(redis_url)
        prefix = topo.env["REDIS_KEY_PREFIX"]
        parts = {name: [s for s in topo.services if s.name.startswith(name)] for name in ("rasa", "actions")}

        def cpu() -> dict[str, float]:
            out = {k: sum(group_cpu(s.process.pid) for s in v) for k, v in parts.items()}
            out["gateway"] = group_cpu(topo.gateway_service.process.pid) + group_cpu(plain.process.pid)
            return out

        def run(label: str, gateway: str, during: Any = None) -> dict[str, Any]:
            before = cpu()
            result = asyncio.run(drive(gateway, api, conversations, during))
            after = cpu()
            n = max(1, result["answered"])
            ms = {k: (after[k] - before[k]) * 1000 / n for k in after}
            print(f"  {label:<44}{result['answered'] / result['seconds']:6.2f} msg/s  p50 {result['p50']:7.0f}  p95 {result['p95']:7.0f}"
                  f"  max {result['max']:7.0f} ms  CPU-ms/msg: Rasa {ms['rasa']:6.1f}  actions {ms['actions']:5.1f}"
                  f"  gateway {ms['gateway']:5.1f}  answered {result['answered']}/{result['messages']}  [{load()}]", flush=True)
            return {**result, "cpu": ms}

        print(f"== Rasa replicas: {conversations} conversations x {len(TEXTS)} messages, each answered before the next; real Rasa "
              f"with the trained model; everything on this shared machine [{load()}]", flush=True)
        run("1 replica, today's path (no affinity)", f"http://127.0.0.1:{port}")
        red.set(state_key(prefix, topo.urls[1]), DRAINING)
        run("1 replica through affinity + Redis", topo.gateway_url)
        red.delete(state_key(prefix, topo.urls[1]))
        time.sleep(1.5)
        run("2 replicas through affinity + Redis", topo.gateway_url)
        rollout = topo.dir / "rolled-out.tar.gz"
        shutil.copy(MODEL, rollout)
        report: list[dict[str, Any]] = []

        def roll() -> None:
            report.extend(rolling_load(topo.urls, rollout, echo=lambda _m: None))

        result = run("2 replicas, model rolled out during the load", topo.gateway_url, roll)
        red.close()
        print(f"== roll-out: longest wait of any message {result['max'] / 1000:.2f} s; each replica out of service "
              + ", ".join(f"{r['seconds']:.1f} s" for r in report) + f" [{load()}]", flush=True)
    return 0

"""Background jobs started from /admin: a data check, a training run with its comparison.

`start(engine, kind, author)` takes the database guard (storage.admin_jobs: one running
job across all hosts; a second start raises Busy with the job that runs) and launches
`bot admin run-job ID` as a detached process in its own session, so the job outlives
the page and even a gateway restart. The worker lowers its own CPU priority first
(`os.nice(19)`; Rasa, which it starts, inherits it) so conversations keep their latency,
then reports progress, the current step (Thai) and its output tail into the job row,
renewing the heartbeat (the lease) every few seconds.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from sqlalchemy import Engine

from bot.nlu_admin.models import ModelError
from bot.nlu_admin.training_data import DataError
from bot.nlu_admin.workspace import Workspace
from common.settings import PROJECT_ROOT
from storage import admin_jobs
from storage.db import session_scope
from storage.models.admin import AdminJob

logger = logging.getLogger(__name__)

KINDS = ("check", "train")
NICENESS = 19
FLUSH_EVERY = 2.0  # seconds between writes of output to the job row
EPOCHS = re.compile(r"Epochs:\s+(\d+)%")
TICK = re.compile(r"(\?it/s|it/s|s/it)")  # a progress bar's tick (kept in the log only when the bar is full)

STEPS_TH = {
    "start": "กำลังเริ่มงาน",
    "validate": "กำลังตรวจรูปแบบข้อมูลฝึก (rasa data validate)",
    "evaluate_current": "กำลังทดสอบโมเดลปัจจุบันกับข้อมูลฝึก",
    "train": "กำลังฝึกโมเดลใหม่",
    "held_out_current": "กำลังทดสอบโมเดลปัจจุบันกับชุดทดสอบแยก",
    "held_out_candidate": "กำลังทดสอบโมเดลใหม่กับชุดทดสอบแยก",
    "cv": "กำลังตรวจไขว้ (cross-validation)",
    "done": "เสร็จแล้ว",
}


def host_name() -> str:
    return socket.gethostname()[:128]


def start(engine: Engine, kind: str, author: str, *, launch: bool = True) -> int:
    """Take the guard and launch the worker; the job id. Raises admin_jobs.Busy."""
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    job_id = admin_jobs.start(engine, kind, author, host=host_name())
    if launch:
        try:
            launch_worker(job_id)
        except OSError as exc:
            with session_scope(engine) as s:
                admin_jobs.finish(s, job_id, ok=False, error=f"เริ่มงานไม่ได้: {type(exc).__name__}")
            raise
    return job_id


def launch_worker(job_id: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PROJECT_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "admin", "run-job", str(job_id)], cwd=PROJECT_ROOT, env=env,  # noqa: S603
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    threading.Thread(target=process.wait, name=f"admin-job-{job_id}", daemon=True).start()  # reaps it, nothing more
    return process


class Reporter:
    """Output lines, progress and steps of a running job, flushed into its row every FLUSH_EVERY seconds."""

    def __init__(self, engine: Engine, job_id: int) -> None:
        self.engine, self.job_id = engine, job_id
        self.lines: list[str] = []
        self.progress: int | None = None
        self.step: str | None = None
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.bars = 0  # training progress bars seen (NLU first, then dialogue)
        self.last_epoch = -1
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> Reporter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)
        self.flush()

    def _beat(self) -> None:
        while not self.stopped.wait(FLUSH_EVERY):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - a missed beat is retried; the lease allows minutes
                logger.exception("admin job %s: could not write progress", self.job_id)

    def set(self, progress: int | None = None, step: str | None = None) -> None:
        with self.lock:
            if progress is not None:
                self.progress = max(self.progress or 0, progress)
            if step is not None:
                self.step = STEPS_TH.get(step, step)

    def flush(self) -> None:
        with self.lock:
            lines, self.lines = self.lines, []
            progress, step = self.progress, self.step
        with session_scope(self.engine) as s:
            admin_jobs.report(s, self.job_id, progress=progress, step=step, append="".join(f"{line}\n" for line in lines))

    def echo(self, line: str) -> None:
        """Also reads the steps out of the pipeline's own messages for the progress bar."""
        match = EPOCHS.search(line)
        if match:  # training: two progress bars (NLU, then dialogue) mapped onto 10-60 %
            value = int(match.group(1))
            if value < self.last_epoch:
                self.bars += 1
            self.last_epoch = value
            self.set(progress=10 + min(self.bars, 1) * 25 + value * 25 // 100)
            if value % 25:
                return  # the log keeps every 25 %, not every tick
        if TICK.search(line) and "100%" not in line:
            return
        text = line.strip()
        if text.startswith("training a candidate"):
            self.set(10, "train")
        elif text.startswith("evaluating") and "held-out" in text:
            self.set(62 if self.progress is None or self.progress < 62 else 72,
                     "held_out_current" if (self.progress or 0) < 62 else "held_out_candidate")
        elif text.startswith("cross-validating"):
            self.set(80, "cv")
        elif text.startswith("rasa data validate"):
            self.set(10, "validate")
        elif text.startswith("evaluating the current model"):
            self.set(50, "evaluate_current")
        with self.lock:
            self.lines.append(line[:400])


def run(engine: Engine, job_id: int, ws: Workspace | None = None) -> bool:
    """The worker: run job `job_id` at low priority and record the outcome. True when it succeeded."""
    try:
        os.nice(NICENESS)
    except OSError:
        logger.warning("admin job %s: could not lower the CPU priority", job_id)
    ws = ws or Workspace.from_env()
    with session_scope(engine) as s:
        job = s.get(AdminJob, job_id)
        if job is None or job.running_guard != 1:
            return False
        kind = job.kind
        admin_jobs.report(s, job_id, pid=os.getpid(), progress=2, step=STEPS_TH["start"])
    result: dict[str, Any] | None = None
    error = None
    with Reporter(engine, job_id) as reporter:
        try:
            if kind == "check":
                from bot.nlu_admin.pipeline import run_check

                failed, findings = run_check(ws, echo=reporter.echo)
                result = {"failed": failed, "findings": [{"level": f.level, "code": f.code, "message": f.message,
                                                          "items": f.items[:20], "count": len(f.items)} for f in findings]}
            else:
                from bot.nlu_admin.pipeline import train_and_compare

                started = time.monotonic()
                result = {"verdict": train_and_compare(ws, echo=reporter.echo), "seconds": round(time.monotonic() - started, 1)}
            reporter.set(100, "done")
        except (ModelError, DataError) as exc:
            error = str(exc)
            reporter.echo(f"ERROR: {exc}")
        except Exception as exc:  # noqa: BLE001 - the admin must see that it failed, whatever failed
            logger.exception("admin job %s failed", job_id)
            error = f"{type(exc).__name__}: {exc}"[:2000]
    with session_scope(engine) as s:
        admin_jobs.finish(s, job_id, ok=error is None, result=result, error=error)
    return error is None


def view(job: AdminJob) -> dict[str, Any]:
    from common.thai_datetime import format_thai

    return {"id": job.id, "kind": job.kind, "state": job.state, "started_by": job.started_by, "host": job.host,
            "started_th": format_thai(job.started_at, short=True), "started_at": job.started_at.isoformat(timespec="seconds"),
            "finished_at": job.finished_at.isoformat(timespec="seconds") if job.finished_at else None,
            "progress": job.progress, "step": job.step, "log_tail": "\n".join(job.log.splitlines()[-40:]),
            "result": job.result, "error": job.error}

"""Synthetic demo data for showing the public pages (`bot demo seed` / `bot demo remove`).

Demo requests are real `service_requests` rows (so every page and command works on them),
named in `demo_requests`; storage/stats.py never counts them with real requests. They are
anonymous from the start (no citizen, no recipient, no free text), send no notices, and are
filed over the weeks before "now" with timings drawn per service around its typical
duration. The same seed gives the same data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from common.wording.requests import forwarded_history_note
from storage.models.base import utcnow
from storage.models.opengov import DemoRequest, ObstacleReport
from storage.laws.seed import ensure_seeded
from storage.models.laws import Law
from storage.obstacles import LAW, report_obstacle
from storage.models.services import (
    CANCELLED,
    COMPLETED,
    IN_PROGRESS,
    RECEIVED,
    REJECTED,
    SUBMITTED,
    RequestHistory,
    Service,
    ServiceRating,
    ServiceRequest,
)
from storage.service_laws import laws_for_service
from storage.services import ensure_catalog

BATCH = "demo"

# (service, weight): busy services get several requests a week, so their weekly cells are published.
BUSY = [
    ("ไฟถนนดับ", 9), ("ถนนชำรุด", 7), ("ขยะไม่ได้จัดเก็บ", 6), ("น้ำประปาไม่ไหล", 6), ("ไฟฟ้าดับ", 6),
    ("จดทะเบียนโอนที่ดิน", 5), ("ภาษีเงินได้บุคคลธรรมดา", 5), ("ใบขับขี่", 5), ("บัตรประจำตัวประชาชน", 5),
    ("ร้องเรียนผู้บริโภค", 4), ("เบี้ยยังชีพผู้สูงอายุ", 3), ("ท่อระบายน้ำอุดตัน", 3),
]
# Requests that land at the wrong agency first and are passed on.
FORWARDS = {"ไฟถนนดับ": "การไฟฟ้าส่วนภูมิภาค", "น้ำประปาไม่ไหล": "องค์กรปกครองส่วนท้องถิ่น", "ถนนชำรุด": "กรมทางหลวง"}
DEMO_OBSTACLES = [  # (service, law | step, reason, how many reports)
    ("ใบอนุญาตก่อสร้าง", "law", "ขั้นตอนขออนุญาตก่อสร้างบ้านหลังเล็กใช้เวลานานเกินไป ต้องใช้เอกสารซ้ำซ้อน", 7),
    ("จดทะเบียนโอนที่ดิน", "step", "ต้องไปสำนักงานที่ดินด้วยตนเองหลายรอบ ทั้งที่ข้อมูลโฉนดมีอยู่ในระบบแล้ว", 4),
    ("จดทะเบียนโอนที่ดิน", "step", "ต้องใช้สำเนาทะเบียนบ้านและบัตรประชาชน ทั้งที่หน่วยงานรัฐดึงข้อมูลเองได้", 2),
    ("ใบอนุญาตขายสุรา", "law", "ร้านอาหารเล็ก ๆ ต้องต่อใบอนุญาตทุกปีและไปยื่นเองที่สำนักงาน", 5),
    ("ใบอนุญาตทำงานคนต่างด้าว", "law", "นายจ้างรายย่อยต้องยื่นเอกสารจำนวนมาก ติดต่อ 0812345678 ได้", 3),
]


@dataclass(frozen=True)
class Seeded:
    requests: int
    obstacles: int


def _hours(rng: random.Random, typical_days: int, spread: float = 0.6) -> float:
    """A right-skewed duration in hours around a service's typical duration."""
    return max(0.5, rng.lognormvariate(0, spread) * max(1, typical_days) * 24 * 0.6)


def seed(session: Session, *, count: int = 400, weeks: int = 8, rng_seed: int = 24, now: datetime | None = None) -> Seeded:
    """File `count` synthetic requests over the last `weeks` weeks (replacing an earlier demo set)."""
    now = now or utcnow()
    remove(session)
    ensure_catalog(session)
    ensure_seeded(session)
    services = {s.name: s for s in session.scalars(select(Service))}
    busy = [(services[name], w) for name, w in BUSY if name in services]
    quiet = [s for name, s in services.items() if name not in dict(BUSY)]
    rng = random.Random(rng_seed)
    start = now - timedelta(weeks=weeks)
    made = 0
    for _ in range(count):
        service = rng.choices([s for s, _ in busy], [w for _, w in busy])[0] if (rng.random() < 0.9 or not quiet) else rng.choice(quiet)
        created = start + timedelta(seconds=rng.uniform(0, (now - start).total_seconds() - 3600))
        _one(session, rng, service, created, now)
        made += 1
    obstacles = 0
    for name, kind, reason, times in DEMO_OBSTACLES:
        for i in range(times):
            refs = laws_for_service(session, name)
            law = session.get(Law, refs[0].law_id) if refs and kind == LAW else None
            report_obstacle(session, service=name, kind=kind, law=law, reason=reason, reporter=f"demo-{obstacles}",
                            channel="web", demo=True, now=now - timedelta(days=rng.randint(1, 40)))
            obstacles += 1
    session.flush()
    return Seeded(made, obstacles)


def _one(session: Session, rng: random.Random, service: Service, created: datetime, now: datetime) -> None:
    forwarded_from = FORWARDS.get(service.name) if rng.random() < 0.15 else None
    first_agency = forwarded_from or service.agency
    request = ServiceRequest(citizen_key=None, channel="web", reply_to=None, service=service.name, agency=service.agency,
                             status=SUBMITTED, anonymised=True, created_at=created, updated_at=created)
    session.add(request)
    session.flush()
    session.add(DemoRequest(request_id=request.id, batch=BATCH))
    history = [RequestHistory(action="created", status=SUBMITTED, agency=first_agency, actor="citizen", at=created)]
    at = created
    if forwarded_from:
        at = at + timedelta(hours=rng.uniform(2, 30))
        if at >= now:
            request.agency = first_agency
            request.history.extend(history)
            return
        history.append(RequestHistory(action="forwarded", status=SUBMITTED, agency=service.agency, actor="official",
                                      note=forwarded_history_note(forwarded_from, ""), at=at))
    # Slow agencies answer in days, quick ones in hours; some requests are never touched.
    first = at + timedelta(hours=rng.lognormvariate(1.6, 1.0))
    if first >= now or rng.random() < 0.06:
        if rng.random() < 0.3 and (now - created) > timedelta(days=2):
            request.status = CANCELLED
            request.closed_at = created + timedelta(days=rng.uniform(1, 2))
            history.append(RequestHistory(action="cancelled", status=CANCELLED, agency=service.agency, actor="citizen", at=request.closed_at))
        request.history.extend(history)
        return
    request.touched_at = first
    request.status = RECEIVED
    history.append(RequestHistory(action="status", status=RECEIVED, agency=service.agency, actor="official", at=first))
    close = first + timedelta(hours=_hours(rng, service.duration_days))
    if close >= now:
        request.status = IN_PROGRESS if rng.random() < 0.7 else RECEIVED
        request.history.extend(history)
        return
    if rng.random() < 0.07:
        request.status = REJECTED
        request.closed_at = close
        history.append(RequestHistory(action="status", status=REJECTED, agency=service.agency, actor="official", at=close,
                                      note="ไม่อยู่ในอำนาจหน้าที่"))
        request.history.extend(history)
        return
    history.append(RequestHistory(action="status", status=COMPLETED, agency=service.agency, actor="official", at=close))
    request.status = COMPLETED
    request.closed_at = close
    if rng.random() < 0.08 and close + timedelta(days=1) < now:  # "ยังไม่เสร็จจริง": reopened, then completed again
        back = close + timedelta(hours=rng.uniform(4, 48))
        history.append(RequestHistory(action="reopened", status=IN_PROGRESS, agency=service.agency, actor="citizen", at=back))
        again = back + timedelta(hours=_hours(rng, service.duration_days))
        if again >= now:
            request.status = IN_PROGRESS
            request.closed_at = None
            request.history.extend(history)
            return
        history.append(RequestHistory(action="status", status=COMPLETED, agency=service.agency, actor="official", at=again))
        request.closed_at = again
    request.history.extend(history)
    if rng.random() < 0.55:
        score = rng.choices([5, 4, 3, 2, 1], [45, 30, 13, 7, 5])[0]
        session.add(ServiceRating(request_id=request.id, agency=service.agency, service=service.name, score=score,
                                  created_at=(request.closed_at or close) + timedelta(hours=2)))


def remove(session: Session) -> Seeded:
    """Delete every demo request (with its history and rating) and every demo obstacle report."""
    ids = list(session.scalars(select(DemoRequest.request_id)))
    for chunk in range(0, len(ids), 500):
        part = ids[chunk:chunk + 500]
        session.execute(delete(RequestHistory).where(RequestHistory.request_id.in_(part)))
        session.execute(delete(ServiceRating).where(ServiceRating.request_id.in_(part)))
        session.execute(delete(DemoRequest).where(DemoRequest.request_id.in_(part)))
        session.execute(delete(ServiceRequest).where(ServiceRequest.id.in_(part)))
    obstacles = session.execute(delete(ObstacleReport).where(ObstacleReport.demo.is_(True))).rowcount or 0
    session.flush()
    return Seeded(len(ids), obstacles)


def counts(session: Session) -> Seeded:
    return Seeded(session.scalar(select(func.count()).select_from(DemoRequest)) or 0,
                  session.scalar(select(func.count()).select_from(ObstacleReport).where(ObstacleReport.demo.is_(True))) or 0)

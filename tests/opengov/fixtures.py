"""Hand-built requests with exact timings, for figures checked against hand-computed values."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy.orm import Session

from common.thai_datetime import TZ
from storage.models.opengov import DemoRequest
from storage.models.services import COMPLETED, REJECTED, CANCELLED, RequestHistory, ServiceRating, ServiceRequest
from tests.clock import DAY

# START (tests/clock.py) is Tuesday 24 Nov 2026, 10:00 Bangkok; week A starts Monday 9 Nov, week B Monday 16 Nov.
WEEK_A = datetime.combine(DAY - timedelta(days=15), time(9, 0), TZ)
WEEK_B = datetime.combine(DAY - timedelta(days=8), time(9, 0), TZ)
_seq = {"n": 0}


def add(session: Session, agency: str, service: str, base: datetime, status: str = "submitted", *, first: float | None = None,
        close: float | None = None, rating: int | None = None, reopened: bool = False, forwarded_from: str | None = None,
        demo: bool = False, citizen: str | None = None) -> ServiceRequest:
    """One request filed at `base` (+ a minute per call); `first`/`close` are hours after filing."""
    _seq["n"] += 1
    created = base + timedelta(minutes=_seq["n"] % 50)
    r = ServiceRequest(citizen_key=citizen, channel="line", reply_to=None, service=service, agency=agency, status=status,
                       created_at=created, updated_at=created)
    session.add(r)
    session.flush()
    hist = [RequestHistory(action="created", status="submitted", agency=forwarded_from or agency, actor="citizen", at=created)]
    if forwarded_from:
        hist.append(RequestHistory(action="forwarded", status="submitted", agency=agency, actor="official", at=created + timedelta(minutes=30)))
    if first is not None:
        hist.append(RequestHistory(action="status", status="received", agency=agency, actor="official", at=created + timedelta(hours=first)))
    if close is not None:
        if reopened:
            hist.append(RequestHistory(action="status", status=COMPLETED, agency=agency, actor="official", at=created + timedelta(hours=close / 2)))
            hist.append(RequestHistory(action="reopened", status="in_progress", agency=agency, actor="citizen", at=created + timedelta(hours=close / 2 + 1)))
        final = status if status in (COMPLETED, REJECTED, CANCELLED) else COMPLETED
        hist.append(RequestHistory(action="status" if final != CANCELLED else "cancelled", status=final, agency=agency,
                                   actor="official" if final != CANCELLED else "citizen", at=created + timedelta(hours=close)))
        r.closed_at = created + timedelta(hours=close)
    r.history.extend(hist)
    if rating is not None:
        session.add(ServiceRating(request_id=r.id, agency=agency, service=service, score=rating))
    if demo:
        session.add(DemoRequest(request_id=r.id, batch="test"))
    session.flush()
    return r


LAND, REVENUE, PEA = "กรมที่ดิน", "กรมสรรพากร", "การไฟฟ้าส่วนภูมิภาค"
TRANSFER, SURVEY, COPY, INCOME, OUTAGE = "จดทะเบียนโอนที่ดิน", "รังวัดที่ดิน", "ขอคัดสำเนาโฉนด", "ภาษีเงินได้บุคคลธรรมดา", "ไฟฟ้าดับ"


def fixture(session: Session) -> None:
    """The data set of tests/opengov/test_stats.py (hand-computed figures in its docstring)."""
    for first, close, rating, reopened in zip([2, 4, 6, 8, 10], [10, 20, 30, 40, 50], [5, 4, 4, 3, 5], [False, False, True, False, False]):
        add(session, LAND, TRANSFER, WEEK_A, COMPLETED, first=first, close=close, rating=rating, reopened=reopened, forwarded_from=REVENUE)
    add(session, LAND, TRANSFER, WEEK_A, "in_progress", first=12, forwarded_from=REVENUE)
    add(session, LAND, SURVEY, WEEK_A)
    add(session, LAND, SURVEY, WEEK_A)
    add(session, LAND, COPY, WEEK_A, REJECTED, first=5, close=5)
    add(session, LAND, COPY, WEEK_A, CANCELLED, close=3)
    add(session, LAND, COPY, WEEK_A)
    for close, rating in zip([24, 24, 48, 48, 72], [2, 3, None, None, None]):
        add(session, REVENUE, INCOME, WEEK_A, COMPLETED, first=1, close=close, rating=rating)
    for _ in range(4):
        add(session, PEA, OUTAGE, WEEK_A, COMPLETED, first=1, close=2, rating=1)
    for _ in range(3):
        add(session, LAND, TRANSFER, WEEK_B)
    for _ in range(2):
        add(session, REVENUE, INCOME, WEEK_B, COMPLETED, first=1, close=5)
    for _ in range(7):
        add(session, LAND, TRANSFER, WEEK_B, COMPLETED, first=1, close=1, rating=5, demo=True)
